"""Test doubles for the runtime: a fake MQTT client, a Redis fake with lists, inline workers,
a real local HTTP target and a tiny SMTP responder (no broker, no Redis, no mail server)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conftest import Clock, FakeRedis

from kompose_events.service.mqtt import Message, PublishError, Receipt


class FakeMqtt:
    """The MqttClient interface, in memory. ``deliver`` plays the broker delivering a message."""

    def __init__(self, name: str = "automation") -> None:
        self.name = name
        self.connected = True
        self.connection = 1
        self.filters: list[str] = []
        self.on_message: Any = None
        self.published: list[tuple[str, bytes]] = []
        self.acked: list[Receipt] = []
        self.fail_publish: str | None = None
        self.started = self.stopped = False
        self._mid = 0
        self.lock = threading.Lock()

    def subscribe(self, filters: list[str], on_message: Any) -> None:
        self.filters = list(filters)
        self.on_message = on_message

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True
        self.connected = False

    def publish(self, topic: str, payload: bytes, timeout: float) -> None:
        self.publish_all([(topic, payload)], timeout)

    def publish_all(self, messages: list[tuple[str, bytes]], timeout: float) -> None:
        if not self.connected:
            raise PublishError(f"mqtt {self.name}: not connected")
        if self.fail_publish:
            raise PublishError(f"mqtt {self.name}: {self.fail_publish}")
        with self.lock:
            self.published.extend(messages)

    def ack(self, receipt: Receipt) -> bool:
        if receipt.connection != self.connection or not self.connected:
            return False
        self.acked.append(receipt)
        return True

    def deliver(self, topic: str, payload: bytes | str | dict[str, Any], mid: int | None = None) -> Receipt:
        """The broker delivers a message (QoS 1) on the current connection."""
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        if mid is None:
            self._mid += 1
            mid = self._mid
        receipt = Receipt(mid, self.connection)
        self.on_message(Message(topic, payload, receipt))
        return receipt

    def reconnect(self) -> None:
        """The connection dropped and came back: a new connection (old receipts are stale)."""
        self.connection += 1


class ListRedis(FakeRedis):
    """FakeRedis plus the list commands of the parking store, PING, and a switch to take it down."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.lists: dict[str, list[bytes]] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("Error 111 connecting to core-redis:6379. Connection refused.")

    def get(self, name: str) -> bytes | None:
        self._check()
        return super().get(name)

    def set(self, name: str, value: Any, nx: bool = False, ex: int | None = None) -> bool | None:
        self._check()
        return super().set(name, value, nx=nx, ex=ex)

    def rpush(self, name: str, value: bytes) -> int:
        self._check()
        self.lists.setdefault(name, []).append(bytes(value))
        return len(self.lists[name])

    def lrange(self, name: str, start: int, end: int) -> list[bytes]:
        self._check()
        items = self.lists.get(name, [])
        return list(items[start:] if end == -1 else items[start : end + 1])

    def lrem(self, name: str, count: int, value: bytes) -> int:
        self._check()
        items = self.lists.get(name, [])
        if value in items:
            items.remove(value)
            return 1
        return 0

    def llen(self, name: str) -> int:
        self._check()
        return len(self.lists.get(name, []))

    def ping(self) -> bool:
        self._check()
        return True


class InlineWorkers:
    """Runs each action at once, in the engine's thread: deterministic tests."""

    def submit(self, task: Any) -> None:
        task()

    def close(self) -> None:
        pass


class Target:
    """A real HTTP server on 127.0.0.1 (port 0): the action's target.

    ``answers[path]``: the statuses to answer in turn (the last one repeats; default 200);
    ``delays[path]``: seconds to wait before answering; ``refuse``: bodies answered with 400.
    ``requests`` records what came.
    """

    def __init__(self) -> None:
        self.answers: dict[str, list[int]] = {}
        self.delays: dict[str, float] = {}
        self.refuse: set[bytes] = set()  # request bodies answered with 400
        self.requests: list[dict[str, Any]] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                target.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                time.sleep(target.delays.get(path, 0))
                statuses = target.answers.get(path, [200])
                status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
                if body in target.refuse:
                    status = 400
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def paths(self) -> list[str]:
        return [request["path"] for request in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpResponder:
    """A tiny SMTP server on 127.0.0.1 that accepts (or refuses) mail and keeps the messages."""

    def __init__(self, rcpt_reply: bytes = b"250 OK") -> None:
        self.rcpt_reply = rcpt_reply
        self.messages: list[dict[str, Any]] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.01)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn = self.sock.accept()[0]
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                self._session(conn.makefile("rb"), conn)

    def _session(self, reader: Any, conn: socket.socket) -> None:
        conn.sendall(b"220 responder ESMTP\r\n")
        sender, recipients = None, []
        while True:
            line = reader.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250 responder\r\n")
            elif verb == b"MAIL":
                sender = line.decode().strip()
                conn.sendall(b"250 OK\r\n")
            elif verb == b"RCPT":
                recipients.append(line.decode().strip())
                conn.sendall(self.rcpt_reply + b"\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go on\r\n")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    chunk = reader.readline()
                    if not chunk:
                        return
                    data += chunk
                self.messages.append({"from": sender, "to": recipients, "data": data[:-5].decode()})
                conn.sendall(b"250 queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 OK\r\n")

    def close(self) -> None:
        self.running = False
        self.thread.join(1)
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# a config as the role renders it (the brief's example, with the default rules)

