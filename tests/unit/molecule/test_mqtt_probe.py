"""molecule/default/files/mqtt_probe.py with the real paho-mqtt client against a small MQTT 3.1.1 broker
on 127.0.0.1 (this file), which applies an ACL the way mosquitto does: a denied publish is still
acknowledged and silently not delivered."""

from __future__ import annotations

import importlib.util
import json
import os
import socketserver
import struct
import sys
import threading
import time

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "molecule", "default", "files", "mqtt_probe.py")


def _load():
    spec = importlib.util.spec_from_file_location("kompose_mqtt_probe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mp = _load()

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 1, 2, 3, 4, 8, 9, 12, 13, 14
USERS = {"system": "pw-system", "automation": "pw-automation"}


def topic_matches(pattern, topic):
    """MQTT topic filter matching (+ one level, # the rest)."""
    want, have = pattern.split("/"), topic.split("/")
    for i, part in enumerate(want):
        if part == "#":
            return True
        if i >= len(have) or part not in ("+", have[i]):
            return False
    return len(want) == len(have)


def may_publish(user, topic):
    """The lab's ACL in short: system publishes under kompose/system/, automation nowhere."""
    return user == "system" and topic.startswith("kompose/system/")


class Broker(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, ack=lambda topic: True, deliver=lambda topic: True, connack=True):
        super().__init__(("127.0.0.1", 0), Session)
        self.ack, self.deliver, self.connack = ack, deliver, connack
        self.subscriptions = []  # (session, filter)
        self.lock = threading.Lock()
        self.published = []  # (user, topic, payload) of every PUBLISH received

    @property
    def port(self):
        return self.server_address[1]


class Session(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        self.user, self.send_lock, self.next_id = None, threading.Lock(), 0

    def send(self, kind, flags, body):
        length, encoded = len(body), b""
        while True:
            byte, length = length % 128, length // 128
            encoded += bytes([byte | (0x80 if length else 0)])
            if not length:
                break
        with self.send_lock:
            self.wfile.write(bytes([kind << 4 | flags]) + encoded + body)
            self.wfile.flush()

    def read(self):
        first = self.rfile.read(1)
        if not first:
            return None
        length, shift = 0, 0
        while True:
            byte = self.rfile.read(1)[0]
            length += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first[0] >> 4, first[0] & 0x0F, self.rfile.read(length)

    @staticmethod
    def string(body, at):
        size = struct.unpack("!H", body[at:at + 2])[0]
        return body[at + 2:at + 2 + size], at + 2 + size

    def connect(self, body):
        name, at = self.string(body, 0)
        assert name == b"MQTT" and body[at] == 4  # MQTT 3.1.1, as the probe asks
        flags, at = body[at + 1], at + 4
        dummy, at = self.string(body, at)  # client id
        if flags & 0x04:
            at = self.string(body, self.string(body, at)[1])[1]
        user = password = None
        if flags & 0x80:
            user, at = self.string(body, at)
        if flags & 0x40:
            password, at = self.string(body, at)
        if user is None:
            return 5  # not authorized: anonymous clients are refused
        if USERS.get(user.decode()) != (password or b"").decode():
            return 4  # bad user name or password
        self.user = user.decode()
        return 0

    def handle(self):
        broker = self.server
        while True:
            packet = self.read()
            if packet is None:
                break
            kind, flags, body = packet
            if kind == CONNECT:
                code = self.connect(body)
                if broker.connack:
                    self.send(CONNACK, 0, bytes([0, code]))
                if code:
                    break
            elif kind == SUBSCRIBE:
                packet_id, at, granted = body[:2], 2, []
                while at < len(body):
                    topic, at = self.string(body, at)
                    granted.append(min(body[at], 1))
                    at += 1
                    with broker.lock:
                        broker.subscriptions.append((self, topic.decode()))
                self.send(SUBACK, 0, packet_id + bytes(granted))
            elif kind == PUBLISH:
                qos = flags >> 1 & 3
                topic, at = self.string(body, 0)
                topic = topic.decode()
                packet_id = body[at:at + 2] if qos else b""
                payload = body[at + len(packet_id):]
                broker.published.append((self.user, topic, payload))
                if may_publish(self.user, topic) and broker.deliver(topic):
                    with broker.lock:
                        targets = [s for s, pattern in broker.subscriptions if topic_matches(pattern, topic)]
                    for target in targets:
                        target.next_id += 1
                        target.send(PUBLISH, 1 << 1, struct.pack("!H", len(topic)) + topic.encode()
                                    + struct.pack("!H", target.next_id) + payload)
                if qos and broker.ack(topic):
                    self.send(PUBACK, 0, packet_id)
            elif kind == PINGREQ:
                self.send(PINGRESP, 0, b"")
            elif kind == DISCONNECT:
                break
        with broker.lock:
            broker.subscriptions = [(s, p) for s, p in broker.subscriptions if s is not self]


@pytest.fixture
def broker():
    servers = []

    def start(**kwargs):
        server = Broker(**kwargs)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_topic_matching_of_the_test_broker():
    assert topic_matches("kompose/#", "kompose/system/health/check") and topic_matches("a/+/c", "a/b/c")
    assert not topic_matches("kompose/#", "other/x") and not topic_matches("a/+", "a/b/c")


TOPICS = ("kompose/system/health/check", "kompose/vault/security/failed")
SENTINEL = "kompose/system/probe/sentinel"


def probe(monkeypatch, capsys, port, topics=TOPICS, timeout=5, publisher_password="pw-system"):
    """Run the probe's main() as verify.yml does; (the JSON report, the SystemExit message or None)."""
    monkeypatch.setattr(mp, "TIMEOUT", timeout)
    monkeypatch.setattr(sys, "argv", ["mqtt_probe.py", "127.0.0.1", str(port), "system", "automation", "kompose/#", SENTINEL] + list(topics))
    monkeypatch.setenv("PUBLISHER_PASSWORD", publisher_password)
    monkeypatch.setenv("SUBSCRIBER_PASSWORD", "pw-automation")
    exit_message = None
    try:
        mp.main()
    except SystemExit as exc:
        exit_message = exc.code
    return json.loads(capsys.readouterr().out), exit_message


def test_probe_reports_refusals_and_what_the_acl_let_through(monkeypatch, capsys, broker):
    server = broker()
    started = time.monotonic()
    report, exit_message = probe(monkeypatch, capsys, server.port)
    assert exit_message is None
    assert report["anonymous"] == {"rc": "Not authorized", "ok": False}
    assert report["subscriber"] == {"rc": "Success", "ok": True} and report["publisher"] == {"rc": "Success", "ok": True}
    assert report["subscribed"] == ["Granted QoS 1"]
    # the denied publish was acknowledged but never delivered; the sentinel proves it was handled
    assert report["sentinel"] is True and report["received"] == ["kompose/system/health/check"]
    published = [(user, topic) for user, topic, dummy in server.published]
    assert published == [("system", t) for t in TOPICS] + [("system", SENTINEL)]
    # the sentinel is a fresh payload, not the probe's
    assert server.published[-1][2] != b"probe" and len(server.published[-1][2]) == 32
    assert time.monotonic() - started < 5


def test_probe_received_is_sorted_and_a_stale_sentinel_topic_message_counts_as_received(monkeypatch, capsys, broker):
    server = broker()
    report, exit_message = probe(monkeypatch, capsys, server.port, topics=["kompose/system/z", SENTINEL, "kompose/system/a"])
    assert exit_message is None and report["sentinel"] is True
    # a message on the sentinel topic without this run's payload is an ordinary delivery
    assert report["received"] == ["kompose/system/a", SENTINEL, "kompose/system/z"]


def test_probe_fails_when_the_sentinel_never_arrives(monkeypatch, capsys, broker):
    server = broker(deliver=lambda topic: topic != SENTINEL)
    report, exit_message = probe(monkeypatch, capsys, server.port, timeout=0.5)
    assert report["sentinel"] is False and report["received"] == ["kompose/system/health/check"]
    assert exit_message == ("mqtt_probe: the sentinel on %s did not reach automation within 0.5 s: no proof that a message "
                            "was not delivered" % SENTINEL)


def test_probe_stops_at_an_unacknowledged_publish(monkeypatch, capsys, broker):
    server = broker(ack=lambda topic: topic != TOPICS[0])
    started = time.monotonic()
    report, exit_message = probe(monkeypatch, capsys, server.port, timeout=0.5)
    assert exit_message == "mqtt_probe: the broker did not acknowledge the publish on %s within 0.5 s" % TOPICS[0]
    assert report["sentinel"] is False
    # nothing is sent after it: the order would be unknown
    assert [topic for dummy, topic, dummy2 in server.published] == [TOPICS[0]]
    assert time.monotonic() - started < 5  # the unacknowledged publish does not hang the disconnect


def test_probe_reports_a_refused_subscriber(monkeypatch, capsys, broker):
    server = broker()
    monkeypatch.setattr(mp, "TIMEOUT", 0.5)
    monkeypatch.setattr(sys, "argv", ["mqtt_probe.py", "127.0.0.1", str(server.port), "system", "automation", "kompose/#", SENTINEL])
    monkeypatch.setenv("PUBLISHER_PASSWORD", "pw-system")
    monkeypatch.setenv("SUBSCRIBER_PASSWORD", "wrong")
    with pytest.raises(SystemExit) as exc:
        mp.main()
    report = json.loads(capsys.readouterr().out)
    assert report["subscriber"] == {"rc": "Bad user name or password", "ok": False} and "subscribed" not in report
    assert report["sentinel"] is False and report["received"] == []
    assert "did not reach automation" in exc.value.code


def test_probe_reports_a_refused_publisher(monkeypatch, capsys, broker):
    server = broker()
    report, exit_message = probe(monkeypatch, capsys, server.port, timeout=0.5, publisher_password="wrong")
    assert report["publisher"] == {"rc": "Bad user name or password", "ok": False}
    assert report["sentinel"] is False and report["received"] == [] and exit_message is not None


def test_connect_times_out_without_a_connack(monkeypatch, broker):
    server = broker(connack=False)
    monkeypatch.setattr(mp, "TIMEOUT", 0.3)
    client, result = mp.connect("127.0.0.1", server.port, "system", "pw-system")
    client.disconnect()
    client.loop_stop()
    assert result == {"rc": "timeout", "ok": False}
