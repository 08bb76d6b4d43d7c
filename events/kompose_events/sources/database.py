"""What a database source's mapping provides, and the keyset cursor the mappings share.

``service/dbsource.DatabaseSource`` runs any ``DatabaseMapping`` (Linkwarden, Umami, LetterSpace):
it owns the connection, the cursor store and the MQTT client; the mapping stays pure - it writes
the queries (``(sql, params)`` for psycopg, never a value spliced into the text) and turns rows
into events and the next state. The state is plain JSON (``{"cursor": {...}, ...}``), saved by
the runtime only once the broker acknowledged the events of a page, so a crash in between reads
the same rows again into the same events (same ids).

The interface, in the order the runtime uses it:

- ``baseline_query()`` / ``baseline_state(row)``: on a first start (no stored state), the state
  just after the newest row, so a source added to a running app does not flood the broker with
  its history;
- ``changes_query(state, limit)`` / ``map_rows(rows, state)``: the next page after the state's
  cursor, and its events (``Page``); a page of ``limit`` rows means more may be waiting;
- ``periodic_query(state, now)`` / ``map_periodic(row, state, now)``: a measurement that is due
  (Linkwarden's daily totals; None for the others), its event and the state that records it;
- ``COLUMNS`` and ``grants(role)``: the column-level GRANTs of the read-only login.

``KeysetCursor`` is the ``(time, id)`` position of Umami's and LetterSpace's sources (string ids,
compared as the queries order them: bytewise). Linkwarden keeps its own ``LinkCursor`` (an
integer id, stored as ``{updated_at, id}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..envelope import Envelope
from ..errors import EventsError, show
from ..times import as_utc, parse_time

Query = tuple[str, dict[str, Any]]
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Page:
    """What a page of rows (or a periodic measurement) gives the runtime.

    ``events``: to publish, in order; ``state``: to save once they are acknowledged; ``position``:
    the source time of the newest row read (the lag's reference; None when no row was new);
    ``unreadable``: rows passed over because they cannot become a valid event (``"<id>: <why>"``,
    logged; the cursor moves past them, they would fail the same way each time).
    """

    events: list[Envelope]
    state: dict[str, Any]
    position: datetime | None = None
    unreadable: tuple[str, ...] = field(default_factory=tuple)


class DatabaseMapping:
    """The interface ``DatabaseSource`` runs; each app's module implements it (see the module doc).

    ``source``: the source's name (the events' ``source`` and the ids' namespace);
    ``settle_seconds``: only rows at least this old (in the database's clock) are read.
    """

    app = "the app"  # its name in log messages
    COLUMNS: dict[str, tuple[str, ...]] = {}

    def __init__(self, source: str, settle_seconds: int = 5) -> None:
        check_settle(settle_seconds)
        self.source = source
        self.settle_seconds = settle_seconds

    def baseline_query(self) -> Query:
        raise NotImplementedError

    def baseline_state(self, row: Mapping[str, Any] | None) -> dict[str, Any]:
        raise NotImplementedError

    def changes_query(self, state: Mapping[str, Any], limit: int) -> Query:
        raise NotImplementedError

    def map_rows(self, rows: Sequence[Mapping[str, Any]], state: Mapping[str, Any]) -> Page:
        raise NotImplementedError

    def periodic_query(self, state: Mapping[str, Any], now: datetime) -> Query | None:
        """A query whose result is due now, or None (the default: nothing periodic)."""
        return None

    def map_periodic(self, row: Mapping[str, Any] | None, state: Mapping[str, Any], now: datetime) -> Page:
        raise NotImplementedError

    def grants(self, role: str) -> list[str]:
        return grant_statements(self.COLUMNS, role)


@dataclass(frozen=True)
class KeysetCursor:
    """The last ``(time, id)`` consumed; rows after it in that order are new to the source."""

    time: datetime = EPOCH
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data; the time keeps its microseconds so the comparison stays exact."""
        return {"time": as_utc(self.time).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "id": self.id}

    @classmethod
    def from_dict(cls, data: Any) -> KeysetCursor:
        """Read a stored cursor back (None: the start); an error names the key and the value."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise EventsError(f"cursor: {show(data)} is not a mapping with time and id")
        try:
            moment = parse_time(data.get("time"))
        except ValueError:
            raise EventsError(f"cursor.time: {show(data.get('time'))} is not an RFC 3339 time") from None
        row_id = data.get("id")
        if not isinstance(row_id, str):
            raise EventsError(f"cursor.id: {show(row_id)} is not a row id (a string)")
        return cls(moment, row_id)

    def key(self) -> tuple[datetime, str]:
        """The cursor as a comparable ``(aware UTC time, id)``."""
        return as_utc(self.time), self.id


def check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise EventsError(f"limit: {show(limit)} is not a page size (an integer >= 1)")
    return limit


def check_settle(settle_seconds: Any) -> int:
    if isinstance(settle_seconds, bool) or not isinstance(settle_seconds, int) or settle_seconds < 0:
        raise EventsError(f"settle_seconds: {show(settle_seconds)} is not a number of seconds >= 0")
    return settle_seconds


def state_cursor(state: Mapping[str, Any]) -> KeysetCursor:
    """The ``KeysetCursor`` of a stored state ``{"cursor": {...}}``."""
    if not isinstance(state, Mapping):
        raise EventsError(f"state: {show(state)} is not a mapping with a cursor")
    return KeysetCursor.from_dict(state.get("cursor"))


def grant_statements(columns: Mapping[str, Sequence[str]], role: str) -> list[str]:
    """The column-level GRANTs of ``columns`` (table -> columns) to ``role``, for the database's owner."""
    if not isinstance(role, str) or not ROLE_NAME.match(role):
        raise EventsError(f"role: {show(role)} is not a plain role name (lower-case letters, digits, '_')")
    return [
        f'GRANT SELECT ({", ".join(quote(column) for column in names)}) ON {quote(table)} TO {role}'
        for table, names in columns.items()
    ]


def quote(identifier: str) -> str:
    """A PostgreSQL identifier, double-quoted (Prisma's mixed-case names need it)."""
    return '"' + identifier.replace('"', '""') + '"'


def row_time(row: Mapping[str, Any], name: str) -> datetime:
    """A timestamp column as an aware UTC datetime; an error names the column and the value."""
    value = row.get(name)
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError:
            pass
    raise EventsError(f"row.{name}: {show(value)} is not a timestamp")


def row_text(row: Mapping[str, Any], name: str) -> str:
    """A text (or uuid) key column as a string; an error names the column and the value."""
    value = row.get(name)
    if value is None or isinstance(value, (bool, int, float)):
        raise EventsError(f"row.{name}: {show(value)} is not an id")
    return str(value)
