"""The polled database sources: an app's PostgreSQL, read through a read-only login, into events.

``DatabaseSource`` runs one mapping (``sources/database.DatabaseMapping``: Linkwarden, Umami,
LetterSpace) every ``interval`` seconds:

1. the state comes from the cursor store (``<prefix>cursor:<name>``); without one (a first
   start) the mapping's baseline query gives the state just after the newest row, saved at once:
   the source publishes what happens from now on, not the app's history;
2. the mapping's changes query reads the next page (``batch`` rows) after the state's cursor; the
   events are published with the source's own MQTT client (QoS 1, ``publish_all``) and the new
   state is saved ONLY once the broker acknowledged every one. A failed publish keeps the old
   state: the same rows are read again and give the same events (same ids);
3. a full page means a backlog: the next page is read at once, not after ``interval``;
4. a periodic measurement that is due (Linkwarden's daily totals) is read, published and
   recorded in the state the same way.

The connection: psycopg 3, autocommit, every session ``SET default_transaction_read_only = on``
(and a statement timeout), one connection kept open; any database error closes it and the next
poll connects again. A failure is logged once while it lasts and retried every ``interval``; the
two that are expected around a deployment get a plain message: ``permission denied`` (the
read-only login's column grants are not there yet) and ``relation/column does not exist`` (the
app's migrations have not run yet) - the collection grants the columns after the app's stack is
up. The password is never logged (psycopg's messages do not contain it).

Metrics: ``event_in`` per event, the lag (the age of the newest row read; 0 once a page was not
full: caught up), and ``source_up`` (0 while a failure lasts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from ..envelope import Envelope
from ..metrics import source_lag
from ..sources.database import DatabaseMapping, Page, Query
from ..sources.letterspace import LetterSpaceMapping
from ..sources.linkwarden import LinkwardenMapping
from ..sources.umami import UmamiMapping
from .config import DatabaseSettings, SourceSettings
from .mqtt import PublishError
from .sources import report_problem
from .stores import Stopping

LOG = logging.getLogger(__name__)
PUBLISH_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5  # seconds (libpq's connect_timeout)
STATEMENT_TIMEOUT_MS = 30000


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class DatabaseProblem(Exception):
    """The database could not be reached or refused a query (the message explains it)."""


def mapping_for(settings: SourceSettings) -> DatabaseMapping:
    """The mapping a database source's kind names, with its settings."""
    if settings.kind == "linkwarden-db":
        return LinkwardenMapping(settings.name, settings.settle_seconds, stats=settings.stats)
    if settings.kind == "umami-db":
        return UmamiMapping(settings.name, settings.settle_seconds, settings.websites)
    if settings.kind == "letterspace-db":
        return LetterSpaceMapping(settings.name, settings.settle_seconds, settings.article_url)
    raise ValueError(f"kind: {settings.kind!r} is not a database source")


def connect_postgres(settings: DatabaseSettings, password: str | None, application_name: str) -> Any:
    """A psycopg 3 connection: autocommit, rows as dicts, read-only session, statement timeout."""
    import psycopg  # only the run command needs it
    from psycopg.rows import dict_row

    connection = psycopg.connect(
        host=settings.host,
        port=settings.port,
        dbname=settings.dbname,
        user=settings.user,
        password=password,
        connect_timeout=CONNECT_TIMEOUT,
        application_name=application_name,
        autocommit=True,
        row_factory=dict_row,
    )
    try:
        connection.execute("SET default_transaction_read_only = on")
        connection.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    except Exception:
        connection.close()
        raise
    return connection


