"""Vaultwarden's log lines (1.37 formats) into kompose/vault/security/failed, with counts and cursor."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kompose_events import envelope
from kompose_events.delivery import MemoryCursorStore
from kompose_events.errors import EventsError
from kompose_events.sources.logfile import Line, LogFile
from kompose_events.sources.vaultwarden import (
    AttemptWindow,
    Failure,
    VaultwardenSource,
    natural_key,
    parse_line,
    parse_timestamp,
    unreadable,
)

UTC = timezone.utc

# As Vaultwarden 1.37.2 logs them with EXTENDED_LOGGING=true and the default LOG_TIMESTAMP_FORMAT
PASSWORD = (
    "[2026-12-07 10:00:00.123][vaultwarden::api::identity][ERROR] Username or password is incorrect. "
    "Try again. IP: 172.16.0.5. Username: eve@example.org."
)
ACCESS_CODE = (
    "[2026-12-07 10:00:01.002][vaultwarden::api::identity][ERROR] Username or access code is incorrect. "
    "Try again. IP: 172.16.0.5. Username: eve@example.org."
)
TOTP = (
    "[2026-12-07 10:00:02.500][vaultwarden::api::core::two_factor::authenticator][ERROR] Invalid TOTP code! "
    "Server time: 2026-12-07 10:00:02 UTC IP: 2001:db8::7"
)
API_KEY = (
    "[2026-12-07 10:00:03.000][vaultwarden::api::identity][ERROR] Incorrect client_secret. "
    "IP: 10.0.0.9. Username: ci@example.org."
)
ORG_API_KEY = (
    "[2026-12-07 10:00:04.000][vaultwarden::api::identity][ERROR] Incorrect client_secret. "
    "IP: 10.0.0.9. Organization: 6f1c9a8e-1d2b-4c3d-9e8f-0a1b2c3d4e5f."
)
ADMIN_TOKEN = "[2026-12-07 10:00:05.000][vaultwarden::api::admin][ERROR] Invalid admin token. IP: ::1"

# Lines of the same log that are not failed authentications (or not ones the mtail counter counts)
OTHER_LINES = [
    "[2026-12-07 10:00:00.120][request][INFO] POST /identity/connect/token",
    "[2026-12-07 10:00:00.124][response][INFO] (login) POST /identity/connect/token => 400 Bad Request",
    "[2026-12-07 10:00:06.000][vaultwarden::api::identity][INFO] User eve@example.org logged in successfully. IP: 172.16.0.5",
    "[2026-12-07 10:00:07.000][vaultwarden::api::identity][ERROR] This user has been disabled. IP: 172.16.0.5. Username: eve@example.org.",
    "[2026-12-07 10:00:08.000][vaultwarden::api::core::two_factor::email][ERROR] Token is invalid! IP: 172.16.0.5",
    "[2026-12-07 10:00:09.000][vaultwarden::api::identity][WARN] Username or password is incorrect. Try again. IP: 172.16.0.5. Username: eve@example.org.",
    "[2026-12-07 10:00:10.000][error][ERROR] Username or password is incorrect. Try again. IP: 172.16.0.5. Username: eve@example.org.",
    "[2026-12-07 10:00:11.000][vaultwarden::api::admin][ERROR] Invalid or expired admin JWT. IP: 172.16.0.5.",
    "Username or password is incorrect. Try again. IP: 172.16.0.5. Username: eve@example.org.",  # no EXTENDED_LOGGING
    "",
]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "line, expected",
    [
        (PASSWORD, Failure("password", "eve@example.org", "172.16.0.5", _at("2026-12-07T10:00:00.123"), "vaultwarden::api::identity")),
        (ACCESS_CODE, Failure("access_code", "eve@example.org", "172.16.0.5", _at("2026-12-07T10:00:01.002"), "vaultwarden::api::identity")),
        (
            TOTP,
            Failure("totp", None, "2001:db8::7", _at("2026-12-07T10:00:02.500"), "vaultwarden::api::core::two_factor::authenticator"),
        ),
        (API_KEY, Failure("api_key", "ci@example.org", "10.0.0.9", _at("2026-12-07T10:00:03"), "vaultwarden::api::identity")),
        (ORG_API_KEY, Failure("api_key", None, "10.0.0.9", _at("2026-12-07T10:00:04"), "vaultwarden::api::identity")),
        (ADMIN_TOKEN, Failure("admin_token", None, "::1", _at("2026-12-07T10:00:05"), "vaultwarden::api::admin")),
        # older releases and some guides end the admin line with a full stop
        (ADMIN_TOKEN + ".", Failure("admin_token", None, "::1", _at("2026-12-07T10:00:05"), "vaultwarden::api::admin")),
        # LOG_TIMESTAMP_FORMAT with %z (as CrowdSec's Vaultwarden parser recommends)
        (
            "[2024-03-02 17:38:19.023-0700][vaultwarden::api::identity][ERROR] Username or password is incorrect. "
            "Try again. IP: 192.168.1.2. Username: blah@gmail.com.",
            Failure("password", "blah@gmail.com", "192.168.1.2", _at("2024-03-03T00:38:19.023"), "vaultwarden::api::identity"),
        ),
        # a Windows line ending
        (PASSWORD + "\r\n", Failure("password", "eve@example.org", "172.16.0.5", _at("2026-12-07T10:00:00.123"), "vaultwarden::api::identity")),
    ],
)
def test_failed_authentications_are_read(line: str, expected: Failure) -> None:
    assert parse_line(line) == expected


@pytest.mark.parametrize("line", OTHER_LINES)
def test_other_lines_are_ignored(line: str) -> None:
    assert parse_line(line) is None
    assert not unreadable(line)


def test_the_user_name_cannot_fake_the_address() -> None:
    line = (
        "[2026-12-07 10:00:00.123][vaultwarden::api::identity][ERROR] Username or password is incorrect. "
        "Try again. IP: 172.16.0.5. Username: x. IP: 6.6.6.6. Username: admin@example.org."
    )
    failure = parse_line(line)
    assert failure is not None
    assert failure.ip == "172.16.0.5"
    assert failure.email == "x. IP: 6.6.6.6. Username: admin@example.org"


@pytest.mark.parametrize(
    "line",
    [
        # a LOG_TIMESTAMP_FORMAT the source does not read
        "[Mon Dec  7 10:00:00 2026][vaultwarden::api::identity][ERROR] Username or password is incorrect. "
        "Try again. IP: 172.16.0.5. Username: eve@example.org.",
        "[2026-12-07 10:00:00.123][vaultwarden::api::identity][ERROR] Username or password is incorrect. "
        "Try again. IP: not-an-address. Username: eve@example.org.",
    ],
)
def test_a_failure_that_cannot_be_read_is_counted_apart(line: str) -> None:
    assert parse_line(line) is None
    assert unreadable(line)


def test_timestamps() -> None:
    assert parse_timestamp("2026-12-07 10:00:00.123") == _at("2026-12-07T10:00:00.123")
    assert parse_timestamp("2026-12-07 10:00:00") == _at("2026-12-07T10:00:00")
    assert parse_timestamp("2026-12-07 11:00:00.123+01:00") == _at("2026-12-07T10:00:00.123")
    assert parse_timestamp("2026-12-07T10:00:00.123Z") == _at("2026-12-07T10:00:00.123")
    # without an offset the time is the container's local time (TZ), UTC unless configured
    berlin = timezone(timedelta(hours=1))
    assert parse_timestamp("2026-12-07 11:00:00.000", berlin) == _at("2026-12-07T10:00:00")
    assert parse_timestamp("2026-13-07 10:00:00") is None
    assert parse_timestamp("yesterday") is None


def _lines(*texts: str, start: int = 0) -> list[Line]:
    lines, offset = [], start
    for text in texts:
        raw = (text + "\n").encode("utf-8")
        lines.append(Line(offset, raw))
        offset += len(raw)
    return lines


def _failure_at(second: int, ip: str = "172.16.0.5", email: str = "eve@example.org") -> str:
    minute, sec = divmod(second, 60)
    return (
        f"[2026-12-07 10:{minute:02d}:{sec:02d}.000][vaultwarden::api::identity][ERROR] Username or password is "
        f"incorrect. Try again. IP: {ip}. Username: {email}."
    )


def test_event_payload_and_envelope() -> None:
    source = VaultwardenSource(threshold=3, window_seconds=60)
    lines = _lines(PASSWORD)
    events, ignored, bad = source.events(lines, AttemptWindow(60))
    assert (ignored, bad) == (0, 0)
    [event] = events
    assert event.topic == "kompose/vault/security/failed"
    assert event.source == "vaultwarden"
    assert event.time == "2026-12-07T10:00:00.123Z"  # the log's time, not the reading's
    assert event.data == {"reason": "password", "email": "eve@example.org", "ip": "172.16.0.5", "attempts": 1, "locked": False}
    assert event.id == envelope.event_id("vaultwarden", natural_key(lines[0]))


def test_attempts_count_per_email_and_lock_at_the_threshold() -> None:
    source = VaultwardenSource(threshold=3, window_seconds=60)
    lines = _lines(
        _failure_at(0),
        _failure_at(10, ip="10.9.9.9"),  # same e-mail from elsewhere: counted together
        _failure_at(20, email="EVE@example.org"),  # Vaultwarden's e-mails are case-insensitive
        _failure_at(25, email="bob@example.org"),  # another user
        _failure_at(30),
    )
    events = source.events(lines, AttemptWindow(60))[0]
    assert [(e.data["email"], e.data["attempts"], e.data["locked"]) for e in events] == [
        ("eve@example.org", 1, False),
        ("eve@example.org", 2, False),
        ("EVE@example.org", 3, True),
        ("bob@example.org", 1, False),
        ("eve@example.org", 4, True),
    ]


def test_lines_without_email_count_per_address() -> None:
    source = VaultwardenSource(threshold=2, window_seconds=60)
    lines = _lines(ADMIN_TOKEN, TOTP, ADMIN_TOKEN.replace("10:00:05", "10:00:06"))
    events = source.events(lines, AttemptWindow(60))[0]
    assert [(e.data["reason"], e.data["ip"], e.data["attempts"], e.data["locked"]) for e in events] == [
        ("admin_token", "::1", 1, False),
        ("totp", "2001:db8::7", 1, False),
        ("admin_token", "::1", 2, True),
    ]


def test_the_window_slides_on_log_time() -> None:
    source = VaultwardenSource(threshold=3, window_seconds=60)
    lines = _lines(_failure_at(0), _failure_at(30), _failure_at(61), _failure_at(95))
    events = source.events(lines, AttemptWindow(60))[0]
    # at 61 s the failure at 0 s has left the window; at 95 s the one at 30 s too
    assert [e.data["attempts"] for e in events] == [1, 2, 2, 2]


def test_out_of_order_lines_still_count() -> None:
    window = AttemptWindow(60)
    assert window.add("email:eve", 100.0) == 1
    assert window.add("email:eve", 99.0) == 2  # logged a moment earlier, written later
    assert window.add("email:eve", 170.0) == 1  # both older than 60 s now


def test_the_window_forgets_quiet_keys() -> None:
    window = AttemptWindow(60)
    window.add("email:a", 0.0)
    window.add("email:b", 10.0)
    window.add("email:c", 200.0)
    assert window.to_dict()["entries"] == {"email:c": [200.0]}


def _write(path: Path, *texts: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        for text in texts:
            handle.write(text + "\n")


def test_poll_from_the_log_file_with_a_restart(tmp_path: Path) -> None:
    log = tmp_path / "vaultwarden.log"
    store = MemoryCursorStore()
    source = VaultwardenSource(threshold=3, window_seconds=300)
    _write(log, OTHER_LINES[0], _failure_at(0), OTHER_LINES[1], _failure_at(5))
    first = source.poll(LogFile(str(log)), store.load("vaultwarden"))
    assert [e.data["attempts"] for e in first.events] == [1, 2]
    assert (first.lines, first.ignored, first.unreadable, first.backlog_bytes) == (4, 2, 0, 0)
    assert first.last_time == _at("2026-12-07T10:00:05")
    store.save("vaultwarden", first.state)  # after publishing

    # the engine restarts: a new source object, the stored state; the count goes on
    _write(log, _failure_at(9))
    second = VaultwardenSource(threshold=3, window_seconds=300).poll(LogFile(str(log)), store.load("vaultwarden"))
    assert [(e.data["attempts"], e.data["locked"]) for e in second.events] == [(3, True)]
    assert not {e.id for e in second.events} & {e.id for e in first.events}


def test_a_crash_before_the_state_is_saved_replays_identical_events(tmp_path: Path) -> None:
    log = tmp_path / "vaultwarden.log"
    source = VaultwardenSource(threshold=2, window_seconds=300)
    _write(log, _failure_at(0))
    saved = source.poll(LogFile(str(log)), None).state
    _write(log, _failure_at(1), ADMIN_TOKEN, _failure_at(2))
    published = source.poll(LogFile(str(log)), saved)  # published, then the engine dies: state not saved
    replayed = source.poll(LogFile(str(log)), json.loads(json.dumps(saved)))
    assert [e.encode() for e in replayed.events] == [e.encode() for e in published.events]
    assert len(published.events) == 3


def test_identical_lines_get_different_ids_and_rereads_the_same() -> None:
    # Vaultwarden can log the same failure twice in one millisecond: two facts, two ids
    lines = _lines(PASSWORD, PASSWORD)
    assert natural_key(lines[0]) != natural_key(lines[1])
    assert natural_key(lines[0]) == natural_key(Line(0, (PASSWORD + "\n").encode()))
    # a line at the same offset of a new file is another fact
    assert natural_key(Line(0, (ACCESS_CODE + "\n").encode())) != natural_key(lines[0])


def test_state_is_plain_json(tmp_path: Path) -> None:
    log = tmp_path / "vaultwarden.log"
    _write(log, _failure_at(0))
    state = VaultwardenSource().poll(LogFile(str(log)), None).state
    assert json.loads(json.dumps(state)) == state
    assert set(state) == {"cursor", "window"}
    assert state["window"]["entries"] == {"email:eve@example.org": [_at("2026-12-07T10:00:00").timestamp()]}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"threshold": 0}, "threshold: 0 is not a whole number >= 1"),
        ({"threshold": True}, "threshold: true is not a whole number >= 1"),
        ({"window_seconds": 0}, "window_seconds: 0 is not a number of seconds > 0"),
    ],
)
def test_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(EventsError) as caught:
        VaultwardenSource(**kwargs)
    assert str(caught.value) == message


def test_bad_stored_window() -> None:
    with pytest.raises(EventsError) as caught:
        AttemptWindow.from_dict(60, {"entries": {"email:eve": "soon"}})
    assert str(caught.value) == 'window.entries.email:eve: "soon" is not a list of times'
