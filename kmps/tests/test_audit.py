"""The kmps database's migrations, the audit rows, and the MQTT envelope."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import uuid
from typing import Any

import pytest
from conftest import NOW, FakeConnection, FakePublisher, FakeServer, fake_connector

from kmps_portal.audit import (
    MIGRATIONS,
    AuditLog,
    AuditUnavailable,
    Database,
    Migration,
    envelope,
    format_time,
    migrate,
)
from kmps_portal.errors import PortalError
from kmps_portal.metrics import Metrics


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_migrations_are_applied_in_order_once(pg: FakeServer) -> None:
    connection = FakeConnection(pg)
    assert run(migrate(connection)) == [1, 2]
    assert pg.tables["schema_version"] == [(1, "the audit table"), (2, "the results an audit row may hold")]
    assert pg.tables["audit"]["checked"] and pg.tables["audit"]["index"]
    assert pg.statements[0].startswith("SELECT pg_advisory_xact_lock")
    assert run(migrate(connection)) == []  # idempotent: a second start changes nothing
    assert run(migrate(FakeConnection(pg))) == []


def test_a_failed_migration_leaves_the_schema_as_it_was(pg: FakeServer) -> None:
    pg.fail = lambda sql: RuntimeError("disk full") if sql.startswith("ALTER TABLE audit") else None
    with pytest.raises(RuntimeError, match="disk full"):
        run(migrate(FakeConnection(pg)))
    assert pg.tables == {}  # one transaction: migration 1 was rolled back too
    pg.fail = lambda sql: None
    assert run(migrate(FakeConnection(pg))) == [1, 2]


def test_a_later_migration_is_applied_on_the_next_start(pg: FakeServer) -> None:
    run(migrate(FakeConnection(pg), MIGRATIONS[:1]))
    assert [row[0] for row in pg.tables["schema_version"]] == [1]
    assert run(migrate(FakeConnection(pg))) == [2]


def test_a_newer_schema_is_refused(pg: FakeServer) -> None:
    future = (*MIGRATIONS, Migration(3, "from the future", ("CREATE INDEX audit_at ON audit (at DESC)",)))
    run(migrate(FakeConnection(pg), future))
    with pytest.raises(PortalError, match=r"schema version 3, newer than this portal knows \(2\)"):
        run(migrate(FakeConnection(pg)))


def test_the_migrations_are_ordered_and_numbered_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def audit_log(pg: FakeServer, publisher: FakePublisher | None) -> tuple[AuditLog, Metrics]:
    metrics = Metrics()
    return AuditLog(Database(fake_connector(pg)), publisher, metrics, "kompose/system/audit", lambda: NOW), metrics


def test_a_write_is_recorded_before_and_after_and_published(pg: FakeServer, publisher: FakePublisher) -> None:
    log, metrics = audit_log(pg, publisher)

    async def work() -> None:
        entry = await log.begin("admin", "user-disable", "alice (u-1)")
        assert [r["result"] for r in pg.tables["audit"]["rows"]] == ["started"]
        await log.finish(entry, "ok", "")

    run(work())
    (row,) = pg.tables["audit"]["rows"]
    assert (row["actor"], row["action"], row["target"], row["result"], row["detail"]) == (
        "admin", "user-disable", "alice (u-1)", "ok", "")
    ((topic, payload),) = publisher.messages
    assert topic == "kompose/system/audit/user-disable"
    message = json.loads(payload)
    assert set(message) == {"id", "topic", "version", "time", "source", "data"}
    assert uuid.UUID(message["id"]).version == 4 and str(uuid.UUID(message["id"])) == message["id"]
    assert (message["topic"], message["version"], message["source"]) == (topic, 1, "kmps")
    assert message["time"] == "2026-01-02T10:33:20.000Z"
    assert message["data"] == {"audit_id": 1, "actor": "admin", "action": "user-disable", "target": "alice (u-1)",
                               "result": "ok", "detail": ""}
    assert payload == json.dumps(message, sort_keys=True, separators=(",", ":")).encode()  # canonical
    assert metrics.actions == {("user-disable", "ok"): 1}


def test_failures_are_recorded_too(pg: FakeServer, publisher: FakePublisher) -> None:
    log, metrics = audit_log(pg, publisher)

    async def work() -> None:
        entry = await log.begin("admin", "service-restart", "core-redis")
        await log.finish(entry, "failed", "Docker refused the restart: HTTP 500")

    run(work())
    assert pg.tables["audit"]["rows"][0]["result"] == "failed"
    assert publisher.decoded()[0]["data"]["result"] == "failed"
    assert metrics.actions == {("service-restart", "failed"): 1}


def test_an_mqtt_failure_is_logged_and_does_not_fail_the_action(pg: FakeServer, publisher: FakePublisher,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    publisher.fail = ConnectionError("not connected")
    log, metrics = audit_log(pg, publisher)

    async def work() -> None:
        entry = await log.begin("admin", "user-logout", "alice")
        await log.finish(entry, "ok")

    with caplog.at_level(logging.WARNING, logger="kmps.audit"):
        run(work())
    assert pg.tables["audit"]["rows"][0]["result"] == "ok"
    assert metrics.publish_failures == 1
    assert "audit row 1: not published on kompose/system/audit/user-logout: not connected" in caplog.text


def test_without_the_database_nothing_may_be_done(pg: FakeServer, publisher: FakePublisher) -> None:
    pg.refuse_connections = PortalError("the database cannot be reached: connection refused", upstream="PostgreSQL")
    log, metrics = audit_log(pg, publisher)
    with pytest.raises(AuditUnavailable, match=r"the audit log cannot be written \(the database cannot be reached: connection refused\)"):
        run(log.begin("admin", "user-disable", "alice"))
    assert publisher.messages == [] and metrics.actions == {("user-disable", "refused"): 1}


def test_a_lost_result_is_logged_and_the_started_row_stays(pg: FakeServer, publisher: FakePublisher,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    log, dummy = audit_log(pg, publisher)

    async def work() -> None:
        entry = await log.begin("admin", "user-enable", "bob")
        pg.fail = lambda sql: RuntimeError("server closed the connection") if sql.startswith("UPDATE") else None
        await log.finish(entry, "ok")

    with caplog.at_level(logging.ERROR, logger="kmps.audit"):
        run(work())
    assert pg.tables["audit"]["rows"][0]["result"] == "started"
    assert "the result 'ok' could not be written" in caplog.text
    assert publisher.decoded()[0]["data"]["result"] == "ok"


def test_a_broken_connection_is_replaced(pg: FakeServer) -> None:
    database = Database(fake_connector(pg))

    async def work() -> None:
        await database.ensure()
        pg.fail = lambda sql: RuntimeError("terminating connection") if sql == "SELECT 1" else None
        assert not await database.ping()
        pg.fail = lambda sql: None
        assert await database.ping()

    run(work())
    assert pg.connections == 2


def test_recent_rows_newest_first(pg: FakeServer) -> None:
    log, dummy = audit_log(pg, None)

    async def work() -> Any:
        for n in range(5):
            entry = await log.begin("admin", "user-enable", f"user{n}")
            await log.finish(entry, "ok")
        return await log.recent(3), await log.recent(10, before=3)

    newest, older = run(work())
    assert [r.target for r in newest] == ["user4", "user3", "user2"]
    assert [r.id for r in older] == [2, 1]
    assert newest[0].at.year == 2026


def test_long_texts_are_cut(pg: FakeServer) -> None:
    log, dummy = audit_log(pg, None)

    async def work() -> None:
        entry = await log.begin("admin", "user-invite", "x" * 5000)
        await log.finish(entry, "failed", "y" * 5000)

    run(work())
    row = pg.tables["audit"]["rows"][0]
    assert len(row["target"]) == 2000 and row["target"].endswith("...") and len(row["detail"]) == 2000


def test_envelope_and_time_format() -> None:
    message = envelope("kompose/system/audit/x", {"a": 1}, 1767350000.5)
    assert message["time"] == "2026-01-02T10:33:20.500Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", format_time(0.001))
    assert envelope("t", {}, 0)["id"] != envelope("t", {}, 0)["id"]


# -- optional: a real PostgreSQL (tests/integration/servers.sh of the collection) ---------------

PG_PORT = os.environ.get("KMPS_TEST_PG_PORT")


@pytest.mark.skipif(not PG_PORT, reason="KMPS_TEST_PG_PORT not set (a throwaway PostgreSQL: see README.md)")
def test_migrations_and_audit_on_a_real_postgresql() -> None:
    import psycopg

    from kmps_portal.audit import psycopg_connector
    from kmps_portal.config import DatabaseSettings

    password = os.environ.get("KMPS_TEST_PG_PASSWORD", "kompose-test-superuser")
    dbname = f"kmps_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host="127.0.0.1", port=int(PG_PORT or 0), user="postgres", password=password,
                         dbname="postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {dbname}")
    try:
        settings = DatabaseSettings("127.0.0.1", int(PG_PORT or 0), dbname, "postgres", "X", "disable")
        connect = psycopg_connector(settings, password)
        publisher = FakePublisher()

        async def work() -> Any:
            first = await connect()
            applied = [await migrate(first), await migrate(first)]
            await first.close()
            # two portals starting at once: the advisory lock serialises them
            a, b = await connect(), await connect()
            await asyncio.gather(migrate(a), migrate(b))
            await a.close()
            await b.close()
            database = Database(connect)
            log = AuditLog(database, publisher, Metrics(), "kompose/system/audit", lambda: NOW)
            entry = await log.begin("admin", "service-restart", "core-redis")
            await log.finish(entry, "ok", "Docker restarted it in 1.2 s")
            rows = await log.recent(10)
            with pytest.raises(PortalError, match="audit_result"):
                await database.fetch("UPDATE audit SET result = %s, detail = %s WHERE id = %s RETURNING id",
                                     ("maybe", "", entry.id))
            versions = await database.fetch("SELECT version FROM schema_version ORDER BY version")
            assert await database.ping()
            await database.close()
            return applied, rows, versions

        applied, rows, versions = run(work())
        assert applied == [[1, 2], []]
        assert [(r.actor, r.action, r.target, r.result, r.detail) for r in rows] == [
            ("admin", "service-restart", "core-redis", "ok", "Docker restarted it in 1.2 s")]
        assert versions == [(1,), (2,)]
        assert publisher.decoded()[0]["data"]["audit_id"] == rows[0].id
    finally:
        with psycopg.connect(host="127.0.0.1", port=int(PG_PORT or 0), user="postgres", password=password,
                             dbname="postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def test_an_unreachable_real_database_is_named_without_the_password() -> None:
    from kmps_portal.audit import psycopg_connector
    from kmps_portal.config import DatabaseSettings

    settings = DatabaseSettings("127.0.0.1", 1, "kmps", "kmps", "X", "disable")
    with pytest.raises(PortalError) as caught:
        run(psycopg_connector(settings, "the-password-VALUE")())
    assert str(caught.value).startswith("the database cannot be reached: ")
    assert "the-password-VALUE" not in str(caught.value)
