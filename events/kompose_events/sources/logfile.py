"""Following a log file with a cursor that survives restarts, rotation and truncation.

The cursor is plain data - ``{"inode", "offset", "head", "head_len"}`` - so a cursor store
(memory, Redis) can persist it next to the source's other state and a restarted engine resumes
exactly where it stopped:

- same file (same inode, and its first bytes unchanged): continue at the offset;
- another inode at the path (rotation: the file was renamed and a new one created): first drain
  the old file if it is still found under one of the ``rotated`` names (``vaultwarden.log.1``),
  then start the new file at 0;
- same inode but shorter than the offset (``copytruncate``): start again at 0. What was written
  between the last read and the truncation is lost; that is inherent to copytruncate.

The inode alone is not enough: a file system reuses the inode of a deleted file (a log removed
and created again, a rotated file compressed away while the reader lagged), and a truncated file
can grow past the old offset before the next read. Both would make the reader continue in the
middle of unrelated lines. So the cursor also keeps ``head``, a digest of the file's first
``head_len`` bytes (up to 256): if they changed, it is another file, read from 0.

Only complete lines (ending in ``\\n``) are consumed, so a line being written is read whole on the
next call. A "line" longer than ``max_bytes`` without a newline is consumed as it is, so one
absurd line cannot stall the source.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ..errors import EventsError, show

HEAD_BYTES = 256


@dataclass(frozen=True)
class FileCursor:
    """Where reading resumes: the file (inode, digest of its head) and the offset after the last line."""

    inode: int | None = None
    offset: int = 0
    head: str | None = None
    head_len: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a cursor store."""
        return {"inode": self.inode, "offset": self.offset, "head": self.head, "head_len": self.head_len}

    @classmethod
    def from_dict(cls, data: Any) -> FileCursor:
        """Read a stored cursor back; an error names the key and the value."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise EventsError(f"cursor: {show(data)} is not a mapping with inode and offset")
        inode, offset = data.get("inode"), data.get("offset", 0)
        head, head_len = data.get("head"), data.get("head_len", 0)
        if inode is not None and (isinstance(inode, bool) or not isinstance(inode, int) or inode < 0):
            raise EventsError(f"cursor.inode: {show(inode)} is not an inode number or null")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise EventsError(f"cursor.offset: {show(offset)} is not a byte offset (an integer >= 0)")
        if head is not None and not isinstance(head, str):
            raise EventsError(f"cursor.head: {show(head)} is not a digest or null")
        if isinstance(head_len, bool) or not isinstance(head_len, int) or not 0 <= head_len <= HEAD_BYTES:
            raise EventsError(f"cursor.head_len: {show(head_len)} is not a length from 0 to {HEAD_BYTES}")
        return cls(inode, offset, head, head_len)


@dataclass(frozen=True)
class Line:
    """One consumed line: where it started in its file, its bytes and its text (no newline)."""

    offset: int
    raw: bytes

    @property
    def text(self) -> str:
        """The line decoded as UTF-8 (invalid bytes replaced), without the line ending."""
        return self.raw.decode("utf-8", "replace").rstrip("\r\n")


@dataclass(frozen=True)
class ReadResult:
    """What one read returned: the lines, the cursor after them, what happened, what is left."""

    lines: list[Line] = field(default_factory=list)
    cursor: FileCursor = FileCursor()
    # "started" (first read), "continued", "rotated", "truncated", "replaced",
    # "draining rotated file", "missing"
    note: str = "continued"
    backlog_bytes: int = 0


def digest(data: bytes) -> str:
    """The digest kept as a cursor's ``head``."""
    return hashlib.sha256(data).hexdigest()[:32]


def resume(cursor: FileCursor, inode: int, size: int, head: bytes = b"") -> tuple[int, str]:
    """The offset to read a file at, given the stored cursor, and why.

    ``inode``, ``size``: the file's; ``head``: its first ``cursor.head_len`` bytes.
    """
    if cursor.inode is None:
        return 0, "started"
    if cursor.inode != inode:
        return 0, "rotated"
    if size < cursor.offset:
        return 0, "truncated"
    if cursor.head is not None and (len(head) < cursor.head_len or digest(head[: cursor.head_len]) != cursor.head):
        return 0, "replaced"
    return cursor.offset, "continued"


def split_lines(chunk: bytes, start: int, full: bool) -> tuple[list[Line], int]:
    """Complete lines in ``chunk`` (read at ``start``) and the bytes they span.

    ``full``: the chunk filled the read limit; a chunk without any newline is then one overlong
    line, consumed whole rather than waited for forever.
    """
    lines: list[Line] = []
    position = 0
    while True:
        end = chunk.find(b"\n", position)
        if end < 0:
            break
        lines.append(Line(start + position, chunk[position:end + 1]))
        position = end + 1
    if not lines and full and chunk:
        return [Line(start, chunk)], len(chunk)
    return lines, position


class LogFile:
    """A log file at ``path``; ``read(cursor)`` returns the new complete lines and the next cursor."""

    def __init__(self, path: str, rotated: Sequence[str] | None = None, max_bytes: int = 1024 * 1024) -> None:
        self.path = path
        self.rotated = list(rotated) if rotated is not None else [f"{path}.1"]
        self.max_bytes = max_bytes

    def read(self, cursor: FileCursor) -> ReadResult:
        """Read at most ``max_bytes`` of complete lines after ``cursor``."""
        try:
            with open(self.path, "rb") as handle:
                # fstat of the open file: inode and size belong to what is read, even if the
                # file is rotated between the open and the read
                info = os.fstat(handle.fileno())
                if cursor.inode is not None and cursor.inode != info.st_ino:
                    drained = self._drain_rotated(cursor)
                    if drained is not None:
                        return drained
                offset, note = resume(cursor, info.st_ino, info.st_size, _head(handle, cursor.head_len))
                return self._read_from(handle, info.st_ino, offset, info.st_size, note)
        except FileNotFoundError:
            return ReadResult([], cursor, "missing", 0)

    def _drain_rotated(self, cursor: FileCursor) -> ReadResult | None:
        """Unread complete lines of the rotated file that is the cursor's file, if it is found."""
        for candidate in self.rotated:
            try:
                with open(candidate, "rb") as handle:
                    info = os.fstat(handle.fileno())
                    if info.st_ino != cursor.inode:
                        continue
                    offset, note = resume(cursor, info.st_ino, info.st_size, _head(handle, cursor.head_len))
                    if note != "continued" or info.st_size <= offset:
                        return None
                    result = self._read_from(handle, info.st_ino, offset, info.st_size, "draining rotated file")
                    return result if result.lines else None
            except FileNotFoundError:
                continue
        return None

    def _read_from(self, handle: BinaryIO, inode: int, offset: int, size: int, note: str) -> ReadResult:
        head = _head(handle, min(size, HEAD_BYTES))
        handle.seek(offset)
        chunk = handle.read(self.max_bytes)
        lines, consumed = split_lines(chunk, offset, len(chunk) >= self.max_bytes)
        after = FileCursor(inode, offset + consumed, digest(head), len(head))
        return ReadResult(lines, after, note, max(0, size - after.offset))


def _head(handle: BinaryIO, length: int) -> bytes:
    handle.seek(0)
    return handle.read(length)