class DatabaseSource:
    """Polls an app's database through ``mapping`` and publishes its events.

    ``connect()``: a new connection (the runtime's ``connect_postgres`` with the settings; the
    tests pass a fake with ``execute(sql, params).fetchall()`` and ``close()``); ``user``: the
    login's name, for the messages.
    """

    def __init__(
        self,
        name: str,
        mapping: DatabaseMapping,
        connect: Callable[[], Any],
        client: Any,
        cursors: Any,
        metrics: Any,
        interval: float = 5.0,
        batch: int = 100,
        user: str = "",
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.name = name
        self.mapping = mapping
        self.connect = connect
        self.client = client
        self.cursors = cursors
        self.metrics = metrics
        self.interval = interval
        self.batch = batch
        self.user = user
        self.now = now
        self.connection: Any = None
        self.state: dict[str, Any] | None = None
        self.loaded = False
        self.position: datetime | None = None
        self.problem: str | None = None

    def poll_once(self) -> bool:
        """Read a page, publish, save; True when a full page was read (more is waiting)."""
        if not self.loaded:
            self.state = self.cursors.load(self.name)
            self.loaded = True
        if self.state is None:
            rows = self._rows(self.mapping.baseline_query())
            state = self.mapping.baseline_state(rows[0] if rows else None)
            self.cursors.save(self.name, state)
            self.state = state
            LOG.info("source %s: first start: reading %s's rows from now on (cursor %s)",
                     self.name, self.mapping.app, state.get("cursor"))
        rows = self._rows(self.mapping.changes_query(self.state, self.batch))
        page = self.mapping.map_rows(rows, self.state)
        self._settle(page)
        more = len(rows) >= self.batch
        if page.position is not None:
            self.position = page.position
        now = self.now()
        self.metrics.set_lag(self.name, source_lag(now, self.position, not more))
        due = self.mapping.periodic_query(self.state, now)
        if due is not None:
            rows = self._rows(due)
            self._settle(self.mapping.map_periodic(rows[0] if rows else None, self.state, now))
        return more

    def _settle(self, page: Page) -> None:
        """Publish a page's events, then (only then) save its state."""
        if page.unreadable:
            LOG.warning("source %s: %d row(s) passed over, they cannot become events: %s",
                        self.name, len(page.unreadable), "; ".join(page.unreadable))
        self._publish(page.events)
        if page.state != self.state:
            self.cursors.save(self.name, page.state)  # only after the broker has the events
            self.state = page.state

    def _publish(self, events: list[Envelope]) -> None:
        if not events:
            return
        self.client.publish_all([(event.topic, event.encode()) for event in events], PUBLISH_TIMEOUT)
        for event in events:
            self.metrics.event_in(self.name, event.topic)
        LOG.info("source %s: published %d event(s)", self.name, len(events))

    def _rows(self, query: Query) -> list[Mapping[str, Any]]:
        """The rows of a query; DatabaseProblem (the connection closed) when it fails."""
        sql, params = query
        try:
            if self.connection is None:
                self.connection = self.connect()
            return list(self.connection.execute(sql, params).fetchall())
        except Exception as error:  # noqa: BLE001 (any failure: drop the connection, explain, retry)
            self.disconnect()
            raise DatabaseProblem(self.explain(error)) from None

    def disconnect(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 (it is gone either way)
                pass

    def explain(self, error: BaseException) -> str:
        """A database error as a log line: what failed and, for the expected ones, why."""
        text = " ".join(str(error).split("\n", maxsplit=1)[0].split()) or type(error).__name__
        sqlstate = getattr(error, "sqlstate", None)
        app = self.mapping.app
        if sqlstate == "42501" or text.startswith("permission denied"):
            return (
                f"{text}: the read-only login {self.user!r} does not have its column grants yet (the "
                f"collection grants them once {app}'s stack is up); retrying every {self.interval:g} s"
            )
        if sqlstate in ("42P01", "42703") or (
            text.startswith(("relation ", "column ")) and text.endswith("does not exist")
        ):
            return (
                f"{text}: {app}'s tables are not there yet (its migrations run when it starts; the "
                f"collection then grants the columns); retrying every {self.interval:g} s"
            )
        return f"database: {text}; retrying every {self.interval:g} s"

    def run(self, stop: Any) -> None:
        """Poll until ``stop`` is set; a failure is logged (once while it lasts) and retried."""
        try:
            while not stop.is_set():
                more = False
                try:
                    more = self.poll_once()
                    self._report(None)
                except Stopping:
                    return
                except PublishError as error:
                    self._report(f"{error}; the cursor stays, the rows will be read again")
                except DatabaseProblem as problem:
                    self._report(str(problem))
                except Exception as error:  # noqa: BLE001 (a source keeps trying; the log says why)
                    self._report(f"{type(error).__name__}: {error}")
                if not more:
                    stop.wait(self.interval)
        finally:
            self.disconnect()

    def _report(self, problem: str | None) -> None:
        report_problem(LOG, self, problem)
