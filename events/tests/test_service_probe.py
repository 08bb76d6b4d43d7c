"""The periodic health probe against a real HTTP server on 127.0.0.1: pass, fail, change, heartbeat."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from service_doubles import FakeMqtt, Target

from kompose_events import envelope
from kompose_events.delivery import MemoryCursorStore
from kompose_events.envelope import Envelope
from kompose_events.service.config import ProbeTarget
from kompose_events.service.metrics import ServiceMetrics
from kompose_events.service.mqtt import PublishError
from kompose_events.service.probe import HealthProbe

T0 = datetime(2026, 12, 7, 10, 20, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Probe:
    def __init__(self, targets: list[ProbeTarget], timeout: float = 2.0) -> None:
        self.targets = targets
        self.client = FakeMqtt("probe")
        self.cursors = MemoryCursorStore()
        self.metrics = ServiceMetrics()
        self.clock = Clock()
        self.timeout = timeout
        self.probe = self.restart()

    def restart(self) -> HealthProbe:
        """A new probe over the same store (a restarted process)."""
        self.probe = HealthProbe("probe", self.targets, self.client, self.cursors, self.metrics, 60, self.timeout,
                                 now=self.clock)
        return self.probe

    def events(self) -> list[Envelope]:
        return [envelope.decode(payload, topic) for topic, payload in self.client.published]


def test_pass_and_fail(target: Target) -> None:
    target.answers = {"/ok": [200], "/down": [503], "/login": [302], "/missing": [404]}
    port = _closed_port()
    probe = Probe([
        ProbeTarget("umami", f"{target.url}/ok", "umami"),
        ProbeTarget("gotify", f"{target.url}/down", "gotify"),
        ProbeTarget("linkwarden", f"{target.url}/login"),
        ProbeTarget("wiki", f"{target.url}/missing", "wiki"),
        ProbeTarget("letterspace", f"http://127.0.0.1:{port}/", "letterspace"),
    ])
    events = probe.probe.poll_once()
    assert [e.topic for e in events] == ["kompose/system/health/check"] * 5
    assert [e.data for e in events[:4]] == [
        {"check": "umami", "status": "pass", "service": "umami", "summary": "HTTP 200"},
        {"check": "gotify", "status": "fail", "service": "gotify", "summary": "HTTP 503"},
        {"check": "linkwarden", "status": "pass", "summary": "HTTP 302"},  # a redirect is an answer; not followed
        {"check": "wiki", "status": "fail", "service": "wiki", "summary": "HTTP 404"},
    ]
    refused = events[4].data
    assert refused["status"] == "fail" and refused["summary"].startswith("no answer: ")
    assert "Connection refused" in refused["summary"]
    assert target.paths() == ["/ok", "/down", "/login", "/missing"]  # the redirect was not followed
    assert target.requests[0]["method"] == "GET"
    assert events[0].time == "2026-12-07T10:20:00.000Z" and events[0].source == "probe"
    assert events[0].id == envelope.event_id("probe", "umami:pass:hour:2026-12-07T10")
    assert probe.metrics.received.value(source="probe", topic="kompose/system/health/check") == 5


def test_a_timeout_fails_with_the_reason(target: Target) -> None:
    target.delays = {"/slow": 0.3}
    target.server.handle_error = lambda request, address: None  # its late answer meets a closed socket
    probe = Probe([ProbeTarget("slow", f"{target.url}/slow")], timeout=0.1)
    [event] = probe.probe.poll_once()
    assert event.data == {"check": "slow", "status": "fail", "summary": "no answer: timed out"}


def test_only_changes_and_an_hourly_heartbeat_are_published(target: Target) -> None:
    target.answers = {"/app": [200]}
    probe = Probe([ProbeTarget("app", f"{target.url}/app", "app")])
    first = probe.probe.poll_once()
    probe.clock.now += timedelta(minutes=1)
    assert probe.probe.poll_once() == []  # the same status, the same hour: nothing
    target.answers["/app"] = [500]
    probe.clock.now += timedelta(minutes=1)
    [down] = probe.probe.poll_once()
    assert down.data["status"] == "fail"
    assert down.id == envelope.event_id("probe", "app:fail:after:2026-12-07T10:20:00.000Z")
    probe.clock.now += timedelta(minutes=1)
    assert probe.probe.poll_once() == []
    target.answers["/app"] = [204]
    probe.clock.now += timedelta(minutes=1)
    [up] = probe.probe.poll_once()
    assert up.id == envelope.event_id("probe", "app:pass:after:2026-12-07T10:22:00.000Z")
    assert up.id != first[0].id  # the same status as at first: another fact, another id
    probe.clock.now = datetime(2026, 12, 7, 11, 0, 30, tzinfo=timezone.utc)
    [beat] = probe.probe.poll_once()
    assert beat.data == {"check": "app", "status": "pass", "service": "app", "summary": "HTTP 204"}
    assert beat.id == envelope.event_id("probe", "app:pass:hour:2026-12-07T11")
    probe.clock.now += timedelta(minutes=30)
    assert probe.probe.poll_once() == []
    assert probe.cursors.load("probe") == {
        "checks": {"app": {"status": "pass", "since": "2026-12-07T10:24:00.000Z", "beat": "2026-12-07T11"}}
    }


def test_a_restart_in_the_same_state_publishes_the_same_ids(target: Target) -> None:
    target.answers = {"/app": [200]}
    probe = Probe([ProbeTarget("app", f"{target.url}/app")])
    [first] = probe.probe.poll_once()
    probe.restart()  # with the stored state: nothing new within the hour
    assert probe.probe.poll_once() == []
    probe.cursors = MemoryCursorStore()  # without Redis: the state is lost with the process
    probe.restart()
    probe.clock.now += timedelta(minutes=10)
    [again] = probe.probe.poll_once()
    assert again.id == first.id  # the same hour, the same status: a duplicate for consumers


def test_a_change_not_acknowledged_is_published_again_with_the_same_id(target: Target) -> None:
    target.answers = {"/app": [200]}
    probe = Probe([ProbeTarget("app", f"{target.url}/app")])
    probe.probe.poll_once()
    target.answers["/app"] = [502]
    probe.clock.now += timedelta(minutes=5)
    probe.client.fail_publish = "no PUBACK within 5 s"
    with pytest.raises(PublishError):
        probe.probe.poll_once()
    assert probe.cursors.load("probe")["checks"]["app"]["status"] == "pass"  # not saved
    probe.client.fail_publish = None
    probe.restart()  # even after a crash
    probe.clock.now += timedelta(minutes=1)
    [change] = probe.probe.poll_once()
    assert change.id == envelope.event_id("probe", "app:fail:after:2026-12-07T10:20:00.000Z")


def test_targets_no_longer_configured_leave_the_state(target: Target) -> None:
    probe = Probe([ProbeTarget("a", f"{target.url}/a"), ProbeTarget("b", f"{target.url}/b")])
    probe.probe.poll_once()
    probe.targets = [ProbeTarget("a", f"{target.url}/a")]
    probe.restart().poll_once()
    assert list(probe.cursors.load("probe")["checks"]) == ["a"]


def test_the_loop_logs_a_failure_once_and_keeps_probing(target: Target, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    probe = Probe([ProbeTarget("app", f"{target.url}/app")])
    probe.probe.interval = 0.01
    probe.client.connected = False
    stop = threading.Event()
    thread = threading.Thread(target=probe.probe.run, args=(stop,))
    thread.start()
    threading.Timer(0.1, lambda: setattr(probe.client, "connected", True)).start()
    threading.Timer(0.3, stop.set).start()
    thread.join(2)
    assert caplog.text.count("source probe: mqtt probe: not connected; the state stays") == 1
    assert "source probe: working again" in caplog.text
    assert len(probe.client.published) == 1 and len(target.requests) > 2
    assert probe.metrics.source_up.value(source="probe") == 1
