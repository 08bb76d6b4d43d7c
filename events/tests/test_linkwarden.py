"""Linkwarden's Link rows into bookmark events: the query, the keyset cursor, added vs updated."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kompose_events import envelope
from kompose_events.errors import EventsError
from kompose_events.sources import linkwarden as lw

T0 = datetime(2026, 12, 7, 10, 0, 0, 123000)  # naive UTC, as psycopg returns timestamp(3)


def _row(link_id: int, created: datetime, updated: datetime | None = None, **fields: Any) -> dict[str, Any]:
    """A row as the changes query returns it (psycopg's dict_row)."""
    row = {
        "id": link_id,
        "name": f"Link {link_id}",
        "url": f"https://example.org/{link_id}",
        "collection": "Reading",
        "tags": ["ansible", "selfhost"],
        "createdAt": created,
        "updatedAt": updated or created,
    }
    row.update(fields)
    return row


class FakeLinkTable:
    """Stands in for PostgreSQL: applies the changes query's WHERE, ORDER BY and LIMIT to rows.

    It mirrors the SQL (whose text the tests check separately), so the paging logic around it is
    exercised without a database.
    """

    def __init__(self, rows: list[dict[str, Any]], now: datetime) -> None:
        self.rows = rows
        self.now = now

    def execute(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        assert sql == lw.CHANGES_SQL
        after = (params["updated_at"], params["id"])
        settled = self.now - timedelta(seconds=params["settle_seconds"])
        found = [r for r in self.rows if (r["updatedAt"], r["id"]) > after and r["updatedAt"] <= settled]
        return sorted(found, key=lambda r: (r["updatedAt"], r["id"]))[: params["limit"]]


def test_query_selects_only_the_columns_an_event_needs() -> None:
    sql, params = lw.changes_query(lw.LinkCursor(), limit=50, settle_seconds=5)
    assert sql.startswith('SELECT l.id, l.name, l.url, c.name AS collection,')
    assert "textContent" not in sql and "description" not in sql and "*" not in sql.replace("count(*)", "")
    assert 'WHERE (l."updatedAt", l.id) > (%(updated_at)s, %(id)s)' in sql
    assert 'ORDER BY l."updatedAt", l.id' in sql
    assert "make_interval(secs => %(settle_seconds)s)" in sql
    assert sql.endswith("LIMIT %(limit)s")
    assert params == {"updated_at": datetime(1970, 1, 1), "id": 0, "settle_seconds": 5, "limit": 50}


def test_query_params_are_naive_utc() -> None:
    # an aware value would be converted with the session's TimeZone against timestamp(3)
    cursor = lw.LinkCursor(datetime(2026, 12, 7, 11, 0, 0, 500000, tzinfo=timezone(timedelta(hours=1))), 42)
    params = lw.changes_query(cursor)[1]
    assert params["updated_at"] == datetime(2026, 12, 7, 10, 0, 0, 500000)
    assert params["updated_at"].tzinfo is None
    assert params["id"] == 42 and params["limit"] == 100 and params["settle_seconds"] == 5


def test_every_query_is_parameterised_text() -> None:
    for sql, params in (lw.changes_query(lw.LinkCursor()), lw.baseline_query(), lw.stats_query()):
        assert isinstance(sql, str) and isinstance(params, dict)
        assert "'" not in sql.replace("'{}'", "").replace("'UTC'", "")  # no value spliced into the text
    assert lw.baseline_query() == (
        'SELECT l."updatedAt", l.id\nFROM "Link" AS l\nORDER BY l."updatedAt" DESC, l.id DESC\nLIMIT 1',
        {},
    )
    assert lw.stats_query()[0] == (
        'SELECT (SELECT count(id) FROM "Link") AS links,\n'
        '       (SELECT count(id) FROM "Collection") AS collections,\n'
        '       (SELECT count(id) FROM "User") AS users'
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"limit": 0}, "limit: 0 is not a page size (an integer >= 1)"),
        ({"settle_seconds": -1}, "settle_seconds: -1 is not a number of seconds >= 0"),
    ],
)
def test_query_settings_are_checked(kwargs: dict, message: str) -> None:
    with pytest.raises(EventsError) as caught:
        lw.changes_query(lw.LinkCursor(), **kwargs)
    assert str(caught.value) == message


def test_column_grants_for_the_read_only_login() -> None:
    assert lw.grants("link_events") == [
        'GRANT SELECT ("id", "name", "url", "collectionId", "createdAt", "updatedAt") ON "Link" TO link_events',
        'GRANT SELECT ("id", "name") ON "Collection" TO link_events',
        'GRANT SELECT ("id", "name") ON "Tag" TO link_events',
        'GRANT SELECT ("A", "B") ON "_LinkToTag" TO link_events',
        'GRANT SELECT ("id") ON "User" TO link_events',
    ]
    with pytest.raises(EventsError) as caught:
        lw.grants("x; DROP TABLE")
    assert str(caught.value) == 'role: "x; DROP TABLE" is not a plain role name (lower-case letters, digits, \'_\')'


