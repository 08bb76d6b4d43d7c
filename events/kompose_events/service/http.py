"""The HTTP server: ``GET /metrics``, ``GET /healthz``, ``POST <webhook path>``; 404 otherwise.

``/healthz`` answers 200 ``{"status": "ok"}`` when the automation client is connected and Redis
answers PING (no Redis configured: only the first), else 503 ``{"status": "unhealthy",
"reasons": [...]}``; a polled source's current failure is added as ``"sources": [...]`` without
changing the status (see ``Service.notes``). Requests are not logged one by one (Prometheus
scrapes every few seconds); what a webhook does is logged by its source.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import struct
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from ..metrics import CONTENT_TYPE

LOG = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024


class Site:
    """What the server answers with; the service provides the three parts."""

    def __init__(
        self,
        metrics: Callable[[], str],
        health: Callable[[], list[str]],
        webhooks: dict[str, Callable[[bytes], tuple[int, dict[str, Any]]]],
        notes: Callable[[], list[str]] = list,
    ) -> None:
        self.metrics = metrics  # the exposition text
        self.health = health  # the reasons the engine is unhealthy (empty: healthy)
        self.webhooks = webhooks  # path -> handler(body) -> (status, JSON answer)
        self.notes = notes  # the sources' failures: reported, not unhealthy


class Handler(BaseHTTPRequestHandler):
    server_version = "kompose-events"
    server: Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        site = self.server.site
        if path == "/metrics":
            self._answer(200, site.metrics().encode("utf-8"), CONTENT_TYPE)
        elif path == "/healthz":
            reasons = site.health()
            answer: dict[str, Any] = {"status": "unhealthy", "reasons": reasons} if reasons else {"status": "ok"}
            notes = site.notes()
            if notes:
                answer["sources"] = notes
            self._json(503 if reasons else 200, answer)
        elif path in site.webhooks:
            self._json(405, {"error": "use POST"})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        hook = self.server.site.webhooks.get(path)
        if hook is None:
            self._json(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._json(411, {"error": "Content-Length required"})
            return
        if length < 0 or length > MAX_BODY_BYTES:
            self._json(413, {"error": f"the body is limited to {MAX_BODY_BYTES} bytes"})
            return
        status, answer = hook(self.rfile.read(length))
        self._json(status, answer)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        pass  # see the module's docstring

    def _json(self, status: int, answer: dict[str, Any]) -> None:
        self._answer(status, json.dumps(answer, sort_keys=True).encode("utf-8") + b"\n", "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, site: Site) -> None:
        self.site = site
        self.poll_interval = 0.5  # how soon ``stop`` is noticed
        super().__init__((host, port), Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        """Serve in a background thread."""
        threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": self.poll_interval}, name="http", daemon=True
        ).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def local_addresses() -> list[str]:
    """The IPv4 addresses of this host's (container's) interfaces (Linux: SIOCGIFADDR per interface)."""
    import fcntl  # noqa: PLC0415 (Linux only; the tests replace this function)

    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _index, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(probe.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))
            except OSError:
                continue  # an interface without an IPv4 address
            out.append(socket.inet_ntoa(packed[20:24]))
    return out


def bind_addresses(host: str, networks: tuple[str, ...], addresses: list[str] | None = None) -> list[str]:
    """Where the server listens: ``host`` alone without ``networks``; else 127.0.0.1 and each local
    address inside one of ``networks`` (an error when there is none: the engine would be unreachable)."""
    if not networks:
        return [host]
    wanted = [ipaddress.IPv4Network(network) for network in networks]
    found = [a for a in (addresses if addresses is not None else local_addresses())
             if any(ipaddress.IPv4Address(a) in network for network in wanted)]
    if not found:
        raise OSError(f"listen.networks: no address of this container is in {', '.join(networks)}")
    return ["127.0.0.1", *sorted(set(found))]
