"""The audit log: every write the portal does, in its own ``kmps`` database and on MQTT.

**Schema.** The portal creates and migrates its schema itself, at start and on every new
connection, idempotently: a ``schema_version`` table lists the migrations applied, and the ones
missing are applied in order, all in one transaction behind an advisory lock (two replicas
starting together do not race; a failure leaves the schema as it was). A database whose schema is
newer than this portal knows is refused rather than written to.

**Two-phase record.** ``begin`` inserts the row with result ``started`` *before* the action; when
that insert fails the action is not done at all ("nothing was done: the audit log cannot be
written"), so no write escapes the log. ``finish`` sets the result (``ok``, ``failed``,
``partial``) and the detail. A process that dies in between leaves ``started``: an honest record
that the outcome is unknown.

**MQTT.** ``finish`` then publishes the row on ``<topic_prefix>/<action>``
(``kompose/system/audit/user-disable``) as the collection's event envelope ``{id, topic,
version, time, source, data}``: ``id`` a fresh uuid4, ``version`` 1, ``source`` ``kmps``, ``time``
the UTC time of the result (``YYYY-MM-DDTHH:MM:SS.mmmZ``), ``data`` ``{audit_id, actor, action,
target, result, detail}``; QoS 1, not retained. A publication that fails is logged and counted and
does not fail the action: the database row is the record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from .config import DatabaseSettings, MqttSettings
from .errors import PortalError
from .metrics import Metrics

log = logging.getLogger("kmps.audit")

RESULTS = ("started", "ok", "failed", "partial")
# pg_advisory_xact_lock key of the migrations: "kmps" as a number
MIGRATION_LOCK = 0x6B6D7073
MAX_TEXT = 2000
CONNECT_TIMEOUT = 3
ENVELOPE_VERSION = 1
SOURCE = "kmps"


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the audit table",
        (
            """CREATE TABLE audit (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at timestamptz NOT NULL DEFAULT now(),
                actor text NOT NULL,
                action text NOT NULL,
                target text NOT NULL,
                result text NOT NULL,
                detail text NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX audit_at ON audit (at DESC)",
        ),
    ),
    Migration(
        2,
        "the results an audit row may hold",
        ("ALTER TABLE audit ADD CONSTRAINT audit_result CHECK (result IN ('started', 'ok', 'failed', 'partial'))",),
    ),
)

SCHEMA_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version integer PRIMARY KEY,
    description text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


class AuditUnavailable(PortalError):
    """The audit row cannot be written: the action must not be done."""


# -- the database -------------------------------------------------------------------------------


class Cursor(Protocol):
    async def fetchall(self) -> list[tuple[Any, ...]]: ...


class Connection(Protocol):
    """The part of ``psycopg.AsyncConnection`` the portal uses (autocommit mode)."""

    closed: bool

    async def execute(self, query: str, params: Sequence[Any] | None = None) -> Cursor: ...

    def transaction(self) -> Any: ...

    async def close(self) -> None: ...


Connector = Callable[[], Awaitable[Connection]]


def psycopg_connector(settings: DatabaseSettings, password: str) -> Connector:
    """Opens an autocommit psycopg connection to the ``kmps`` database (psycopg imported here)."""

    async def connect() -> Connection:
        import psycopg

        try:
            return await psycopg.AsyncConnection.connect(
                host=settings.host,
                port=settings.port,
                dbname=settings.dbname,
                user=settings.user,
                password=password,
                sslmode=settings.sslmode,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="kmps",
                options="-c statement_timeout=5000 -c lock_timeout=5000",
                autocommit=True,
            )
        except psycopg.Error as error:
            # psycopg's message names host, port, user and the server's words; never the password
            raise PortalError(f"the database cannot be reached: {_first_line(error)}", upstream="PostgreSQL") from None

    return connect


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


