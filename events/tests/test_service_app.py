"""The whole service wired from a config, with fake MQTT clients and a fake Redis; /metrics,
/healthz, the health command, a run from start to SIGTERM-like stop."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Clock
from payloads import PAYLOADS
from db_doubles import PERMISSION_DENIED, FakeDatabase, UmamiTables, utc
from service_doubles import (
    DATABASE_ENV,
    ENV,
    FakeMqtt,
    ListRedis,
    SmtpResponder,
    Target,
    example_config,
    polled_sources,
)

from kompose_events import envelope, health
from kompose_events.service import cli
from kompose_events.service.app import Service
from kompose_events.service.config import validate

VAULT_LINE = (
    "[2026-12-07 10:00:01.000][vaultwarden::api::identity][ERROR] Username or password is incorrect. "
    "Try again. IP: 172.16.0.5. Username: eve@example.org.\n"
)


class Built:
    def __init__(
        self, tmp_path: Path, target: Target, redis: bool = True, smtp_port: int = 1, automation: bool = True
    ) -> None:
        raw = example_config()
        if not automation:
            raw.update(automation=None, rules=[])
        raw["services"] = {name: target.url for name in raw["services"]}
        raw["smtp"].update(host="127.0.0.1", port=smtp_port)
        raw["sources"][0]["path"] = str(tmp_path / "vaultwarden.log")
        raw["sources"][0]["threshold"] = 1
        if not redis:
            raw["redis"] = None
        self.clients: dict[str, FakeMqtt] = {}
        self.store = ListRedis(Clock())
        self.redis_calls: list[Any] = []

        def make_client(name: str, login: Any, password: str | None, subscriber: bool) -> FakeMqtt:
            client = FakeMqtt(name)
            client.password = password
            self.clients[name] = client
            return client

        def make_redis(settings: Any, password: str | None) -> tuple[Any, tuple[type[BaseException], ...]]:
            self.redis_calls.append((settings.host, settings.username, password))
            return self.store, (ConnectionError,)

        self.service = Service(validate(raw, ENV), ENV, mqtt=make_client, redis=make_redis)
        self.service.server.poll_interval = 0.01
        self.url = f"http://127.0.0.1:{self.service.server.port}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.close()


def test_the_service_is_wired_from_the_config(tmp_path: Path, target: Target) -> None:
    built = Built(tmp_path, target)
    try:
        assert sorted(built.clients) == ["alertmanager", "automation", "vaultwarden"]
        assert built.clients["automation"].filters == ["kompose/#"]
        assert built.clients["automation"].password == "mqtt-automation-secret"
        assert built.clients["vaultwarden"].password == "mqtt-vaultwarden-secret"
        assert built.redis_calls == [("core-redis", "events", "redis-secret")]
        assert list(built.service.server.site.webhooks) == ["/hooks/alertmanager"]
    finally:
        built.service.server.server_close()


def test_metrics_and_healthz(tmp_path: Path, target: Target) -> None:
    built = Built(tmp_path, target)
    built.service.server.start()
    try:
        built.service.engine.start()
        built.clients["vaultwarden"].connected = False
        status, text = built.get("/metrics")
        assert status == 200
        assert 'kompose_events_mqtt_connected{client="automation"} 1' in text
        assert 'kompose_events_mqtt_connected{client="vaultwarden"} 0' in text
        assert 'kompose_events_parked{rule="vault-failure-to-gotify"} 0' in text
        assert 'kompose_events_rule_queue{rule="bookmark-added-to-umami"} 0' in text
        assert "# TYPE kompose_events_actions_total counter" in text
        assert built.get("/healthz") == (200, '{"status": "ok"}\n')
        built.clients["automation"].connected = False
        built.store.down = True
        status, text = built.get("/healthz")
        assert status == 503
        assert json.loads(text) == {
            "status": "unhealthy",
            "reasons": [
                "mqtt automation: not connected",
                "redis: ConnectionError: Error 111 connecting to core-redis:6379. Connection refused.",
            ],
        }
        assert built.get("/nothing")[0] == 404
    finally:
        built.service.server.stop()


def test_the_health_command(tmp_path: Path, target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    built = Built(tmp_path, target)
    built.service.server.start()
    try:
        assert cli.main(["health", "--url", built.url + "/healthz"]) == 0
        assert capsys.readouterr().out == 'healthy: HTTP 200 {"status": "ok"}\n'
        built.clients["automation"].connected = False
        assert cli.main(["health", "--url", built.url + "/healthz"]) == 1
        assert "unhealthy: HTTP 503" in capsys.readouterr().out
    finally:
        built.service.server.stop()
    assert cli.main(["health", "--url", built.url + "/healthz"]) == 1  # nobody answers
    assert capsys.readouterr().out.startswith(f"unhealthy: {built.url}/healthz: ")


def test_without_redis_the_stores_are_in_memory(
    tmp_path: Path, target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    built = Built(tmp_path, target, redis=False)
    try:
        assert built.redis_calls == [] and built.service.health() == []
        assert caplog.text.count("redis: not configured; dedup, cursors and parked jobs are kept in memory") == 1
    finally:
        built.service.server.server_close()


def test_a_run_from_start_to_stop(tmp_path: Path, target: Target, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    (tmp_path / "vaultwarden.log").write_text(VAULT_LINE)
    relay = SmtpResponder()
    built = Built(tmp_path, target, smtp_port=relay.port)
    service = built.service
    code: list[int] = []
    thread = threading.Thread(target=lambda: code.append(service.run()))
    thread.start()
    automation = built.clients["automation"]
    vault = built.clients["vaultwarden"]
    deadline = time.monotonic() + 2
    while not vault.published and time.monotonic() < deadline:
        time.sleep(0.01)
    # the source published the failed login; the broker hands it to the automation client
    [(topic, payload)] = vault.published
    receipt = automation.deliver(topic, payload)
    article = envelope.make(
        "letterspace",
        "c:1",
        "kompose/news/article/published",
        PAYLOADS["kompose/news/article/published"],
        "2026-12-07T10:00:00.000Z",
    )
    target.answers["/api/v1/links"] = [503]  # linkwarden is down: this one stays unsettled
    unsettled = automation.deliver(article.topic, article.encode())
    while receipt not in automation.acked and time.monotonic() < deadline:
        time.sleep(0.01)
    service.request_stop()  # what SIGTERM does
    thread.join(3)
    assert code == [0]
    assert receipt in automation.acked and unsettled not in automation.acked
    assert sorted(r["path"] for r in target.requests) == ["/api/v1/links", "/message"]
    [mail] = relay.messages
    relay.close()
    assert "Subject: [kompose] 1 failed Vaultwarden logins from 172.16.0.5" in mail["data"]
    assert all(client.stopped for client in built.clients.values())
    assert json.loads(built.store.get("events:cursor:vaultwarden"))["cursor"]["offset"] == len(VAULT_LINE)
    for secret in ENV.values():
        assert secret not in caplog.text
    assert "stopped" in caplog.text


def test_a_process_with_only_sources(tmp_path: Path, target: Target, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    (tmp_path / "vaultwarden.log").write_text(VAULT_LINE)
    built = Built(tmp_path, target, automation=False)
    service = built.service
    assert sorted(built.clients) == ["alertmanager", "vaultwarden"] and service.engine is None
    built.clients["vaultwarden"].connected = False
    assert service.health() == ["mqtt vaultwarden: not connected"]
    built.clients["vaultwarden"].connected = True
    code: list[int] = []
    thread = threading.Thread(target=lambda: code.append(service.run()))
    thread.start()
    deadline = time.monotonic() + 2
    while not built.clients["vaultwarden"].published and time.monotonic() < deadline:
        time.sleep(0.01)
    service.request_stop()
    thread.join(3)
    assert code == [0] and len(built.clients["vaultwarden"].published) == 1
    assert "no automation, sources: vaultwarden, alertmanager" in caplog.text


def test_with_listen_networks_it_listens_only_on_its_addresses_there_and_loopback():
    from kompose_events.service.http import bind_addresses

    local = ["127.0.0.1", "172.16.10.3", "172.16.20.70", "172.16.30.9"]
    assert bind_addresses("0.0.0.0", ()) == ["0.0.0.0"]
    # a network of the engine's own and Alertmanager's; not the one it shares with an app it calls
    assert bind_addresses("0.0.0.0", ("172.16.10.0/27", "172.16.20.64/27"), local) == ["127.0.0.1", "172.16.10.3", "172.16.20.70"]
    with pytest.raises(OSError, match=r"listen.networks: no address of this container is in 10.0.0.0/8"):
        bind_addresses("0.0.0.0", ("10.0.0.0/8",), local)


def test_local_addresses_lists_this_machine_s_loopback():
    from kompose_events.service.http import local_addresses

    assert "127.0.0.1" in local_addresses()


def test_the_database_sources_and_the_probe_are_wired(target: Target) -> None:
    raw = example_config()
    raw["sources"] = polled_sources()
    raw["sources"][3]["targets"] = [{"check": "app", "service": "umami", "url": target.url + "/health"}]
    environ = {**ENV, **DATABASE_ENV}
    clients: dict[str, FakeMqtt] = {}
    connects: list[tuple[str, str | None, str]] = []
    tables = UmamiTables([], [], utc(2026, 12, 7, 10))

    def make_client(name: str, login: Any, password: str | None, subscriber: bool) -> FakeMqtt:
        clients[name] = FakeMqtt(name)
        return clients[name]

    def connect(settings: Any, password: str | None, application_name: str) -> Any:
        connects.append((settings.dbname, password, application_name))
        if settings.dbname == "umami":
            return FakeDatabase(tables).connect()
        raise PERMISSION_DENIED  # as psycopg raises it from the first query; here at once

    service = Service(validate(raw, environ), environ, mqtt=make_client,
                      redis=lambda s, p: (ListRedis(Clock()), (ConnectionError,)), database=connect)
    service.server.poll_interval = 0.01
    assert [(type(p).__name__, p.name) for p in service.pollers] == [
        ("DatabaseSource", "linkwarden"), ("DatabaseSource", "umami"), ("DatabaseSource", "letterspace"),
        ("HealthProbe", "probe"),
    ]
    assert [p.mapping.app for p in service.pollers[:3]] == ["Linkwarden", "Umami", "LetterSpace"]
    assert service.pollers[1].mapping.websites == ("3f2c1a9e-7b4d-4c1e-9a0b-2d6f8e1c5a47",)
    assert service.pollers[2].mapping.article_url == "https://news.example.org/archive/{id}"
    assert service.pollers[0].user == "linkwarden_events" and service.pollers[3].interval == 60
    service.server.start()
    stop = threading.Event()
    threads = [threading.Thread(target=poller.run, args=(stop,)) for poller in service.pollers]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 2
        while not clients["probe"].published and time.monotonic() < deadline:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{service.server.port}"
        with urllib.request.urlopen(url + "/healthz", timeout=2) as answer:
            status, health = answer.status, json.loads(answer.read())
        with urllib.request.urlopen(url + "/metrics", timeout=2) as answer:
            metrics = answer.read().decode()
    finally:
        stop.set()
        for thread in threads:
            thread.join(1)
        service.server.stop()
    assert ("umami", "db-umami-secret", "kompose-events-umami") in connects  # the password from the environment
    # a source that fails does not make the process unhealthy: /healthz says why, with 200
    assert status == 200 and health["status"] == "ok"
    assert [note.split(":")[0] for note in health["sources"]] == ["source linkwarden", "source letterspace"]
    assert "the read-only login 'letterspace_events' does not have its column grants yet" in health["sources"][1]
    assert 'kompose_events_source_up{source="linkwarden"} 0' in metrics
    assert 'kompose_events_source_up{source="umami"} 1' in metrics
    assert 'kompose_events_received_total{source="probe",topic="kompose/system/health/check"} 1' in metrics
    for secret in DATABASE_ENV.values():
        assert secret not in json.dumps(health) + metrics
    [(topic, payload)] = clients["probe"].published
    assert envelope.decode(payload, topic).data == {
        "check": "app", "status": "pass", "service": "umami", "summary": "HTTP 200"}


def test_the_health_module(tmp_path: Path, target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m kompose_events.health URL``, the containers' check, says the same as the command."""
    built = Built(tmp_path, target)
    built.service.server.start()
    try:
        assert health.main([built.url + "/healthz"]) == 0
        assert capsys.readouterr().out == 'healthy: HTTP 200 {"status": "ok"}\n'
        assert health.check(built.url + "/nothing") == (False, 'unhealthy: HTTP 404 {"error": "not found"}')
    finally:
        built.service.server.stop()
    assert health.check("https://127.0.0.1:9100/healthz") == (False, "unhealthy: https://127.0.0.1:9100/healthz: not an http:// URL")


def test_the_health_module_refuses_what_is_not_http() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def answer() -> None:
            connection = listener.accept()[0]
            with connection:
                connection.recv(1024)
                connection.sendall(b"SSH-2.0-OpenSSH\r\n")

        thread = threading.Thread(target=answer)
        thread.start()
        healthy, line = health.check(f"http://127.0.0.1:{port}/healthz")
        thread.join()
    assert not healthy
    assert line == f"unhealthy: http://127.0.0.1:{port}/healthz: not an HTTP answer: 'SSH-2.0-OpenSSH'"