def test_a_new_row_is_added_with_the_spec_payload() -> None:
    row = _row(101, T0, name="Self-hosting with Ansible", tags=["selfhost", "ansible", "selfhost"])
    batch = lw.map_rows([row], lw.LinkCursor(datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc), 100))
    [event] = batch.events
    assert event.topic == "kompose/linkwarden/bookmark/added"
    assert event.data == {
        "id": 101,
        "url": "https://example.org/101",
        "title": "Self-hosting with Ansible",
        "tags": ["ansible", "selfhost"],
        "collection": "Reading",
    }
    assert event.time == "2026-12-07T10:00:00.123Z"
    assert event.id == envelope.event_id("linkwarden", "link:101:added")
    assert batch.cursor == lw.LinkCursor(T0.replace(tzinfo=timezone.utc), 101)


def test_an_uploaded_file_without_url_and_name() -> None:
    [event] = lw.map_rows([_row(7, T0, url=None, name="", tags=[])], lw.LinkCursor()).events
    assert event.data == {"id": 7, "url": None, "title": "", "tags": [], "collection": "Reading"}


def test_added_or_updated_depends_on_creation_after_the_cursor() -> None:
    cursor = lw.LinkCursor(T0.replace(tzinfo=timezone.utc), 50)
    later = T0 + timedelta(minutes=5)
    rows = [
        _row(40, T0 - timedelta(days=1), later),  # created long ago, edited now
        _row(51, T0, later, name="renamed"),  # created at the cursor's time, after it by id
        _row(49, T0, later + timedelta(seconds=1)),  # created at the cursor's time, before it by id
        _row(60, later),  # new
    ]
    batch = lw.map_rows(rows, cursor)
    # in ("updatedAt", id) order
    assert [(e.data["id"], e.topic.rsplit("/", 1)[1]) for e in batch.events] == [
        (40, "updated"),
        (51, "added"),  # edited before the poll saw it: one added event with its current data
        (60, "added"),
        (49, "updated"),
    ]
    assert batch.events[1].data["title"] == "renamed"
    assert batch.events[0].id == envelope.event_id("linkwarden", "link:40:updated:2026-12-07T10:05:00.123000Z")


def test_paging_never_skips_rows_with_equal_timestamps() -> None:
    same = T0
    rows = [_row(link_id, same) for link_id in (3, 1, 5, 2, 4)] + [_row(6, same + timedelta(milliseconds=1))]
    table = FakeLinkTable(rows, now=T0 + timedelta(minutes=1))
    cursor, seen = lw.LinkCursor(), []
    for _page in range(10):
        sql, params = lw.changes_query(cursor, limit=2)
        page = table.execute(sql, params)
        if not page:
            break
        batch = lw.map_rows(page, cursor)
        seen += [e.data["id"] for e in batch.events]
        cursor = batch.cursor
    assert seen == [1, 2, 3, 4, 5, 6]  # every row once, in (updatedAt, id) order


def test_rows_not_yet_settled_wait_for_the_next_poll() -> None:
    rows = [_row(1, T0), _row(2, T0 + timedelta(seconds=58))]
    table = FakeLinkTable(rows, now=T0 + timedelta(seconds=60))
    page = table.execute(*lw.changes_query(lw.LinkCursor(), settle_seconds=5))
    assert [r["id"] for r in page] == [1]


def test_an_unchanged_row_is_never_emitted_again() -> None:
    first = lw.map_rows([_row(8, T0)], lw.LinkCursor())
    # the same row returned again (a page boundary, a retry): at or before the cursor
    again = lw.map_rows([_row(8, T0)], first.cursor, first.fingerprints)
    assert again.events == [] and again.skipped == 1 and again.cursor == first.cursor
    # the archiver stored a screenshot: updatedAt moved, nothing of the event changed
    archived = lw.map_rows([_row(8, T0, T0 + timedelta(seconds=30))], first.cursor, first.fingerprints)
    assert archived.events == [] and archived.unchanged == 1
    assert archived.cursor == lw.LinkCursor((T0 + timedelta(seconds=30)).replace(tzinfo=timezone.utc), 8)


