"""``python -m kompose_events.health [URL]``: the container's health check.

Exit 0 when the engine's ``/healthz`` (default ``http://127.0.0.1:9100/healthz``) answers 200
within 2 s, else 1; one line says why. Docker runs it every few seconds in every container of the
image, so it imports nothing but ``socket`` and ``urllib.parse`` (``urllib.request`` would load
``http.client``, ``email`` and ``ssl``: three times the CPU of the whole check, measured).
``kompose-events health`` is the same check.
"""

from __future__ import annotations

import socket
import sys
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:9100/healthz"
TIMEOUT = 2.0
MAX_ANSWER = 8192


def check(url: str = DEFAULT_URL, timeout: float = TIMEOUT) -> tuple[bool, str]:
    """(healthy, the line that says why) for one GET of ``url`` (plain HTTP only)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False, f"unhealthy: {url}: not an http:// URL"
    request = (f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.0\r\n"
               f"Host: {parts.netloc}\r\nConnection: close\r\n\r\n").encode("ascii")
    answer = b""
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as connection:
            connection.sendall(request)
            while len(answer) < MAX_ANSWER:
                chunk = connection.recv(MAX_ANSWER)
                if not chunk:
                    break
                answer += chunk
    except (OSError, ValueError) as error:
        return False, f"unhealthy: {url}: {error}"
    head = answer.split(b"\r\n\r\n", 1)[0]
    body = answer[len(head) + 4:]
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        return False, f"unhealthy: {url}: not an HTTP answer: {status_line[:80]!r}"
    status = int(fields[1])
    text = body.decode("utf-8", "replace").strip()
    return status == 200, f"{'healthy' if status == 200 else 'unhealthy'}: HTTP {status} {text}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    healthy, line = check(args[0] if args else DEFAULT_URL)
    print(line)
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
