"""The service: built from a validated config, started, stopped on SIGTERM or SIGINT.

Threads: the main thread runs the engine; paho runs one network thread per MQTT client (the
automation client, one per source); each polled source (the Vaultwarden log, the databases, the
health probe) has a thread; the HTTP server has one, plus one per request; the actions run in
``Workers``.

Stopping (SIGTERM/SIGINT, see ``run``): polling stops, the engine takes no new message, running actions get
up to ``GRACE_SECONDS`` and what they settle is acknowledged; then every client disconnects
without acknowledging anything else (the broker delivers it again after the restart) and the
process exits 0.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from .. import __version__
from ..delivery import Dispatcher, RetryPolicy
from ..sources.logfile import LogFile
from ..sources.vaultwarden import VaultwardenSource
from .actions import ActionRunner, Mailer
from .config import DATABASE_KINDS, Config, DatabaseSettings, MqttLogin, RedisSettings
from .dbsource import DatabaseSource, connect_postgres, mapping_for
from .engine import Engine
from .http import Server, Site, bind_addresses
from .metrics import ServiceMetrics
from .probe import HealthProbe
from .sources import AlertmanagerWebhook, LogSource
from .stores import Stopping, Stores, connect_redis, memory_stores, redis_stores
from .workers import Workers

LOG = logging.getLogger(__name__)
GRACE_SECONDS = 5.0


def default_mqtt(config: Config) -> Callable[[str, MqttLogin, str | None, bool], Any]:
    """How the service makes its MQTT clients (tests pass a fake instead)."""
    from .mqtt import MqttClient  # imports paho

    def make(name: str, login: MqttLogin, password: str | None, subscriber: bool) -> Any:
        return MqttClient(
            name,
            config.mqtt_host,
            config.mqtt_port,
            config.keepalive,
            login.client_id,
            login.username,
            password,
            subscriber,
        )

    return make


def default_redis(settings: RedisSettings, password: str | None) -> tuple[Any, tuple[type[BaseException], ...]]:
    return connect_redis(settings.host, settings.port, settings.username, password)


class Service:
    """Every part of the running engine, wired from the config."""

    def __init__(
        self,
        config: Config,
        environ: Mapping[str, str],
        mqtt: Callable[[str, MqttLogin, str | None, bool], Any] | None = None,
        redis: Callable[[RedisSettings, str | None], tuple[Any, tuple[type[BaseException], ...]]] = default_redis,
        workers: Any = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        database: Callable[[DatabaseSettings, str | None, str], Any] = connect_postgres,
    ) -> None:
        self.config = config
        self.stop = threading.Event()
        self.metrics = ServiceMetrics()
        self.stores = self._stores(environ, redis)
        make_client = mqtt or default_mqtt(config)

        def secret(name: str | None) -> str | None:
            return None if name is None else environ[name]

        self.clients: list[Any] = []
        # the rules: the automation client and the engine (none in a process that only runs sources)
        self.automation: Any = None
        self.engine: Engine | None = None
        self.workers: Any = None
        login = config.automation
        if login is not None:
            self.automation = make_client("automation", login, secret(login.password_env), True)
            self.clients.append(self.automation)
            smtp = config.smtp
            runner = ActionRunner(
                services=config.services,
                variables=config.variables,
                credentials={name: (c.header, c.prefix + environ[c.env]) for name, c in config.credentials.items()},
                gotify_tokens={name: environ[env] for name, env in config.gotify.items()},
                mailer=None if smtp is None else Mailer(smtp, secret(smtp.password_env)),
                publisher=self.automation,
                timeout=config.http_timeout,
            )
            dispatcher = Dispatcher(self.stores.dedup, policy or config.retry, clock, metrics=self.metrics)
            self.workers = workers or Workers(len(config.rules))
            self.engine = Engine(
                config.rules,
                dispatcher,
                runner,
                self.stores.parking,
                self.automation,
                self.metrics,
                self.workers,
                self.stores.patience,
            )
            self.automation.subscribe(config.subscribe, self.engine.deliver)
        self.pollers: list[Any] = []  # LogSource, DatabaseSource, HealthProbe: each runs in a thread
        webhooks = {}
        for source in config.sources:
            client = make_client(source.name, source.mqtt, secret(source.mqtt.password_env), False)
            self.clients.append(client)
            if source.kind in DATABASE_KINDS:
                assert source.database is not None  # config.validate requires it for these kinds
                connect = partial(
                    database, source.database, secret(source.database.password_env), f"kompose-events-{source.name}"
                )
                self.pollers.append(
                    DatabaseSource(
                        source.name,
                        mapping_for(source),
                        connect,
                        client,
                        self.stores.cursors,
                        self.metrics,
                        source.interval,
                        source.batch,
                        user=source.database.user,
                    )
                )
            elif source.kind == "health-probe":
                self.pollers.append(
                    HealthProbe(
                        source.name,
                        source.targets,
                        client,
                        self.stores.cursors,
                        self.metrics,
                        source.interval,
                        source.timeout,
                    )
                )
            elif source.kind == "vaultwarden-log":
                reader = VaultwardenSource(source.threshold, source.window_seconds, name=source.name)
                self.pollers.append(
                    LogSource(
                        source.name,
                        reader,
                        LogFile(source.path),
                        client,
                        self.stores.cursors,
                        self.metrics,
                        source.interval,
                    )
                )
            else:
                webhooks[source.path] = AlertmanagerWebhook(source.name, source.path, client, self.metrics).handle
        site = Site(self.render_metrics, self.health, webhooks, self.notes)
        # one server per address (listen.networks: only the networks the engine serves on)
        self.servers = [Server(address, config.listen_port, site)
                        for address in bind_addresses(config.listen_host, config.listen_networks)]
        self.server = self.servers[0]
        self._threads: list[threading.Thread] = []

    def _stores(self, environ: Mapping[str, str], redis: Callable[..., Any]) -> Stores:
        settings = self.config.redis
        if settings is None:
            LOG.warning("redis: not configured; dedup, cursors and parked jobs are kept in memory and lost on restart")
            return memory_stores(self.stop)
        password = None if settings.password_env is None else environ[settings.password_env]
        client, errors = redis(settings, password)
        return redis_stores(client, settings.prefix, self.stop, errors)

    def request_stop(self) -> None:
        """Stop the service (what SIGTERM and SIGINT do)."""
        self.stop.set()
        if self.engine is not None:
            self.engine.wake()

    def render_metrics(self) -> str:
        return self.metrics.render_with((client.name, client.connected) for client in self.clients)

    def health(self) -> list[str]:
        """Why the process is not healthy (empty: it is).

        The automation client must be connected (a process without one: every source's client)
        and Redis must answer PING.
        """
        watched = [self.automation] if self.automation is not None else self.clients
        reasons = [f"mqtt {client.name}: not connected" for client in watched if not client.connected]
        problem = self.stores.problem()
        if problem:
            reasons.append(problem)
        return reasons

    def notes(self) -> list[str]:
        """The polled sources' current failures: shown by ``/healthz``, not making it fail.

        A database source fails until the collection has granted its login's columns, which it
        does once the app's stack is up; an unhealthy container could hold that deployment back,
        and a restart would not fix it. ``kompose_events_source_up`` and the log say it too.
        """
        return [f"source {poller.name}: {poller.problem}" for poller in self.pollers if poller.problem]

    def start(self) -> None:
        config = self.config
        redis = (
            "memory"
            if config.redis is None
            else f"redis {config.redis.host}:{config.redis.port} ({config.redis.prefix})"
        )
        LOG.info(
            "kompose-events %s: %s, sources: %s, stores: %s, listening on %s port %d",
            __version__,
            f"{len(config.rules)} rule(s)" if self.engine is not None else "no automation",
            ", ".join(s.name for s in config.sources) or "none",
            redis,
            ", ".join(server.server_address[0] for server in self.servers),
            self.server.port,
        )
        for server in self.servers:
            server.start()
        for client in self.clients:
            client.start()
        for poller in self.pollers:
            thread = threading.Thread(target=poller.run, args=(self.stop,), name=f"source-{poller.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def run(self) -> int:
        """Start, run the engine in this thread until ``stop`` is set, shut down; the exit code."""
        self.start()
        code = 0
        try:
            if self.engine is not None:
                self.engine.run(self.stop)
            else:
                self.stop.wait()  # only sources: their threads do the work
        except Stopping:
            pass
        except Exception:  # noqa: BLE001 (logged; the service still stops in order)
            LOG.exception("engine failed")
            code = 1
        self.stop.set()
        self.shutdown()
        return code

    def shutdown(self) -> None:
        if self.engine is not None:
            LOG.info("stopping: waiting up to %g s for running actions", GRACE_SECONDS)
            try:
                running = self.engine.drain(GRACE_SECONDS)
            except Stopping:
                running = self.engine.running
                LOG.warning("redis unreachable while stopping: unsettled messages stay unacknowledged")
            if running:
                LOG.warning("%d action(s) still running; their messages stay unacknowledged", running)
        else:
            LOG.info("stopping")
        for server in self.servers:
            server.stop()
        for client in self.clients:
            client.stop()
        if self.workers is not None:
            self.workers.close()
        for thread in self._threads:
            thread.join(timeout=1.0)
        LOG.info("stopped")


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def run(config: Config) -> int:
    """``kompose-events run``: the service until SIGTERM or SIGINT.

    The signals are blocked in every thread and taken by one thread with ``sigwait``, which only
    sets the stop flag: no Python signal handler runs in the middle of the engine's code.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # before any thread exists: all inherit it
    service = Service(config, os.environ)
    threading.Thread(target=_wait_for_signal, args=(service,), name="signals", daemon=True).start()
    return service.run()


def _wait_for_signal(service: Service) -> None:
    number = signal.sigwait(STOP_SIGNALS)
    LOG.info("received %s", signal.Signals(number).name)
    service.request_stop()
