"""The polled database source with a fake connection: publish then save, failures, baseline, stats."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from db_doubles import (
    CONNECTION_REFUSED,
    NO_RELATION,
    PERMISSION_DENIED,
    FakeDatabase,
    LinkwardenTables,
    UmamiTables,
    utc,
    website_event,
)
from service_doubles import FakeMqtt

from kompose_events import envelope
from kompose_events.delivery import MemoryCursorStore
from kompose_events.errors import EventsError
from kompose_events.service.dbsource import DatabaseProblem, DatabaseSource, mapping_for
from kompose_events.service.metrics import ServiceMetrics
from kompose_events.service.mqtt import PublishError
from kompose_events.sources.linkwarden import LinkwardenMapping
from kompose_events.sources.umami import UmamiMapping

NOW = utc(2026, 12, 7, 10, 0, 0)


class RecordingCursors(MemoryCursorStore):
    """A cursor store that notes how many events were published when each state was saved."""

    def __init__(self, client: FakeMqtt) -> None:
        super().__init__()
        self.client = client
        self.saves: list[int] = []

    def save(self, source: str, state: dict[str, Any]) -> None:
        self.saves.append(len(self.client.published))
        super().save(source, state)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _event(n: int, seconds_ago: float) -> dict[str, Any]:
    return website_event(uuid.UUID(int=n), NOW - timedelta(seconds=seconds_ago), url_path=f"/{n}")


class Setup:
    """An Umami source over fake tables, a fake broker client, a cursor store that records saves."""

    def __init__(self, rows: list[dict[str, Any]], batch: int = 100, stored: dict[str, Any] | None = None) -> None:
        self.tables = UmamiTables(rows, [], NOW)
        self.database = FakeDatabase(self.tables)
        self.client = FakeMqtt("umami")
        self.cursors = RecordingCursors(self.client)
        if stored is not None:
            MemoryCursorStore.save(self.cursors, "umami", stored)
        self.metrics = ServiceMetrics()
        self.clock = Clock(NOW)
        self.source = self.make()
        self.source.batch = batch

    def make(self) -> DatabaseSource:
        return DatabaseSource(
            "umami", UmamiMapping("umami", settle_seconds=5), self.database.connect, self.client, self.cursors,
            self.metrics, interval=0.01, batch=100, user="umami_events", now=self.clock,
        )

    def paths(self) -> list[str]:
        return [envelope.decode(payload, topic).data["path"] for topic, payload in self.client.published]


START = {"cursor": {"time": "1970-01-01T00:00:00.000000Z", "id": ""}}


def test_a_first_start_begins_after_the_newest_row() -> None:
    setup = Setup([_event(1, 3600), _event(2, 60)])
    assert setup.source.poll_once() is False
    assert setup.client.published == []  # no flood of old rows
    newest = {"time": "2026-12-07T09:59:00.000000Z", "id": str(uuid.UUID(int=2))}
    assert setup.cursors.load("umami") == {"cursor": newest}
    assert setup.cursors.saves == [0]  # the baseline is saved at once
    setup.tables.events.append(_event(3, 10))
    setup.source.poll_once()
    assert setup.paths() == ["/3"]


def test_events_are_published_then_the_cursor_is_saved() -> None:
    setup = Setup([_event(1, 60), _event(2, 30), _event(3, 1)], stored=START)
    assert setup.source.poll_once() is False
    assert setup.paths() == ["/1", "/2"]  # /3 is not settled yet
    assert setup.cursors.saves == [2]  # saved once, after both were acknowledged
    assert setup.cursors.load("umami")["cursor"]["id"] == str(uuid.UUID(int=2))
    assert setup.metrics.received.value(source="umami", topic="kompose/analytics/pageview") == 2
    assert setup.metrics.lag.value(source="umami") == 0  # caught up
    setup.source.poll_once()
    assert setup.cursors.saves == [2]  # nothing new, nothing saved


def test_a_failed_publish_keeps_the_cursor_and_the_same_rows_give_the_same_ids() -> None:
    setup = Setup([_event(1, 60), _event(2, 30)], stored=START)
    setup.client.fail_publish = "no PUBACK within 5 s"
    with pytest.raises(PublishError):
        setup.source.poll_once()
    assert setup.cursors.saves == [] and setup.cursors.load("umami") == START
    assert setup.metrics.received.value(source="umami", topic="kompose/analytics/pageview") == 0
    setup.client.fail_publish = None
    setup.source.poll_once()
    ids = [envelope.decode(p, t).id for t, p in setup.client.published]
    assert ids == [envelope.event_id("umami", f"event:{uuid.UUID(int=n)}") for n in (1, 2)]
    # a crash after the publish, before the save: a new process reads them again, same ids
    again = Setup([_event(1, 60), _event(2, 30)], stored=START)
    again.source.poll_once()
    assert [envelope.decode(p, t).id for t, p in again.client.published] == ids


def test_a_backlog_is_read_page_after_page_at_once() -> None:
    setup = Setup([_event(n, 600 - n) for n in range(1, 6)], batch=2, stored=START)
    assert setup.source.poll_once() is True  # a full page: more is waiting
    assert setup.metrics.lag.value(source="umami") == 598  # the age of the newest row read
    assert setup.source.poll_once() is True
    assert setup.source.poll_once() is False  # one row: caught up
    assert setup.metrics.lag.value(source="umami") == 0
    assert setup.paths() == ["/1", "/2", "/3", "/4", "/5"] and setup.cursors.saves == [2, 4, 5]


def test_a_page_full_of_rows_exactly_the_batch_reads_once_more() -> None:
    setup = Setup([_event(1, 60), _event(2, 30)], batch=2, stored=START)
    assert setup.source.poll_once() is True
    assert setup.source.poll_once() is False
    assert setup.paths() == ["/1", "/2"] and setup.cursors.saves == [2]


def test_a_database_failure_keeps_the_cursor_and_reconnects() -> None:
    setup = Setup([_event(1, 60)], stored=START)
    setup.source.poll_once()
    assert len(setup.database.connections) == 1  # one connection, kept
    setup.source.poll_once()
    assert len(setup.database.connections) == 1
    setup.tables.events.append(_event(2, 30))
    setup.database.fail = CONNECTION_REFUSED
    with pytest.raises(DatabaseProblem) as caught:
        setup.source.poll_once()
    assert str(caught.value) == (
        'database: connection failed: connection to server at "10.0.0.5", port 5432 failed: Connection refused; '
        "retrying every 0.01 s"
    )
    assert setup.database.connections[0].closed and setup.source.connection is None
    assert setup.cursors.load("umami")["cursor"]["id"] == str(uuid.UUID(int=1))
    setup.database.fail = None
    setup.database.refuse = CONNECTION_REFUSED
    with pytest.raises(DatabaseProblem):
        setup.source.poll_once()  # cannot connect either
    setup.database.refuse = None
    setup.source.poll_once()
    assert len(setup.database.connections) == 2 and setup.paths() == ["/1", "/2"]


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            PERMISSION_DENIED,
            "source umami: permission denied for table website_event: the read-only login 'umami_events' does "
            "not have its column grants yet (the collection grants them once Umami's stack is up); retrying every "
            "0.01 s",
        ),
        (
            NO_RELATION,
            'source umami: relation "website_event" does not exist: Umami\'s tables are not there yet (its '
            "migrations run when it starts; the collection then grants the columns); retrying every 0.01 s",
        ),
    ],
)
def test_the_loop_explains_a_missing_grant_or_table_once_and_keeps_trying(
    error: Exception, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    setup = Setup([_event(1, 60)])
    setup.database.fail = error
    stop = threading.Event()
    thread = threading.Thread(target=setup.source.run, args=(stop,))
    thread.start()
    deadline = datetime.now() + timedelta(seconds=2)
    while len(setup.database.queries) < 5 and datetime.now() < deadline:
        threading.Event().wait(0.005)
    assert setup.source.problem == message.removeprefix("source umami: ")
    assert setup.metrics.source_up.value(source="umami") == 0
    setup.database.fail = None  # the collection granted the columns
    while setup.cursors.load("umami") is None and datetime.now() < deadline:
        threading.Event().wait(0.005)
    stop.set()
    thread.join(1)
    assert caplog.text.count(message) == 1  # logged once while it lasted
    assert "source umami: working again" in caplog.text
    assert setup.source.problem is None and setup.metrics.source_up.value(source="umami") == 1
    assert setup.cursors.load("umami") is not None  # then the baseline
    assert setup.source.connection is None  # closed when the loop ended


def test_rows_passed_over_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    row = website_event(uuid.UUID(int=1), NOW - timedelta(seconds=60), event_type=2, event_name=None)
    setup = Setup([row], stored=START)
    setup.source.poll_once()
    assert "source umami: 1 row(s) passed over, they cannot become events: event_id 00000000-0000-0000-0000" in (
        caplog.text
    )
    assert setup.cursors.load("umami")["cursor"]["id"] == str(uuid.UUID(int=1))


# ---------------------------------------------------------------------------------------------
# Linkwarden through the same runtime: its state, and the daily totals


def _link(link_id: int, updated: datetime) -> dict[str, Any]:
    naive = updated.replace(tzinfo=None)
    return {"id": link_id, "name": f"Link {link_id}", "url": f"https://example.org/{link_id}",
            "collection": "Reading", "tags": ["ansible"], "createdAt": naive, "updatedAt": naive}


class Links:
    def __init__(self, rows: list[dict[str, Any]], stats: bool = True) -> None:
        totals = {"links": len(rows), "collections": 1, "users": 1}
        self.tables = LinkwardenTables(rows, NOW.replace(tzinfo=None), totals)
        self.database = FakeDatabase(self.tables)
        self.client = FakeMqtt("linkwarden")
        self.cursors = RecordingCursors(self.client)
        self.metrics = ServiceMetrics()
        self.clock = Clock(NOW)
        self.stats = stats

    def source(self) -> DatabaseSource:
        """A new source over the same store (a restart)."""
        return DatabaseSource("linkwarden", LinkwardenMapping("linkwarden", stats=self.stats), self.database.connect,
                              self.client, self.cursors, self.metrics, interval=0.01, user="linkwarden_events",
                              now=self.clock)

    def topics(self) -> list[str]:
        return [topic for topic, _payload in self.client.published]


def test_linkwarden_daily_stats_once_per_utc_day() -> None:
    links = Links([_link(1, NOW - timedelta(days=1))])
    source = links.source()
    source.poll_once()  # baseline, then today's totals
    assert links.topics() == ["kompose/linkwarden/stats/daily"]
    [(topic, payload)] = links.client.published
    event = envelope.decode(payload, topic)
    assert event.data == {"date": "2026-12-07", "links": 1, "collections": 1, "users": 1}
    assert event.id == envelope.event_id("linkwarden", "stats:2026-12-07")
    assert links.cursors.load("linkwarden")["stats_date"] == "2026-12-07"
    source.poll_once()
    links.source().poll_once()  # a restart the same day: not again
    assert links.topics() == ["kompose/linkwarden/stats/daily"]
    links.clock.now = utc(2026, 12, 8, 0, 0, 3)
    links.source().poll_once()
    assert links.topics() == ["kompose/linkwarden/stats/daily"] * 2
    assert envelope.decode(links.client.published[1][1]).data["date"] == "2026-12-08"


def test_linkwarden_stats_not_acknowledged_are_measured_again() -> None:
    links = Links([])
    source = links.source()
    links.client.fail_publish = "no PUBACK"
    with pytest.raises(PublishError):
        source.poll_once()
    assert "stats_date" not in links.cursors.load("linkwarden")  # the baseline was saved, the date not
    links.client.fail_publish = None
    source.poll_once()
    assert links.topics() == ["kompose/linkwarden/stats/daily"]


def test_linkwarden_links_and_no_stats_when_off() -> None:
    links = Links([_link(1, NOW - timedelta(hours=1))], stats=False)
    source = links.source()
    source.poll_once()
    links.tables.rows.append(_link(2, NOW - timedelta(seconds=30)))
    source.poll_once()
    assert links.topics() == ["kompose/linkwarden/bookmark/added"]
    state = links.cursors.load("linkwarden")
    assert state["cursor"] == {"updated_at": "2026-12-07T09:59:30.000000Z", "id": 2} and "2" in state["fingerprints"]
    assert "stats_date" not in state


def test_the_mapping_of_each_kind() -> None:
    from kompose_events.service.config import DatabaseSettings, MqttLogin, SourceSettings

    base = {"mqtt": MqttLogin("c", None, None), "database": DatabaseSettings("db", 5432, "d", "u", "E")}
    assert isinstance(mapping_for(SourceSettings("links", "linkwarden-db", stats=False, **base)), LinkwardenMapping)
    website = str(uuid.UUID(int=3))
    umami = mapping_for(SourceSettings("track", "umami-db", settle_seconds=9, websites=(website,), **base))
    assert isinstance(umami, UmamiMapping) and umami.settle_seconds == 9 and umami.source == "track"
    letters = mapping_for(SourceSettings("news", "letterspace-db", article_url="https://x.org/{id}", **base))
    assert letters.article_url == "https://x.org/{id}" and letters.app == "LetterSpace"


def test_a_bad_stored_state_is_named_and_not_a_database_problem() -> None:
    setup = Setup([_event(1, 60)], stored={"cursor": {"time": "yesterday", "id": ""}})
    with pytest.raises(EventsError) as caught:
        setup.source.poll_once()
    assert str(caught.value) == 'cursor.time: "yesterday" is not an RFC 3339 time'
    assert setup.database.connections == []  # refused before any query
