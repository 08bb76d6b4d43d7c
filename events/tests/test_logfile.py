"""The log cursor: restarts, rotation (rename + new file), truncation, partial and overlong lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kompose_events.errors import EventsError
from kompose_events.sources.logfile import FileCursor, LogFile, digest, resume, split_lines


def _append(path: Path, text: str) -> None:
    with open(path, "ab") as handle:
        handle.write(text.encode("utf-8"))


def _texts(result) -> list[str]:
    return [line.text for line in result.lines]


def test_first_read_starts_at_zero_and_records_inode(tmp_path: Path) -> None:
    log = tmp_path / "vaultwarden.log"
    _append(log, "one\ntwo\n")
    result = LogFile(str(log)).read(FileCursor())
    assert _texts(result) == ["one", "two"]
    assert [line.offset for line in result.lines] == [0, 4]
    assert result.cursor == FileCursor(os.stat(log).st_ino, 8, digest(b"one\ntwo\n"), 8)
    assert result.note == "started" and result.backlog_bytes == 0


def test_a_partial_line_waits_for_its_end(tmp_path: Path) -> None:
    log = tmp_path / "vaultwarden.log"
    _append(log, "one\ntw")
    tail = LogFile(str(log))
    first = tail.read(FileCursor())
    assert _texts(first) == ["one"] and first.cursor.offset == 4 and first.backlog_bytes == 2
    _append(log, "o\n")
    second = tail.read(first.cursor)
    assert _texts(second) == ["two"] and second.cursor.offset == 8


def test_cursor_survives_a_restart_as_plain_data(tmp_path: Path) -> None:
    log = tmp_path / "vaultwarden.log"
    _append(log, "one\n")
    cursor = LogFile(str(log)).read(FileCursor()).cursor
    stored = json.dumps(cursor.to_dict())  # what a cursor store keeps
    assert json.loads(stored) == {"inode": cursor.inode, "offset": 4, "head": digest(b"one\n"), "head_len": 4}
    _append(log, "two\n")
    # a new process, a new LogFile, the stored cursor
    result = LogFile(str(log)).read(FileCursor.from_dict(json.loads(stored)))
    assert _texts(result) == ["two"] and result.note == "continued"


def test_rotation_drains_the_old_file_then_starts_the_new_one(tmp_path: Path) -> None:
    log = tmp_path / "vaultwarden.log"
    _append(log, "old-1\n")
    tail = LogFile(str(log))
    cursor = tail.read(FileCursor()).cursor
    _append(log, "old-2\n")  # written after the last read, before the rotation
    os.rename(log, tmp_path / "vaultwarden.log.1")  # logrotate; Vaultwarden reopens on SIGHUP
    _append(log, "new-1\n")
    drained = tail.read(cursor)
    assert _texts(drained) == ["old-2"] and drained.note == "draining rotated file"
    new = tail.read(drained.cursor)
    assert _texts(new) == ["new-1"] and new.note == "rotated"
    assert (new.cursor.inode, new.cursor.offset) == (os.stat(log).st_ino, 6)
    assert _texts(tail.read(new.cursor)) == []


def test_a_deleted_and_recreated_file_is_read_from_zero(tmp_path: Path) -> None:
    log = tmp_path / "vaultwarden.log"
    _append(log, "old-1\n")
    cursor = LogFile(str(log)).read(FileCursor()).cursor
    os.remove(log)
    _append(log, "new-1\nnew-2\n")
    result = LogFile(str(log), rotated=[]).read(cursor)
    assert _texts(result) == ["new-1", "new-2"]
    # a new inode ("rotated"), or the freed inode reused by the file system: its head differs
    assert result.note == ("replaced" if os.stat(log).st_ino == cursor.inode else "rotated")


def test_truncated_then_grown_past_the_offset_is_read_from_zero(tmp_path: Path) -> None:
    log = tmp_path / "vaultwarden.log"
    _append(log, "[2026-12-07 10:00:00.001] first\n")
    tail = LogFile(str(log))
    cursor = tail.read(FileCursor()).cursor
    with open(log, "r+b") as handle:  # copytruncate, then more was written than before
        handle.truncate(0)
    _append(log, "[2026-12-07 11:00:00.002] second, longer than the first line\n")
    result = tail.read(cursor)
    assert result.note == "replaced"
    assert _texts(result) == ["[2026-12-07 11:00:00.002] second, longer than the first line"]


def test_truncation_restarts_at_zero(tmp_path: Path) -> None:
    log = tmp_path / "vaultwarden.log"
    _append(log, "a long first line\nanother line\n")
    tail = LogFile(str(log))
    cursor = tail.read(FileCursor()).cursor
    with open(log, "r+b") as handle:  # copytruncate keeps the inode
        handle.truncate(0)
    _append(log, "after\n")
    result = tail.read(cursor)
    assert _texts(result) == ["after"] and result.note == "truncated"
    assert result.cursor == FileCursor(cursor.inode, 6, digest(b"after\n"), 6)


def test_missing_file_keeps_the_cursor(tmp_path: Path) -> None:
    cursor = FileCursor(42, 100)
    result = LogFile(str(tmp_path / "absent.log")).read(cursor)
    assert result.lines == [] and result.cursor == cursor and result.note == "missing"


def test_an_overlong_line_does_not_stall_the_source(tmp_path: Path) -> None:
    log = tmp_path / "vaultwarden.log"
    _append(log, "x" * 100)  # no newline, longer than the read limit
    result = LogFile(str(log), max_bytes=64).read(FileCursor())
    assert len(result.lines) == 1 and result.cursor.offset == 64


def test_reads_are_limited_and_resume(tmp_path: Path) -> None:
    log = tmp_path / "vaultwarden.log"
    _append(log, "".join(f"line {n:02d}\n" for n in range(10)))  # 8 bytes each
    tail = LogFile(str(log), max_bytes=20)
    seen: list[str] = []
    cursor = FileCursor()
    for _read in range(10):
        result = tail.read(cursor)
        seen += _texts(result)
        cursor = result.cursor
    assert seen == [f"line {n:02d}" for n in range(10)]


def test_resume_decisions() -> None:
    head = b"[2026-12-07 10:00:00.123][vaultwarden::api::identity]"
    cursor = FileCursor(7, 20, digest(head), len(head))
    assert resume(FileCursor(), 7, 50) == (0, "started")
    assert resume(cursor, 7, 50, head) == (20, "continued")
    assert resume(cursor, 7, 20, head) == (20, "continued")
    assert resume(cursor, 8, 50, head) == (0, "rotated")
    assert resume(cursor, 7, 10, head[:10]) == (0, "truncated")
    assert resume(cursor, 7, 50, head.replace(b"10:00", b"11:00")) == (0, "replaced")
    # a cursor stored without a head (older state) relies on inode and size alone
    assert resume(FileCursor(7, 20), 7, 50) == (20, "continued")


def test_split_lines_keeps_crlf_in_raw_and_strips_it_in_text() -> None:
    lines, consumed = split_lines(b"a\r\nb\nc", 100, full=False)
    assert [(line.offset, line.raw, line.text) for line in lines] == [(100, b"a\r\n", "a"), (103, b"b\n", "b")]
    assert consumed == 5


@pytest.mark.parametrize(
    "data, message",
    [
        ([1, 2], "cursor: [1, 2] is not a mapping with inode and offset"),
        ({"inode": "7", "offset": 0}, 'cursor.inode: "7" is not an inode number or null'),
        ({"inode": 7, "offset": -1}, "cursor.offset: -1 is not a byte offset (an integer >= 0)"),
        ({"inode": 7, "offset": True}, "cursor.offset: true is not a byte offset (an integer >= 0)"),
        ({"inode": 7, "offset": 0, "head": 5}, "cursor.head: 5 is not a digest or null"),
        ({"inode": 7, "offset": 0, "head_len": 999}, "cursor.head_len: 999 is not a length from 0 to 256"),
    ],
)
def test_bad_stored_cursor(data: object, message: str) -> None:
    with pytest.raises(EventsError) as caught:
        FileCursor.from_dict(data)
    assert str(caught.value) == message
