"""Umami's page views and custom events as ``kompose/analytics/pageview`` and ``.../event``.

Read from Umami 3.1.0's PostgreSQL tables (``prisma/schema.prisma`` and ``prisma/migrations/``
of the release; ``src/queries/sql/events/saveEvent.ts`` and ``saveEventData.ts`` write them):

- ``website_event``: one row per page view (``event_type`` 1) or custom event (2; 3-5 are link,
  pixel and performance events, not read), keyed by ``event_id`` (uuid). ``created_at``
  (timestamptz(6)) is set by the app: the request's time, or the ``timestamp`` the tracker sent;
- ``event_data``: a custom event's properties, one row per (flattened, dotted) key, written by a
  second statement *after* the event row (not in its transaction); ``data_type`` 1 string,
  2 number, 3 boolean (``string_value`` ``"true"``/``"false"``), 4 date, 5 array (its JSON in
  ``string_value``).

Polling by keyset on ``(created_at, event_id)``, as Linkwarden's source does: rows with equal
times are ordered by id (uuid order = the canonical text's order), a page that ends inside such
a group resumes inside it, and only rows at least ``settle_seconds`` old are read (the app sets
``created_at`` before its insert commits, and the event's properties follow in a separate
statement). Each row is read once: its event id is derived from ``event_id`` (the natural key).

Not covered, by design: an event the tracker sent with a ``timestamp`` older than the cursor
(an import of old data) is behind the cursor when it is written, and is not read; a row with a
null ``created_at`` (the column is nullable; Umami always sets it) is never read.

``websites`` (optional): only these website ids; empty = every website of the instance.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from .. import envelope
from ..errors import EventsError, show
from ..times import format_time
from .database import (
    DatabaseMapping,
    KeysetCursor,
    Page,
    Query,
    check_limit,
    grant_statements,
    row_text,
    row_time,
    state_cursor,
)

PAGEVIEW = "kompose/analytics/pageview"
EVENT = "kompose/analytics/event"
PAGE_VIEW_TYPE = 1
CUSTOM_EVENT_TYPE = 2

# The columns the read-only login needs, per table (Umami's snake_case names).
COLUMNS: dict[str, tuple[str, ...]] = {
    "website_event": (
        "event_id",
        "website_id",
        "created_at",
        "url_path",
        "page_title",
        "referrer_domain",
        "hostname",
        "event_type",
        "event_name",
    ),
    "event_data": (
        "event_data_id",
        "website_event_id",
        "data_key",
        "string_value",
        "number_value",
        "date_value",
        "data_type",
    ),
}

# the properties as parallel arrays in one row per event (typed by psycopg: numeric, timestamptz),
# so LIMIT counts events, not properties
_SELECT = """\
SELECT e.event_id, e.website_id, e.created_at, e.url_path, e.page_title, e.referrer_domain, e.hostname,
       e.event_type, e.event_name,
       d.data_keys, d.data_types, d.string_values, d.number_values, d.date_values
FROM website_event AS e
LEFT JOIN LATERAL (
    SELECT array_agg(x.data_key ORDER BY x.data_key, x.event_data_id) AS data_keys,
           array_agg(x.data_type ORDER BY x.data_key, x.event_data_id) AS data_types,
           array_agg(x.string_value ORDER BY x.data_key, x.event_data_id) AS string_values,
           array_agg(x.number_value ORDER BY x.data_key, x.event_data_id) AS number_values,
           array_agg(x.date_value ORDER BY x.data_key, x.event_data_id) AS date_values
    FROM event_data AS x
    WHERE x.website_event_id = e.event_id
) AS d ON e.event_type = 2
WHERE (e.created_at, e.event_id) > (%(created_at)s, %(event_id)s)
  AND e.created_at >= %(created_at)s
  AND e.created_at <= now() - make_interval(secs => %(settle_seconds)s)
  AND e.event_type IN (1, 2)"""

_ORDER = """
ORDER BY e.created_at, e.event_id
LIMIT %(limit)s"""

CHANGES_SQL = _SELECT + _ORDER
CHANGES_SQL_WEBSITES = _SELECT + "\n  AND e.website_id = ANY(%(websites)s)" + _ORDER

BASELINE_SQL = """\
SELECT e.created_at, e.event_id
FROM website_event AS e
WHERE e.created_at <= now()
ORDER BY e.created_at DESC, e.event_id DESC
LIMIT 1"""

NIL_UUID = uuid.UUID(int=0)


def canonical_website(value: Any) -> str | None:
    """A website id in canonical form (lower-case, with hyphens), or None if it is not a UUID."""
    try:
        parsed = uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return None if parsed is None else str(parsed)


def changes_query(
    cursor: KeysetCursor, limit: int = 100, settle_seconds: int = 5, websites: Sequence[str] = ()
) -> Query:
    """The next page of page views and custom events after ``cursor``, and its parameters.

    ``created_at`` is timestamptz: the time is passed aware (UTC). An empty ``websites`` reads
    every website.
    """
    check_limit(limit)
    params: dict[str, Any] = {
        "created_at": cursor.key()[0],
        "event_id": uuid.UUID(cursor.id) if cursor.id else NIL_UUID,
        "settle_seconds": settle_seconds,
        "limit": limit,
    }
    if not websites:
        return CHANGES_SQL, params
    params["websites"] = [uuid.UUID(website) for website in websites]
    return CHANGES_SQL_WEBSITES, params


def baseline_query() -> Query:
    """The newest ``(created_at, event_id)`` not in the future (a tracker may send any ``timestamp``)."""
    return BASELINE_SQL, {}


def baseline_cursor(row: Mapping[str, Any] | None) -> KeysetCursor:
    """The cursor from ``baseline_query``'s row (no row: an empty table, start at the beginning)."""
    if row is None:
        return KeysetCursor()
    return KeysetCursor(row_time(row, "created_at"), row_text(row, "event_id"))


