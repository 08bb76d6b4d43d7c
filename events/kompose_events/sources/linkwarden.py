"""Linkwarden's links as ``kompose/linkwarden/bookmark/added|updated`` (and daily totals).

Linkwarden has no webhooks (linkwarden#1503) and its API pages by id, newest first, limited to
the token user's collections; so the source reads its database through a read-only login with
column-level grants (``grants()``): only the columns an event needs, never ``textContent`` or
any other private column, and nothing written in the app's database (no trigger, no function).

Polling by keyset on ``("updatedAt", id)``:

- ``WHERE ("updatedAt", id) > (cursor)`` ``ORDER BY "updatedAt", id``: rows that share a
  timestamp are ordered by id, so a page that ends in the middle of such a group resumes inside
  it - no row with an equal timestamp is skipped - and a row is read again only when its
  ``updatedAt`` changed.
- Prisma writes ``updatedAt`` from the app (``@updatedAt``), before its transaction commits; a
  row can become visible with a time just behind rows already read. The query therefore only
  reads rows at least ``settle_seconds`` old (in the database's clock), so such a row is
  committed before the cursor can pass its time.
- ``added`` or ``updated``: a row whose creation ``("createdAt", id)`` is after the cursor the
  batch started from cannot have been read before, so it is ``added`` (with its current data,
  even if it was edited before the poll); any other row is ``updated``.
- Linkwarden's archiver updates a link several times after it is saved (preview, screenshot,
  PDF, readable text), each bumping ``updatedAt`` without changing anything an event carries.
  The source keeps a fingerprint of each link's event data and emits ``updated`` only when it
  differs, so an unchanged row is never re-emitted. Fingerprints are capped (the most recently
  changed ``max_fingerprints`` links); a link whose fingerprint was dropped is reported
  ``updated`` on its next change, erring on the side of an event.

Everything here is pure: ``changes_query`` returns ``(sql, params)`` for psycopg, ``map_rows``
turns the rows into events and the next state, and the caller persists the state after
publishing (a crash in between re-reads the same rows into identical events, same ids).
``LinkwardenMapping`` is that, behind the interface ``service/dbsource.DatabaseSource`` runs
(``sources/database.py``): its state is ``{"cursor": {updated_at, id}, "fingerprints": {...},
"stats_date": "YYYY-MM-DD"}``, and ``kompose/linkwarden/stats/daily`` is due once per UTC date
(the date in the state: a restart the same day does not measure again; the id is the date's
anyway, so a repeat is a duplicate for consumers).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .. import envelope
from ..envelope import Envelope
from ..errors import EventsError, show
from ..times import as_utc, parse_time
from .database import DatabaseMapping, Page, check_limit, check_settle, grant_statements

ADDED = "kompose/linkwarden/bookmark/added"
UPDATED = "kompose/linkwarden/bookmark/updated"
STATS = "kompose/linkwarden/stats/daily"

# The columns the read-only login needs, per table (Prisma's names, hence the quoting).
# _LinkToTag is Prisma's implicit many-to-many table: "A" is the Link's id, "B" the Tag's.
COLUMNS: dict[str, tuple[str, ...]] = {
    "Link": ("id", "name", "url", "collectionId", "createdAt", "updatedAt"),
    "Collection": ("id", "name"),
    "Tag": ("id", "name"),
    "_LinkToTag": ("A", "B"),
    "User": ("id",),
}

CHANGES_SQL = """\
SELECT l.id, l.name, l.url, c.name AS collection,
       COALESCE(array_agg(t.name ORDER BY t.name) FILTER (WHERE t.name IS NOT NULL), '{}') AS tags,
       l."createdAt", l."updatedAt"
FROM "Link" AS l
JOIN "Collection" AS c ON c.id = l."collectionId"
LEFT JOIN "_LinkToTag" AS lt ON lt."A" = l.id
LEFT JOIN "Tag" AS t ON t.id = lt."B"
WHERE (l."updatedAt", l.id) > (%(updated_at)s, %(id)s)
  AND l."updatedAt" <= (now() AT TIME ZONE 'UTC') - make_interval(secs => %(settle_seconds)s)
