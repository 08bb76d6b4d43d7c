"""The runtime's sources: the Vaultwarden log poller and the Alertmanager webhook (real HTTP)."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from service_doubles import FakeMqtt

from kompose_events import envelope
from kompose_events.delivery import MemoryCursorStore
from kompose_events.service.http import Server, Site
from kompose_events.service.metrics import ServiceMetrics
from kompose_events.service.mqtt import PublishError
from kompose_events.service.sources import AlertmanagerWebhook, LogSource
from kompose_events.sources.logfile import LogFile
from kompose_events.sources.vaultwarden import VaultwardenSource

FAILURE = (
    "[2026-12-07 10:00:0{n}.000][vaultwarden::api::identity][ERROR] Username or password is incorrect. "
    "Try again. IP: 172.16.0.5. Username: eve@example.org.\n"
)
OTHER = "[2026-12-07 10:00:00.120][request][INFO] POST /identity/connect/token\n"
NOW = datetime(2026, 12, 7, 10, 0, 30, tzinfo=timezone.utc)


class RecordingCursors(MemoryCursorStore):
    """A cursor store that notes how many events were published when each state was saved."""

    def __init__(self, client: FakeMqtt) -> None:
        super().__init__()
        self.client = client
        self.saves: list[int] = []

    def save(self, source: str, state: dict[str, Any]) -> None:
        self.saves.append(len(self.client.published))
        super().save(source, state)


def _source(tmp_path: Path) -> tuple[LogSource, FakeMqtt, RecordingCursors, ServiceMetrics, Path]:
    log = tmp_path / "vaultwarden.log"
    log.write_text(OTHER + FAILURE.format(n=1) + FAILURE.format(n=2))
    client = FakeMqtt("vaultwarden")
    cursors = RecordingCursors(client)
    metrics = ServiceMetrics()
    reader = VaultwardenSource(threshold=2, window_seconds=300, name="vaultwarden")
    source = LogSource("vaultwarden", reader, LogFile(str(log)), client, cursors, metrics, 0.01, now=lambda: NOW)
    return source, client, cursors, metrics, log


def test_the_log_source_publishes_then_saves_its_cursor(tmp_path: Path) -> None:
    source, client, cursors, metrics, log = _source(tmp_path)
    assert source.poll_once() is False
    events = [envelope.decode(payload, topic) for topic, payload in client.published]
    assert [event.data["attempts"] for event in events] == [1, 2]
    assert [event.data["locked"] for event in events] == [False, True]
    assert cursors.saves == [2]  # saved once, after both events were acknowledged by the broker
    assert cursors.load("vaultwarden")["cursor"]["offset"] == log.stat().st_size
    assert metrics.received.value(source="vaultwarden", topic="kompose/vault/security/failed") == 2
    assert metrics.lag.value(source="vaultwarden") == 0
    source.poll_once()
    assert len(client.published) == 2 and cursors.saves == [2]  # nothing new, nothing saved


def test_a_failed_publish_does_not_advance_the_cursor(tmp_path: Path) -> None:
    source, client, cursors, metrics, log = _source(tmp_path)
    client.fail_publish = "no PUBACK within 5 s"
    with pytest.raises(PublishError):
        source.poll_once()
    assert cursors.load("vaultwarden") is None and client.published == []
    assert metrics.received.value(source="vaultwarden", topic="kompose/vault/security/failed") == 0
    client.fail_publish = None
    source.poll_once()  # the same lines again, the same events
    first = [envelope.decode(payload, topic).id for topic, payload in client.published]
    assert len(first) == 2 and cursors.saves == [2]
    # a crash after the publish, before the save, re-publishes the same ids
    again, client2 = _source(tmp_path)[:2]
    again.logfile = source.logfile
    again.poll_once()
    assert [envelope.decode(payload, topic).id for topic, payload in client2.published] == first


def test_the_log_source_loop_logs_a_failure_once_and_keeps_trying(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, client, cursors = _source(tmp_path)[:3]
    client.connected = False
    stop = threading.Event()
    thread = threading.Thread(target=source.run, args=(stop,))
    thread.start()
    threading.Timer(0.05, lambda: setattr(client, "connected", True)).start()
    threading.Timer(0.1, stop.set).start()
    thread.join(1)
    assert caplog.text.count("source vaultwarden: mqtt vaultwarden: not connected; the cursor stays") == 1
    assert len(client.published) == 2 and cursors.saves[0] == 2


# ---------------------------------------------------------------------------------------------
# the Alertmanager webhook, through the HTTP server

PAYLOAD = {
    "version": "4",
    "groupKey": '{}:{alertname="BackupTooOld"}',
    "status": "firing",
    "receiver": "kompose-events",
    "groupLabels": {},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "BackupTooOld", "job": "node", "severity": "warning"},
            "annotations": {"summary": "No backup in 26h"},
            "startsAt": "2026-12-07T10:00:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": "c0ffee1234567890",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "TargetDown", "service": "umami", "job": "blackbox"},
            "annotations": {},
            "startsAt": "2026-12-07T09:00:00Z",
            "endsAt": "2026-12-07T09:30:00Z",
            "fingerprint": "abad1dea00000001",
        },
    ],
}


class Hook:
    def __init__(self) -> None:
        self.client = FakeMqtt("alertmanager")
        self.metrics = ServiceMetrics()
        webhook = AlertmanagerWebhook("alertmanager", "/hooks/alertmanager", self.client, self.metrics)
        site = Site(lambda: "", lambda: [], {"/hooks/alertmanager": webhook.handle})
        self.server = Server("127.0.0.1", 0, site)
        self.server.poll_interval = 0.01
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.port}"

    def post(self, body: Any, path: str = "/hooks/alertmanager") -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.server.stop()


def test_the_webhook_publishes_one_health_check_per_alert(hook: Hook) -> None:
    assert hook.post(PAYLOAD) == (200, {"published": 2})
    events = [envelope.decode(payload, topic) for topic, payload in hook.client.published]
    assert [event.topic for event in events] == ["kompose/system/health/check"] * 2
    assert events[0].data == {
        "check": "BackupTooOld",
        "status": "fail",
        "service": "node",
        "summary": "No backup in 26h",
    }
    assert events[0].time == "2026-12-07T10:00:00.123Z" and events[0].source == "alertmanager"
    assert events[1].data == {"check": "TargetDown", "status": "pass", "service": "umami"}
    assert events[1].time == "2026-12-07T09:30:00.000Z"  # when it was resolved
    assert events[0].id == envelope.event_id("alertmanager", "c0ffee1234567890:firing:2026-12-07T10:00:00.123456789Z")
    assert hook.metrics.received.value(source="alertmanager", topic="kompose/system/health/check") == 2
    # Alertmanager repeating the notification: the same ids (consumers drop them)
    hook.post(PAYLOAD)
    assert [envelope.decode(p, t).id for t, p in hook.client.published[2:]] == [event.id for event in events]


def test_the_webhook_answers_503_when_the_broker_did_not_acknowledge(hook: Hook) -> None:
    hook.client.fail_publish = "no PUBACK within 5 s"
    assert hook.post(PAYLOAD) == (503, {"error": "mqtt alertmanager: no PUBACK within 5 s"})
    hook.client.fail_publish = None
    hook.client.connected = False
    assert hook.post(PAYLOAD)[0] == 503
    assert hook.metrics.received.value(source="alertmanager", topic="kompose/system/health/check") == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "body: not JSON"),
        ({"status": "firing"}, "body: not an Alertmanager webhook payload"),
        ({**PAYLOAD, "version": "3"}, 'version: "3" is not the webhook version 4'),
        ({"alerts": [{**PAYLOAD["alerts"][0], "status": "pending"}]}, 'alerts[0].status: "pending" is not firing'),
        ({"alerts": [{**PAYLOAD["alerts"][0], "labels": {"job": "x"}}]}, 'alerts[0].labels: {"job": "x"} has no'),
        ({"alerts": [{**PAYLOAD["alerts"][0], "startsAt": "yesterday"}]}, 'alerts[0].startsAt: "yesterday" is not'),
        ({"alerts": [{**PAYLOAD["alerts"][0], "fingerprint": ""}]}, 'alerts[0].fingerprint: "" is not an alert'),
    ],
)
def test_the_webhook_answers_400_for_other_bodies(
    hook: Hook, body: Any, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    status, answer = hook.post(body)
    assert status == 400 and answer["error"].startswith(error)
    assert hook.client.published == []
    assert "source alertmanager: refused a webhook request" in caplog.text


def test_the_webhook_accepts_an_empty_group(hook: Hook) -> None:
    assert hook.post({**PAYLOAD, "alerts": []}) == (200, {"published": 0})


def test_other_paths_and_methods(hook: Hook) -> None:
    assert hook.post(PAYLOAD, path="/hooks/other")[0] == 404
    try:
        urllib.request.urlopen(hook.url + "/hooks/alertmanager", timeout=2)
    except urllib.error.HTTPError as error:
        assert error.code == 405
    else:
        raise AssertionError("GET on a webhook answered 2xx")