def grants(role: str) -> list[str]:
    """The column-level GRANTs the read-only login ``role`` needs (for the database's owner to run)."""
    return grant_statements(COLUMNS, role)


def event_data(row: Mapping[str, Any]) -> dict[str, Any]:
    """A custom event's properties from the row's parallel arrays, typed as Umami stored them."""
    keys = row.get("data_keys") or []
    columns = [row.get(name) or [None] * len(keys) for name in
               ("data_types", "string_values", "number_values", "date_values")]
    if not isinstance(keys, list) or any(not isinstance(c, list) or len(c) != len(keys) for c in columns):
        raise EventsError(f"row.data_keys: {show(keys)} does not go with the other data_* arrays")
    data: dict[str, Any] = {}
    for key, data_type, text, number, moment in zip(keys, *columns, strict=True):
        data[str(key)] = _value(data_type, text, number, moment)
    return data


def _value(data_type: Any, text: Any, number: Any, moment: Any) -> Any:
    if data_type == 2:  # number: numeric(19,4)
        if number is None:
            number = Decimal(text) if isinstance(text, str) else None
        if isinstance(number, Decimal):
            return int(number) if number == number.to_integral_value() else float(number)
        return number
    if data_type == 3:  # boolean, stored as the text "true" / "false"
        return text == "true"
    if data_type == 4:  # date
        return format_time(moment) if isinstance(moment, datetime) else text
    if data_type == 5:  # array: JSON.stringify'd
        try:
            return json.loads(text)
        except (TypeError, ValueError):
            return text
    return text


def map_rows(
    rows: Sequence[Mapping[str, Any]], cursor: KeysetCursor, source: str = "umami"
) -> tuple[list[envelope.Envelope], KeysetCursor, list[str]]:
    """Events for a page of rows read after ``cursor``: (events, the cursor after them, unreadable).

    Rows at or before the cursor are skipped, whatever order they come in. A row whose payload
    does not fit the topic's schema is passed over and named in the third item.
    """
    start = cursor.key()
    keyed = [((row_time(row, "created_at"), row_text(row, "event_id")), row) for row in rows]
    produced: list[envelope.Envelope] = []
    unreadable: list[str] = []
    position = cursor
    for key, row in sorted(keyed, key=lambda item: item[0]):
        if key <= start:
            continue
        position = KeysetCursor(*key)
        event_id = key[1]
        try:
            topic, data = _payload(row)
            produced.append(envelope.make(source, f"event:{event_id}", topic, data, key[0]))
        except EventsError as error:
            unreadable.append(f"event_id {event_id}: {error}")
    return produced, position, unreadable


def _payload(row: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    website = row.get("website_id")
    data: dict[str, Any] = {
        "website": str(website) if website is not None else None,
        "hostname": row.get("hostname"),
        "path": row.get("url_path"),
    }
    kind = row.get("event_type")
    if kind == PAGE_VIEW_TYPE:
        data["title"] = row.get("page_title")
        data["referrer"] = row.get("referrer_domain")
        return PAGEVIEW, data
    if kind == CUSTOM_EVENT_TYPE:
        data["name"] = row.get("event_name")
        data["data"] = event_data(row)
        return EVENT, data
    raise EventsError(f"row.event_type: {show(kind)} is not a page view (1) or a custom event (2)")


class UmamiMapping(DatabaseMapping):
    """Umami's page views and custom events for ``DatabaseSource``; state ``{"cursor": {time, id}}``."""

    app = "Umami"
    COLUMNS = COLUMNS

    def __init__(self, source: str = "umami", settle_seconds: int = 5, websites: Sequence[str] = ()) -> None:
        super().__init__(source, settle_seconds)
        canonical = [canonical_website(website) for website in websites]
        for index, website in enumerate(canonical):
            if website is None:
                raise EventsError(f"websites[{index}]: {show(websites[index])} is not a website id (a UUID)")
        self.websites = tuple(website for website in canonical if website)

    def baseline_query(self) -> Query:
        return baseline_query()

    def baseline_state(self, row: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"cursor": baseline_cursor(row).to_dict()}

    def changes_query(self, state: Mapping[str, Any], limit: int) -> Query:
        return changes_query(state_cursor(state), limit, self.settle_seconds, self.websites)

    def map_rows(self, rows: Sequence[Mapping[str, Any]], state: Mapping[str, Any]) -> Page:
        cursor = state_cursor(state)
        events, after, unreadable = map_rows(rows, cursor, self.source)
        if after == cursor:
            return Page([], dict(state))
        return Page(events, {**state, "cursor": after.to_dict()}, after.time, tuple(unreadable))