GROUP BY l.id, c.name
ORDER BY l."updatedAt", l.id
LIMIT %(limit)s"""

BASELINE_SQL = """\
SELECT l."updatedAt", l.id
FROM "Link" AS l
ORDER BY l."updatedAt" DESC, l.id DESC
LIMIT 1"""

STATS_SQL = """\
SELECT (SELECT count(id) FROM "Link") AS links,
       (SELECT count(id) FROM "Collection") AS collections,
       (SELECT count(id) FROM "User") AS users"""

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class LinkCursor:
    """The last ``("updatedAt", id)`` consumed; rows after it in that order are new to the source."""

    updated_at: datetime = EPOCH
    id: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data; the time keeps its microseconds so the comparison stays exact."""
        return {"updated_at": as_utc(self.updated_at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "id": self.id}

    @classmethod
    def from_dict(cls, data: Any) -> LinkCursor:
        """Read a stored cursor back (None: the start); an error names the key and the value."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise EventsError(f"cursor: {show(data)} is not a mapping with updated_at and id")
        try:
            moment = parse_time(data.get("updated_at"))
        except ValueError:
            raise EventsError(f"cursor.updated_at: {show(data.get('updated_at'))} is not an RFC 3339 time") from None
        link_id = data.get("id")
        if isinstance(link_id, bool) or not isinstance(link_id, int) or link_id < 0:
            raise EventsError(f"cursor.id: {show(link_id)} is not a link id (an integer >= 0)")
        return cls(moment, link_id)

    def key(self) -> tuple[datetime, int]:
        """The cursor as a comparable ``(aware UTC time, id)``."""
        return as_utc(self.updated_at), self.id


@dataclass(frozen=True)
class LinkBatch:
    """Events of one page of rows, the cursor after it, and fingerprint changes to store.

    ``skipped``: rows at or before the cursor; ``unchanged``: rows whose event data did not change.
    """

    events: list[Envelope]
    cursor: LinkCursor
    fingerprints: dict[str, str]
    skipped: int
    unchanged: int


def changes_query(cursor: LinkCursor, limit: int = 100, settle_seconds: int = 5) -> tuple[str, dict[str, Any]]:
    """The query for the next page of changed links after ``cursor``, and its parameters.

    ``updated_at`` is passed as a *naive* UTC datetime: Prisma's columns are ``timestamp(3)``
    without time zone holding UTC, and an aware value would be converted with the session's
    TimeZone before the comparison.
    """
    check_limit(limit)
    check_settle(settle_seconds)
    naive = as_utc(cursor.updated_at).replace(tzinfo=None)
    return CHANGES_SQL, {"updated_at": naive, "id": cursor.id, "settle_seconds": settle_seconds, "limit": limit}


def baseline_query() -> tuple[str, dict[str, Any]]:
    """The newest ``("updatedAt", id)``: a first start from there emits nothing for existing links."""
    return BASELINE_SQL, {}


def baseline_cursor(row: Mapping[str, Any] | None) -> LinkCursor:
    """The cursor from ``baseline_query``'s row (no row: an empty table, start at the beginning)."""
    if row is None:
        return LinkCursor()
    return LinkCursor(as_utc(_time(row, "updatedAt")), _int(row, "id"))


def stats_query() -> tuple[str, dict[str, Any]]:
    """Totals for ``kompose/linkwarden/stats/daily`` (``count(id)``: only the granted id column)."""
    return STATS_SQL, {}


def grants(role: str) -> list[str]:
    """The column-level GRANTs the read-only login ``role`` needs (for the database's owner to run)."""
    return grant_statements(COLUMNS, role)


def bookmark_data(row: Mapping[str, Any]) -> dict[str, Any]:
    """The event payload of a row (``tags``: distinct names, sorted, as the query returns them)."""
    tags = row.get("tags") or []
    if not isinstance(tags, (list, tuple)):
        raise EventsError(f"row.tags: {show(tags)} is not a list of tag names")
    return {
        "id": _int(row, "id"),
        "url": row.get("url"),
        "title": row.get("name") or "",
        "tags": sorted({str(tag) for tag in tags if tag}),
        "collection": str(row.get("collection") or ""),
    }


def fingerprint(data: Mapping[str, Any]) -> str:
    """A digest of an event's payload: equal payloads, equal fingerprints."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()[:32]


def map_rows(
    rows: Iterable[Mapping[str, Any]],
    cursor: LinkCursor,
    fingerprints: Mapping[str, str] | None = None,
    source: str = "linkwarden",
) -> LinkBatch:
    """Events for a page of rows read after ``cursor``; nothing passed in is modified.

    Rows at or before the cursor are skipped (never re-emitted), whatever order they come in.
    ``fingerprints`` (link id -> fingerprint) suppresses ``updated`` events that change nothing;
    ``LinkBatch.fingerprints`` holds the entries to store afterwards.
    """
    known = fingerprints or {}
    start = cursor.key()
    ordered = sorted(rows, key=lambda row: (as_utc(_time(row, "updatedAt")), _int(row, "id")))
    produced: list[Envelope] = []
    changes: dict[str, str] = {}
    skipped = unchanged = 0
    position = cursor
    for row in ordered:
        updated_at = as_utc(_time(row, "updatedAt"))
        link_id = _int(row, "id")
        if (updated_at, link_id) <= start:
            skipped += 1
            continue
        position = LinkCursor(updated_at, link_id)
        data = bookmark_data(row)
        digest = fingerprint(data)
        created = (as_utc(_time(row, "createdAt")), link_id) > start
        previous = changes.get(str(link_id), known.get(str(link_id)))
        changes[str(link_id)] = digest
        if created:
            key, topic, moment = f"link:{link_id}:added", ADDED, _time(row, "createdAt")
        elif previous == digest:
            unchanged += 1
            continue
        else:
            stamp = updated_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            key, topic, moment = f"link:{link_id}:updated:{stamp}", UPDATED, updated_at
        produced.append(envelope.make(source, key, topic, data, as_utc(moment)))
    return LinkBatch(produced, position, changes, skipped, unchanged)


def merge_fingerprints(stored: Mapping[str, str], changes: Mapping[str, str], limit: int = 10000) -> dict[str, str]:
    """``stored`` updated with ``changes``, keeping the ``limit`` most recently changed links."""
    merged = {key: value for key, value in stored.items() if key not in changes}
    merged.update(changes)
    while len(merged) > limit:
        del merged[next(iter(merged))]
    return merged


def stats_event(row: Mapping[str, Any], measured_at: datetime, source: str = "linkwarden") -> Envelope:
    """``kompose/linkwarden/stats/daily`` for the UTC date of ``measured_at`` (one id per date)."""
    moment = as_utc(measured_at)
    day = moment.date().isoformat()
    data = {
        "date": day,
        "links": _int(row, "links"),
        "collections": _int(row, "collections"),
        "users": _int(row, "users"),
    }
    return envelope.make(source, f"stats:{day}", STATS, data, moment)


def _int(row: Mapping[str, Any], name: str) -> int:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventsError(f"row.{name}: {show(value)} is not an integer")
    return value


def _time(row: Mapping[str, Any], name: str) -> datetime:
    value = row.get(name)
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError:
            pass
    raise EventsError(f"row.{name}: {show(value)} is not a timestamp")


class LinkwardenMapping(DatabaseMapping):
    """Linkwarden's links (and daily totals) for ``DatabaseSource``; see the module's docstring.

    ``stats``: publish ``kompose/linkwarden/stats/daily``; ``max_fingerprints``: how many links'
    fingerprints the state keeps (``merge_fingerprints``).
    """

    app = "Linkwarden"
    COLUMNS = COLUMNS

    def __init__(
        self, source: str = "linkwarden", settle_seconds: int = 5, stats: bool = True, max_fingerprints: int = 10000
    ) -> None:
        super().__init__(source, settle_seconds)
        self.stats = stats
        self.max_fingerprints = max_fingerprints

    def baseline_query(self) -> tuple[str, dict[str, Any]]:
        return baseline_query()

    def baseline_state(self, row: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"cursor": baseline_cursor(row).to_dict(), "fingerprints": {}}

    def changes_query(self, state: Mapping[str, Any], limit: int) -> tuple[str, dict[str, Any]]:
        return changes_query(self._cursor(state), limit, self.settle_seconds)

    def map_rows(self, rows: Sequence[Mapping[str, Any]], state: Mapping[str, Any]) -> Page:
        cursor = self._cursor(state)
        stored = state.get("fingerprints") or {}
        if not isinstance(stored, dict):
            raise EventsError(f"state.fingerprints: {show(stored)} is not a mapping of link ids to fingerprints")
        batch = map_rows(rows, cursor, stored, self.source)
        if batch.cursor == cursor:
            return Page([], dict(state))
        new_state = {
            **state,
            "cursor": batch.cursor.to_dict(),
            "fingerprints": merge_fingerprints(stored, batch.fingerprints, self.max_fingerprints),
        }
        return Page(batch.events, new_state, as_utc(batch.cursor.updated_at))

    def periodic_query(self, state: Mapping[str, Any], now: datetime) -> tuple[str, dict[str, Any]] | None:
        if not self.stats or state.get("stats_date") == as_utc(now).date().isoformat():
            return None
        return stats_query()

    def map_periodic(self, row: Mapping[str, Any] | None, state: Mapping[str, Any], now: datetime) -> Page:
        if row is None:
            raise EventsError("stats: the totals query returned no row")
        event = stats_event(row, now, self.source)
        return Page([event], {**state, "stats_date": event.data["date"]})

    @staticmethod
    def _cursor(state: Mapping[str, Any]) -> LinkCursor:
        if not isinstance(state, Mapping):
            raise EventsError(f"state: {show(state)} is not a mapping with a cursor")
        return LinkCursor.from_dict(state.get("cursor"))
