"""Vaultwarden's failed authentications, from its log file, as ``kompose/vault/security/failed``.

Vaultwarden has no events API and no webhooks; it logs. With ``EXTENDED_LOGGING=true`` (the vault
stack sets it, together with ``LOG_FILE``) each line reads ``[<time>][<target>][<LEVEL>] <message>``
(``src/main.rs``: fern's format with ``LOG_TIMESTAMP_FORMAT``, default ``%Y-%m-%d %H:%M:%S.%3f``,
in the container's local time). A failed authentication is an ERROR line of one of the
``vaultwarden::api::...`` modules whose message starts as in ``MESSAGES`` - the same five reasons
the vault stack's mtail program counts as ``failed_logins_total`` (checked against the source of
Vaultwarden 1.37.2: ``src/api/identity.rs``, ``src/api/admin.rs``,
``src/api/core/two_factor/authenticator.rs``; ``err!(usr_msg, log_value)`` logs
``"{usr_msg}. {log_value}"`` from the calling module).

Vaultwarden logs neither a count nor a lock, so the source derives them: it counts the failures of
the same e-mail (or, for lines without one, the same IP address) within a sliding window of
``window_seconds`` of *log time* and sets ``locked`` once the count reaches ``threshold``. Using the
log's own times (not the clock when the line is read) makes the result a function of the log
alone: re-reading lines after a restart yields the same events with the same ids.

State: ``{"cursor": {...}, "window": {...}}`` (``logfile.FileCursor``, ``AttemptWindow``), plain
data; persist it *after* the events of a read are published. After a crash in between, the same
lines are read again from the old state and produce identical events (same ids), which consumers
drop as duplicates.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from .. import envelope
from ..envelope import Envelope
from ..errors import EventsError, show
from ..times import parse_time
from .logfile import FileCursor, Line, LogFile

TOPIC = "kompose/vault/security/failed"

# "[<time>][vaultwarden::api::<module>][ERROR] <message>"
LINE = re.compile(r"^\[(?P<time>[^\]]+)\]\[(?P<module>vaultwarden::api::[a-z0-9_:]+)\]\[ERROR\] (?P<message>.*)$")

# The messages of a failed authentication, by reason. The user name (chosen by the client) comes
# only after the address, so it cannot fake a reason or an address on the same line. (A user name
# with a line break in it can forge a whole line; Vaultwarden does not escape it. That holds for
# every reader of this log - mtail, fail2ban - and is why "locked" is a hint, not a verdict.)
MESSAGES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # identity.rs, password login: unknown user or wrong master password
    (
        "password",
        re.compile(r"^Username or password is incorrect\. Try again\. IP: (?P<ip>\S+?)\. Username: (?P<email>.*)\.$"),
    ),
    # identity.rs, login with a device's approval: wrong or expired access code
    (
        "access_code",
        re.compile(
            r"^Username or access code is incorrect\. Try again\. IP: (?P<ip>\S+?)\. Username: (?P<email>.*)\.$"
        ),
    ),
    # two_factor/authenticator.rs: wrong TOTP code (no user name on the line)
    ("totp", re.compile(r"^Invalid TOTP code! Server time: .* IP: (?P<ip>\S+?)$")),
    # identity.rs, personal API key (Username) or organization API key (Organization: <uuid>)
    (
        "api_key",
        re.compile(r"^Incorrect client_secret\. IP: (?P<ip>\S+?)\. (?:Username: (?P<email>.*)|Organization: \S+)\.$"),
    ),
    # admin.rs: wrong admin token (no user name; no trailing full stop in 1.37)
    ("admin_token", re.compile(r"^Invalid admin token\. IP: (?P<ip>\S+?)\.?$")),
)

# LOG_TIMESTAMP_FORMAT's default, optionally with %z (a format some guides recommend)
TIMESTAMP = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[ T](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?"
    r"\s*(?P<zone>Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True)
class Failure:
    """One failed authentication as read from a line."""

    reason: str
    email: str | None
    ip: str
    logged_at: datetime
    module: str


def parse_timestamp(text: str, local: tzinfo = timezone.utc) -> datetime | None:
    """The line's time as aware UTC; a time without offset is in ``local`` (the container's TZ)."""
    found = TIMESTAMP.match(text.strip())
    if not found:
        return None
    frac = (found.group("frac") or "0")[:6].ljust(6, "0")
    try:
        moment = datetime.fromisoformat(f"{found.group('date')}T{found.group('time')}.{frac}")
    except ValueError:
        return None
    zone = found.group("zone")
    if zone is None:
        moment = moment.replace(tzinfo=local)
    elif zone == "Z":
        moment = moment.replace(tzinfo=timezone.utc)
    else:
        digits = zone.replace(":", "")
        sign = -1 if digits[0] == "-" else 1
        offset = timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5]))
        moment = moment.replace(tzinfo=timezone(sign * offset))
    return moment.astimezone(timezone.utc)


def parse_line(text: str, local: tzinfo = timezone.utc) -> Failure | None:
    """The failure a log line reports, or None for every other line (see ``unreadable``)."""
    found = _match(text)
    if found is None:
        return None
    reason, line, message = found
    address = message.group("ip")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    logged_at = parse_timestamp(line.group("time"), local)
    if logged_at is None:
        return None
    email = message.groupdict().get("email")
    return Failure(reason, email if email else None, address, logged_at, line.group("module"))


def unreadable(text: str, local: tzinfo = timezone.utc) -> bool:
    """A failure's message whose time or address cannot be read (e.g. a custom LOG_TIMESTAMP_FORMAT).

    Such lines are counted apart from the ignored ones, so a format change shows in the metrics
    instead of silently hiding failed logins.
    """
    return _match(text) is not None and parse_line(text, local) is None


def _match(text: str) -> tuple[str, re.Match[str], re.Match[str]] | None:
    line = LINE.match(text.rstrip("\r\n"))
    if not line:
        return None
    for reason, pattern in MESSAGES:
        message = pattern.match(line.group("message"))
        if message:
            return reason, line, message
    return None


@dataclass
class AttemptWindow:
    """Failures per key (e-mail, or IP address without one) within the last ``seconds`` of log time.

    The window ends at the newest log time seen so far (lines can arrive slightly out of order),
    so counts never depend on the wall clock. Keys whose failures all left the window are
    dropped at most once per window length, which bounds the state to the keys of about two
    windows.
    """

    seconds: float
    entries: dict[str, list[float]] = field(default_factory=dict)
    newest: float | None = None
    pruned_at: float | None = None

    def add(self, key: str, when: float) -> int:
        """Record a failure of ``key`` at ``when`` (epoch seconds); the count in the window."""
        self.newest = when if self.newest is None else max(self.newest, when)
        horizon = self.newest - self.seconds
        kept = [moment for moment in self.entries.get(key, []) if moment > horizon]
        kept.append(when)
        self.entries[key] = sorted(kept)
        if self.pruned_at is None or self.newest - self.pruned_at >= self.seconds:
            self.prune()
        return len(kept)

    def prune(self) -> None:
        """Forget the failures that left the window."""
        if self.newest is None:
            return
        horizon = self.newest - self.seconds
        self.entries = {
            key: [moment for moment in moments if moment > horizon]
            for key, moments in self.entries.items()
            if moments and moments[-1] > horizon
        }
        self.pruned_at = self.newest

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the cursor store (pruned first)."""
        self.prune()
        entries = {key: list(moments) for key, moments in self.entries.items()}
        return {"newest": self.newest, "pruned_at": self.pruned_at, "entries": entries}

    @classmethod
    def from_dict(cls, seconds: float, data: Any) -> AttemptWindow:
        """Read stored window data back; an error names the key and the value."""
        if data is None:
            return cls(seconds)
        if not isinstance(data, dict) or not isinstance(data.get("entries", {}), dict):
            raise EventsError(f"window: {show(data)} is not a mapping with newest, pruned_at and entries")
        entries: dict[str, list[float]] = {}
        for key, moments in data.get("entries", {}).items():
            if not isinstance(moments, list) or not all(isinstance(m, (int, float)) for m in moments):
                raise EventsError(f"window.entries.{key}: {show(moments)} is not a list of times")
            entries[str(key)] = sorted(float(m) for m in moments)
        return cls(seconds, entries, data.get("newest"), data.get("pruned_at"))


