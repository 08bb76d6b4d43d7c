"""Umami's website_event and event_data rows into analytics events: the query, the keyset cursor."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from db_doubles import OTHER_SITE, SITE, UmamiTables, umami_event_data, utc, website_event

from kompose_events import envelope
from kompose_events.errors import EventsError
from kompose_events.sources import umami as um
from kompose_events.sources.database import KeysetCursor

T0 = utc(2026, 12, 7, 10, 0, 0, 123456)  # timestamptz(6): psycopg returns it aware
NOW = T0 + timedelta(minutes=10)


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def _page(tables: UmamiTables, mapping: um.UmamiMapping, state: dict[str, Any], limit: int = 100) -> Any:
    rows = tables.execute(*mapping.changes_query(state, limit))
    return rows, mapping.map_rows(rows, state)


def test_the_query_reads_only_the_granted_columns() -> None:
    sql, params = um.changes_query(KeysetCursor(), limit=50, settle_seconds=5)
    assert sql == um.CHANGES_SQL and "*" not in sql
    assert sql.startswith("SELECT e.event_id, e.website_id, e.created_at, e.url_path, e.page_title,")
    assert "WHERE (e.created_at, e.event_id) > (%(created_at)s, %(event_id)s)" in sql
    assert "e.created_at <= now() - make_interval(secs => %(settle_seconds)s)" in sql
    assert "e.event_type IN (1, 2)" in sql and "ORDER BY e.created_at, e.event_id\nLIMIT %(limit)s" in sql
    assert params == {"created_at": utc(1970, 1, 1), "event_id": um.NIL_UUID, "settle_seconds": 5, "limit": 50}
    for table, columns in um.COLUMNS.items():
        alias = "e." if table == "website_event" else "x."
        for column in columns:
            assert alias + column in sql or column == "website_event_id" and "x.website_event_id" in sql
    assert "'" not in sql  # no value spliced into the text


def test_the_query_params_and_the_website_filter() -> None:
    cursor = KeysetCursor(T0, str(_id(7)))
    sql, params = um.changes_query(cursor, websites=[str(SITE)])
    assert sql == um.CHANGES_SQL_WEBSITES and "AND e.website_id = ANY(%(websites)s)" in sql
    assert params["created_at"] == T0 and params["created_at"].tzinfo is not None  # timestamptz: aware
    assert params["event_id"] == _id(7) and params["websites"] == [SITE]


def test_column_grants_for_the_read_only_login() -> None:
    assert um.UmamiMapping().grants("umami_events") == [
        'GRANT SELECT ("event_id", "website_id", "created_at", "url_path", "page_title", "referrer_domain", '
        '"hostname", "event_type", "event_name") ON "website_event" TO umami_events',
        'GRANT SELECT ("event_data_id", "website_event_id", "data_key", "string_value", "number_value", '
        '"date_value", "data_type") ON "event_data" TO umami_events',
    ]


def test_a_page_view() -> None:
    row = website_event(_id(1), T0, url_path="/posts/ansible", page_title="Ansible, the kompose way",
                        referrer_domain="news.ycombinator.com", url_query="utm_source=hn")
    tables = UmamiTables([row], [], NOW)
    mapping = um.UmamiMapping("umami")
    rows, page = _page(tables, mapping, {"cursor": None})
    [event] = page.events
    assert event.topic == "kompose/analytics/pageview"
    assert event.data == {
        "website": str(SITE),
        "hostname": "blog.example.org",
        "path": "/posts/ansible",
        "title": "Ansible, the kompose way",
        "referrer": "news.ycombinator.com",
    }
    assert event.time == "2026-12-07T10:00:00.123Z" and event.source == "umami"
    assert event.id == envelope.event_id("umami", f"event:{_id(1)}")  # the row's natural key
    assert page.state == {"cursor": {"time": "2026-12-07T10:00:00.123456Z", "id": str(_id(1))}}
    assert page.position == T0


def test_a_custom_event_with_its_properties_as_umami_stored_them() -> None:
    row = website_event(_id(2), T0, url_path="/pricing", event_type=2, event_name="signup", hostname=None)
    data = {"plan": "pro", "seats": 3, "price": 9.99, "trial": True, "at": "2026-12-07T09:00:00.000Z",
            "tags": ["a", "b"], "ref": {"campaign": "december"}}
    stored = umami_event_data(row, data)
    assert {d["data_key"]: d["data_type"] for d in stored} == {
        "plan": 1, "seats": 2, "price": 2, "trial": 3, "at": 4, "tags": 5, "ref.campaign": 1}
    tables = UmamiTables([row], stored, NOW)
    [event] = _page(tables, um.UmamiMapping(), {})[1].events
    assert event.topic == "kompose/analytics/event"
    assert event.data == {
        "website": str(SITE),
        "hostname": None,
        "path": "/pricing",
        "name": "signup",
        "data": {"at": "2026-12-07T09:00:00.000Z", "plan": "pro", "price": 9.99, "ref.campaign": "december",
                 "seats": 3, "tags": ["a", "b"], "trial": True},
    }
    assert list(event.data["data"]) == sorted(event.data["data"])  # by key, as the query orders them


def test_a_custom_event_without_properties() -> None:
    row = website_event(_id(3), T0, event_type=2, event_name="download")
    [event] = _page(UmamiTables([row], [], NOW), um.UmamiMapping(), {})[1].events
    assert event.data["name"] == "download" and event.data["data"] == {}


def test_link_pixel_and_performance_events_are_not_read() -> None:
    rows = [website_event(_id(n), T0, event_type=n) for n in (3, 4, 5)] + [website_event(_id(9), T0)]
    page = _page(UmamiTables(rows, [], NOW), um.UmamiMapping(), {})[1]
    assert [e.data["path"] for e in page.events] == ["/"] and page.state["cursor"]["id"] == str(_id(9))


def test_paging_never_skips_rows_with_equal_timestamps() -> None:
    rows = [website_event(_id(n), T0, url_path=f"/{n}") for n in (5, 3, 1, 4, 2)]
    rows.append(website_event(_id(6), T0 + timedelta(microseconds=1), url_path="/6"))
    tables = UmamiTables(rows, [], NOW)
    mapping = um.UmamiMapping()
    state: dict[str, Any] = {}
    seen = []
    for _attempt in range(10):
        page_rows, page = _page(tables, mapping, state, limit=2)
        seen += [e.data["path"] for e in page.events]
        state = json.loads(json.dumps(page.state))  # as the cursor store keeps it
        if len(page_rows) < 2:
            break
    assert seen == ["/1", "/2", "/3", "/4", "/5", "/6"]  # every row once, in (created_at, event_id) order


def test_the_uuid_order_is_the_text_order() -> None:
    # PostgreSQL orders uuid bytewise; the cursor compares canonical (lower-case) text: the same order
    ids = sorted(uuid.uuid4() for _number in range(50))
    assert sorted(str(i) for i in ids) == [str(i) for i in ids]


def test_rows_not_yet_settled_wait_for_the_next_poll() -> None:
    rows = [website_event(_id(1), NOW - timedelta(seconds=6)), website_event(_id(2), NOW - timedelta(seconds=4))]
    tables = UmamiTables(rows, [], NOW)
    mapping = um.UmamiMapping(settle_seconds=5)
    page = _page(tables, mapping, {})[1]
    assert [e.id for e in page.events] == [envelope.event_id("umami", f"event:{_id(1)}")]
    tables.now = NOW + timedelta(seconds=2)
    later = _page(tables, mapping, page.state)[1]
    assert [e.id for e in later.events] == [envelope.event_id("umami", f"event:{_id(2)}")]


def test_a_restart_rereads_the_same_rows_into_the_same_bytes() -> None:
    rows = [website_event(_id(n), T0 + timedelta(seconds=n)) for n in (1, 2)]
    tables = UmamiTables(rows, [], NOW)
    first = _page(tables, um.UmamiMapping(), {})[1]
    again = _page(tables, um.UmamiMapping(), {})[1]  # the state was not saved: the same page
    assert [e.encode() for e in first.events] == [e.encode() for e in again.events]
    after = _page(tables, um.UmamiMapping(), json.loads(json.dumps(first.state)))[1]
    assert after.events == [] and after.position is None  # nothing after the saved cursor


def test_rows_at_or_before_the_cursor_are_skipped_whatever_their_order() -> None:
    cursor = KeysetCursor(T0, str(_id(5)))
    tables = UmamiTables([website_event(_id(n), T0) for n in (6, 4, 5)], [], NOW)
    events, after, unreadable = um.map_rows([tables._row(row) for row in tables.events], cursor)
    assert [e.id for e in events] == [envelope.event_id("umami", f"event:{_id(6)}")]
    assert after == KeysetCursor(T0, str(_id(6))) and unreadable == []


def test_the_website_filter() -> None:
    rows = [website_event(_id(1), T0), website_event(_id(2), T0, website_id=OTHER_SITE)]
    tables = UmamiTables(rows, [], NOW)
    page = _page(tables, um.UmamiMapping(websites=[str(OTHER_SITE).upper()]), {})[1]
    assert [e.data["website"] for e in page.events] == [str(OTHER_SITE)]
    assert len(_page(tables, um.UmamiMapping(websites=[]), {})[1].events) == 2
    with pytest.raises(EventsError) as caught:
        um.UmamiMapping(websites=["blog"])
    assert str(caught.value) == 'websites[0]: "blog" is not a website id (a UUID)'


def test_the_baseline_is_the_newest_row_not_in_the_future() -> None:
    rows = [website_event(_id(1), T0), website_event(_id(2), T0), website_event(_id(3), NOW + timedelta(days=1))]
    tables = UmamiTables(rows, [], NOW)
    mapping = um.UmamiMapping()
    [row] = tables.execute(*mapping.baseline_query())
    state = mapping.baseline_state(row)
    assert state == {"cursor": {"time": "2026-12-07T10:00:00.123456Z", "id": str(_id(2))}}
    assert mapping.baseline_state(None) == {"cursor": {"time": "1970-01-01T00:00:00.000000Z", "id": ""}}
    # the row from the future is read once its time has come (and settled)
    tables.now = NOW + timedelta(days=1, seconds=5)
    assert [e.data["path"] for e in _page(tables, mapping, state)[1].events] == ["/"]


def test_a_row_that_cannot_be_an_event_is_passed_over_and_named() -> None:
    rows = [website_event(_id(1), T0, event_type=2, event_name=None), website_event(_id(2), T0)]
    page = _page(UmamiTables(rows, [], NOW), um.UmamiMapping(), {})[1]
    assert [e.topic for e in page.events] == ["kompose/analytics/pageview"]
    assert page.state["cursor"]["id"] == str(_id(2))  # past it: it would fail the same way each time
    assert page.unreadable == (
        f"event_id {_id(1)}: kompose/analytics/event v1: data.name: null is not a string",
    )


def test_a_broken_cursor_column_stops_the_page() -> None:
    row = website_event(_id(1), None)
    with pytest.raises(EventsError) as caught:
        um.map_rows([{**row, "data_keys": None}], KeysetCursor())
    assert str(caught.value) == "row.created_at: null is not a timestamp"


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"cursor": {"time": "soon", "id": ""}}, 'cursor.time: "soon" is not an RFC 3339 time'),
        ({"cursor": {"time": "2026-12-07T10:00:00Z", "id": 7}}, "cursor.id: 7 is not a row id (a string)"),
        ({"cursor": "x"}, 'cursor: "x" is not a mapping with time and id'),
    ],
)
def test_a_bad_stored_state_names_the_key(state: dict[str, Any], message: str) -> None:
    with pytest.raises(EventsError) as caught:
        um.UmamiMapping().changes_query(state, 100)
    assert str(caught.value) == message


def test_the_module_grants_are_the_mapping_s() -> None:
    assert um.grants("umami_events") == um.UmamiMapping().grants("umami_events")
    with pytest.raises(EventsError):
        um.grants("umami-events; --")