def test_a_real_change_is_updated_and_a_change_back_too() -> None:
    stored = lw.map_rows([_row(8, T0)], lw.LinkCursor()).fingerprints
    cursor = lw.LinkCursor(T0.replace(tzinfo=timezone.utc), 8)
    renamed = lw.map_rows([_row(8, T0, T0 + timedelta(minutes=1), name="New title")], cursor, stored)
    assert [e.topic for e in renamed.events] == ["kompose/linkwarden/bookmark/updated"]
    stored = lw.merge_fingerprints(stored, renamed.fingerprints)
    back = lw.map_rows([_row(8, T0, T0 + timedelta(minutes=2))], renamed.cursor, stored)
    assert [e.data["title"] for e in back.events] == ["Link 8"]
    assert back.events[0].id != renamed.events[0].id


def test_tag_changes_are_updates() -> None:
    stored = lw.map_rows([_row(8, T0)], lw.LinkCursor()).fingerprints
    cursor = lw.LinkCursor(T0.replace(tzinfo=timezone.utc), 8)
    batch = lw.map_rows([_row(8, T0, T0 + timedelta(minutes=1), tags=["ansible"])], cursor, stored)
    assert [e.data["tags"] for e in batch.events] == [["ansible"]]


def test_map_rows_changes_nothing_it_is_given_and_rereads_identically() -> None:
    rows = [_row(1, T0), _row(2, T0 + timedelta(seconds=1))]
    stored: dict[str, str] = {}
    cursor = lw.LinkCursor()
    first = lw.map_rows(rows, cursor, stored)
    second = lw.map_rows(rows, cursor, stored)  # a crash before the state was saved: read again
    assert stored == {} and cursor == lw.LinkCursor()
    assert [e.encode() for e in first.events] == [e.encode() for e in second.events]


def test_cursor_state_round_trip() -> None:
    cursor = lw.LinkCursor(datetime(2026, 12, 7, 10, 0, 0, 123000, tzinfo=timezone.utc), 101)
    stored = json.loads(json.dumps(cursor.to_dict()))
    assert stored == {"updated_at": "2026-12-07T10:00:00.123000Z", "id": 101}
    assert lw.LinkCursor.from_dict(stored) == cursor
    assert lw.LinkCursor.from_dict(None) == lw.LinkCursor()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"updated_at": "soon", "id": 1}, 'cursor.updated_at: "soon" is not an RFC 3339 time'),
        ({"updated_at": "2026-12-07T10:00:00Z", "id": -1}, "cursor.id: -1 is not a link id (an integer >= 0)"),
        ("x", 'cursor: "x" is not a mapping with updated_at and id'),
    ],
)
def test_bad_stored_cursor(data: object, message: str) -> None:
    with pytest.raises(EventsError) as caught:
        lw.LinkCursor.from_dict(data)
    assert str(caught.value) == message


def test_baseline_starts_after_existing_links() -> None:
    cursor = lw.baseline_cursor({"updatedAt": T0, "id": 900})
    assert cursor == lw.LinkCursor(T0.replace(tzinfo=timezone.utc), 900)
    assert lw.baseline_cursor(None) == lw.LinkCursor()
    batch = lw.map_rows([_row(900, T0), _row(901, T0 + timedelta(seconds=1))], cursor)
    assert [(e.data["id"], e.topic) for e in batch.events] == [(901, "kompose/linkwarden/bookmark/added")]


def test_fingerprints_are_capped_to_the_most_recent() -> None:
    stored = {str(n): f"fp{n}" for n in range(5)}
    merged = lw.merge_fingerprints(stored, {"2": "new", "9": "fp9"}, limit=4)
    assert merged == {"3": "fp3", "4": "fp4", "2": "new", "9": "fp9"}


def test_bad_rows_name_the_column() -> None:
    with pytest.raises(EventsError) as caught:
        lw.map_rows([_row(1, T0, updatedAt=None)], lw.LinkCursor())
    assert str(caught.value) == "row.updatedAt: null is not a timestamp"
    with pytest.raises(EventsError) as caught:
        lw.map_rows([_row(1, T0, tags="ansible")], lw.LinkCursor())
    assert str(caught.value) == 'row.tags: "ansible" is not a list of tag names'


def test_daily_stats_event() -> None:
    measured = datetime(2026, 12, 7, 23, 59, 0, tzinfo=timezone.utc)
    event = lw.stats_event({"links": 1520, "collections": 12, "users": 3}, measured)
    assert event.topic == "kompose/linkwarden/stats/daily"
    assert event.data == {"date": "2026-12-07", "links": 1520, "collections": 12, "users": 3}
    # one id per date: a second measurement the same day is a duplicate for consumers
    later = lw.stats_event({"links": 1521, "collections": 12, "users": 3}, measured + timedelta(seconds=30))
    assert later.id == event.id == envelope.event_id("linkwarden", "stats:2026-12-07")