@dataclass(frozen=True)
class PollResult:
    """Events of one read, the state to persist once they are published, and counts for metrics."""

    events: list[Envelope]
    state: dict[str, Any]
    lines: int
    ignored: int
    unreadable: int
    backlog_bytes: int
    note: str
    last_time: datetime | None


class VaultwardenSource:
    """Turns Vaultwarden log lines into ``kompose/vault/security/failed`` events."""

    def __init__(
        self,
        threshold: int = 10,
        window_seconds: float = 300,
        local: tzinfo = timezone.utc,
        name: str = "vaultwarden",
    ) -> None:
        # defaults: the watch stack's TooManyFailedLogins (more than 10 failures in 5 minutes)
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise EventsError(f"threshold: {show(threshold)} is not a whole number >= 1")
        if isinstance(window_seconds, bool) or not isinstance(window_seconds, (int, float)) or window_seconds <= 0:
            raise EventsError(f"window_seconds: {show(window_seconds)} is not a number of seconds > 0")
        self.threshold = threshold
        self.window_seconds = float(window_seconds)
        self.local = local
        self.name = name

    def window(self, state: dict[str, Any] | None) -> AttemptWindow:
        """The attempt window stored in ``state`` (empty for a first start)."""
        return AttemptWindow.from_dict(self.window_seconds, (state or {}).get("window"))

    def events(self, lines: Iterable[Line], window: AttemptWindow) -> tuple[list[Envelope], int, int]:
        """The events of ``lines`` (counted into ``window``, which is updated), ignored and unreadable lines."""
        produced: list[Envelope] = []
        ignored = unreadable_lines = 0
        for line in lines:
            failure = parse_line(line.text, self.local)
            if failure is None:
                if unreadable(line.text, self.local):
                    unreadable_lines += 1
                else:
                    ignored += 1
                continue
            key = f"email:{failure.email.strip().lower()}" if failure.email else f"ip:{failure.ip}"
            attempts = window.add(key, failure.logged_at.timestamp())
            data = {
                "reason": failure.reason,
                "email": failure.email,
                "ip": failure.ip,
                "attempts": attempts,
                "locked": attempts >= self.threshold,
            }
            produced.append(envelope.make(self.name, natural_key(line), TOPIC, data, failure.logged_at))
        return produced, ignored, unreadable_lines

    def poll(self, logfile: LogFile, state: dict[str, Any] | None) -> PollResult:
        """Read the next lines of ``logfile`` after the cursor in ``state``; ``state`` is not changed."""
        state = state or {}
        cursor = FileCursor.from_dict(state.get("cursor"))
        window = self.window(state)
        read = logfile.read(cursor)
        produced, ignored, unreadable_lines = self.events(read.lines, window)
        last_time = parse_time(produced[-1].time) if produced else None
        return PollResult(
            events=produced,
            state={"cursor": read.cursor.to_dict(), "window": window.to_dict()},
            lines=len(read.lines),
            ignored=ignored,
            unreadable=unreadable_lines,
            backlog_bytes=read.backlog_bytes,
            note=read.note,
            last_time=last_time,
        )


def natural_key(line: Line) -> str:
    """The line's identity: its offset and a digest of its bytes.

    The offset tells apart identical lines (Vaultwarden can log the same failure twice in one
    millisecond); the digest tells apart different lines at the same offset of a new or truncated
    file. The inode is deliberately left out: a restored or copied log gets a new inode, and its
    lines must keep their ids.
    """
    digest = hashlib.sha256(line.raw.rstrip(b"\r\n")).hexdigest()[:32]
    return f"{line.offset}:{digest}"