ENV = {
    "EVENTS_MQTT_AUTOMATION": "mqtt-automation-secret",
    "EVENTS_REDIS": "redis-secret",
    "EVENTS_CRED_LINKWARDEN_TOKEN": "linkwarden-secret",
    "EVENTS_GOTIFY_SECURITY": "gotify-secret",
    "EVENTS_MQTT_VAULTWARDEN": "mqtt-vaultwarden-secret",
    "EVENTS_MQTT_ALERTMANAGER": "mqtt-alertmanager-secret",
}


def example_config() -> dict[str, Any]:
    from kompose_events.rules import DEFAULT_RULES

    return {
        "listen": {"host": "127.0.0.1", "port": 0},
        "mqtt": {"host": "core-mqtt", "port": 1883, "keepalive": 30},
        "automation": {
            "client_id": "kompose-events",
            "username": "automation",
            "password_env": "EVENTS_MQTT_AUTOMATION",
            "subscribe": ["kompose/#"],
        },
        "redis": {
            "host": "core-redis",
            "port": 6379,
            "username": "events",
            "password_env": "EVENTS_REDIS",
            "prefix": "events:",
        },
        "services": {
            "gotify": "http://messaging_gotify:80",
            "umami": "http://track_app:3000",
            "linkwarden": "http://links_app:3000/",
        },
        "credentials": {
            "linkwarden-token": {"header": "Authorization", "prefix": "Bearer ", "env": "EVENTS_CRED_LINKWARDEN_TOKEN"}
        },
        "gotify": {"security": {"token_env": "EVENTS_GOTIFY_SECURITY"}},
        "smtp": {
            "host": "messaging_mailhog",
            "port": 1025,
            "from": "events@example.org",
            "starttls": False,
            "username": None,
            "password_env": None,
        },
        "variables": {
            "security_mail_to": "admin@example.org",
            "umami_website_id": "3f2c1a9e-7b4d-4c1e-9a0b-2d6f8e1c5a47",
            "umami_hostname": "links.example.org",
            "linkwarden_published_collection_id": 7,
        },
        "rules": json.loads(json.dumps(DEFAULT_RULES)),
        "retry": {"base_seconds": 1, "cap_seconds": 300, "max_attempts": 8, "open_after": 3},
        "http_timeout": 5,
        "sources": [
            {
                "name": "vaultwarden",
                "kind": "vaultwarden-log",
                "path": "/var/log/vaultwarden/vaultwarden.log",
                "interval": 0.5,
                "threshold": 10,
                "window_seconds": 300,
                "mqtt": {
                    "client_id": "kompose-events-vaultwarden",
                    "username": "events_vaultwarden",
                    "password_env": "EVENTS_MQTT_VAULTWARDEN",
                },
            },
            {
                "name": "alertmanager",
                "kind": "alertmanager-webhook",
                "path": "/hooks/alertmanager",
                "mqtt": {
                    "client_id": "kompose-events-alertmanager",
                    "username": "events_alertmanager",
                    "password_env": "EVENTS_MQTT_ALERTMANAGER",
                },
            },
        ],
    }


# ---------------------------------------------------------------------------------------------
# the database sources and the health probe, as the role would render them

DATABASE_ENV = {
    "EVENTS_DB_LINKWARDEN": "db-linkwarden-secret",
    "EVENTS_DB_UMAMI": "db-umami-secret",
    "EVENTS_DB_LETTERSPACE": "db-letterspace-secret",
    "EVENTS_MQTT_LINKWARDEN": "mqtt-linkwarden-secret",
    "EVENTS_MQTT_UMAMI": "mqtt-umami-secret",
    "EVENTS_MQTT_LETTERSPACE": "mqtt-letterspace-secret",
    "EVENTS_MQTT_PROBE": "mqtt-probe-secret",
}


def polled_sources() -> list[dict[str, Any]]:
    """One source of each new kind (sources[2..5] once appended to example_config's)."""

    def mqtt(name: str) -> dict[str, Any]:
        return {"client_id": f"kompose-events-{name}", "username": f"events_{name}",
                "password_env": f"EVENTS_MQTT_{name.upper()}"}

    def database(name: str) -> dict[str, Any]:
        return {"host": f"{name}_db", "port": 5432, "dbname": name, "user": f"{name}_events",
                "password_env": f"EVENTS_DB_{name.upper()}"}

    return [
        {"name": "linkwarden", "kind": "linkwarden-db", "database": database("linkwarden"), "interval": 5,
         "settle_seconds": 5, "batch": 100, "stats": True, "mqtt": mqtt("linkwarden")},
        {"name": "umami", "kind": "umami-db", "database": database("umami"),
         "websites": ["3F2C1A9E-7B4D-4C1E-9A0B-2D6F8E1C5A47"], "mqtt": mqtt("umami")},
        {"name": "letterspace", "kind": "letterspace-db", "database": database("letterspace"),
         "article_url": "https://news.example.org/archive/{id}", "mqtt": mqtt("letterspace")},
        {"name": "probe", "kind": "health-probe", "interval": 60, "timeout": 5,
         "targets": [{"check": "umami", "service": "umami", "url": "http://track_app:3000/api/heartbeat"},
                     {"check": "gotify", "url": "http://messaging_gotify:80/health"}],
         "mqtt": mqtt("probe")},
    ]