async def migrate(connection: Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply the missing migrations in order, in one transaction; the versions applied."""
    known = max((m.version for m in migrations), default=0)
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await connection.execute(SCHEMA_VERSION_TABLE)
        rows = await (await connection.execute("SELECT version FROM schema_version ORDER BY version")).fetchall()
        applied = {row[0] for row in rows}
        newest = max(applied, default=0)
        if newest > known:
            raise PortalError(
                f"the kmps database is at schema version {newest}, newer than this portal knows ({known}); "
                "run the newer portal",
                upstream="PostgreSQL",
            )
        done = []
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in applied:
                continue
            for statement in migration.statements:
                await connection.execute(statement)
            await connection.execute(
                "INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                (migration.version, migration.description),
            )
            done.append(migration.version)
    return done


class Database:
    """One connection to the ``kmps`` database, opened (and the schema migrated) on demand.

    The portal's traffic is a few writes a day and one read per audit page, so one connection
    behind a lock is enough: no pool to size. A broken connection is dropped and the next call
    opens a new one (and checks the schema again).
    """

    def __init__(self, connect: Connector) -> None:
        self._connect = connect
        self._connection: Connection | None = None
        self._lock = asyncio.Lock()
        self.schema_version = 0

    async def _open(self) -> Connection:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        connection = await self._connect()
        try:
            applied = await migrate(connection)
        except Exception:
            await _close_quietly(connection)
            raise
        if applied:
            log.info("kmps database: applied schema migration(s) %s", ", ".join(map(str, applied)))
        self.schema_version = max((m.version for m in MIGRATIONS), default=0)
        self._connection = connection
        return connection

    async def fetch(self, query: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run ``query``; its rows. PortalError when the database cannot answer."""
        async with self._lock:
            connection = await self._open()
            try:
                cursor = await connection.execute(query, params)
                return await cursor.fetchall()
            except PortalError:
                raise
            except Exception as error:
                # the connection may be broken: drop it, the next call opens a new one
                self._connection = None
                await _close_quietly(connection)
                raise PortalError(f"the database failed: {_first_line(error)}", upstream="PostgreSQL") from None

    async def ensure(self) -> None:
        """Open the connection and migrate the schema now (at start)."""
        async with self._lock:
            await self._open()

    async def ping(self) -> bool:
        try:
            await asyncio.wait_for(self.fetch("SELECT 1"), timeout=CONNECT_TIMEOUT + 1)
            return True
        except (PortalError, asyncio.TimeoutError):
            return False

    async def close(self) -> None:
        if self._connection is not None:
            await _close_quietly(self._connection)
            self._connection = None


async def _close_quietly(connection: Connection) -> None:
    try:
        await connection.close()
    except Exception:  # noqa: BLE001 (closing a broken connection may fail too)
        pass


# -- MQTT -----------------------------------------------------------------------------------------


class Publisher(Protocol):
    async def publish(self, topic: str, payload: bytes) -> None: ...


class PublishError(Exception):
    """The broker did not take the message."""


class MqttPublisher:
    """paho-mqtt 2 in its own network thread; ``publish`` waits for the PUBACK (QoS 1), bounded."""

    def __init__(self, settings: MqttSettings, password: str, timeout: float = 2.0) -> None:
        self.settings = settings
        self._password = password
        self._timeout = timeout
        self._client: Any = None
        self._failing = False

    def start(self) -> None:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.settings.client_id)
        client.username_pw_set(self.settings.username, self._password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_queued_messages_set(100)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.connect_async(self.settings.host, self.settings.port, keepalive=30)
        client.loop_start()
        self._client = client

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT: the broker refused the connection: %s", reason)
        else:
            self._failing = False
            log.info("MQTT: connected to %s:%s", self.settings.host, self.settings.port)

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        # paho retries on its own (1 s to 30 s apart): said once, not at every retry
        if not self._failing:
            self._failing = True
            log.warning("MQTT: cannot connect to %s:%s; retrying in the background", self.settings.host, self.settings.port)

    @staticmethod
    def _on_disconnect(client: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None) -> None:
        log.info("MQTT: disconnected (%s); reconnecting in the background", reason)

    async def publish(self, topic: str, payload: bytes) -> None:
        import paho.mqtt.client as mqtt

        if self._client is None:
            raise PublishError("the MQTT client is not started")
        info = self._client.publish(topic, payload, qos=1, retain=False)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise PublishError(f"not sent: {mqtt.error_string(info.rc)}")
        await asyncio.to_thread(info.wait_for_publish, self._timeout)
        if not info.is_published():
            raise PublishError(f"no acknowledgement from the broker within {self._timeout:g} s")

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None


def format_time(moment: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``, the envelope's time format."""
    stamp = datetime.fromtimestamp(moment, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def envelope(topic: str, data: dict[str, Any], moment: float) -> dict[str, Any]:
    """The collection's event envelope for one audit event (a fresh id: each row is one fact)."""
    return {
        "id": str(uuid.uuid4()),
        "topic": topic,
        "version": ENVELOPE_VERSION,
        "time": format_time(moment),
        "source": SOURCE,
        "data": data,
    }


def encode(message: dict[str, Any]) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8), as the collection's events are encoded."""
    return json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# -- the log ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    id: int
    actor: str
    action: str
    target: str


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    result: str
    detail: str


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


class AuditLog:
    """Records actions in the database and publishes them on MQTT."""

    def __init__(
        self,
        database: Database,
        publisher: Publisher | None,
        metrics: Metrics,
        topic_prefix: str = "kompose/system/audit",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.publisher = publisher
        self.metrics = metrics
        self.topic_prefix = topic_prefix
        self._clock = clock

    async def begin(self, actor: str, action: str, target: str) -> Entry:
        """Write the ``started`` row; AuditUnavailable (the action must not run) if it cannot."""
        try:
            rows = await self.database.fetch(
                "INSERT INTO audit (actor, action, target, result) VALUES (%s, %s, %s, 'started') RETURNING id",
                (_cut(actor), action, _cut(target)),
            )
        except PortalError as error:
            self.metrics.action(action, "refused")
            raise AuditUnavailable(f"the audit log cannot be written ({error})", upstream="PostgreSQL") from None
        return Entry(id=int(rows[0][0]), actor=actor, action=action, target=target)

    async def finish(self, entry: Entry, result: str, detail: str = "") -> None:
        """Record the outcome and publish it; never raises (the action is already done)."""
        if result not in RESULTS[1:]:
            raise ValueError(f"unknown audit result {result!r}")
        self.metrics.action(entry.action, result)
        detail = _cut(detail)
        try:
            await self.database.fetch(
                "UPDATE audit SET result = %s, detail = %s WHERE id = %s RETURNING id", (result, detail, entry.id)
            )
        except PortalError as error:
            log.error("audit row %s (%s %s): the result %r could not be written: %s", entry.id, entry.action, entry.target, result, error)
        if self.publisher is None:
            return
        topic = f"{self.topic_prefix}/{entry.action}"
        data = {
            "audit_id": entry.id,
            "actor": entry.actor,
            "action": entry.action,
            "target": entry.target,
            "result": result,
            "detail": detail,
        }
        try:
            await self.publisher.publish(topic, encode(envelope(topic, data, self._clock())))
        except Exception as error:  # noqa: BLE001 (the row is the record; publication is best effort)
            self.metrics.publish_failures += 1
            log.warning("audit row %s: not published on %s: %s", entry.id, topic, error)

    async def recent(self, limit: int = 100, before: int | None = None) -> list[AuditRow]:
        rows = await self.database.fetch(
            "SELECT id, at, actor, action, target, result, detail FROM audit "
            "WHERE (%s::bigint IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
            (before, before, limit),
        )
        return [AuditRow(*row) for row in rows]
