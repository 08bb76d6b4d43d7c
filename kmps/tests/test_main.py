"""The command line: health (standard library only) and run's refusal of a bad config."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from kmps_portal.__main__ import main


@pytest.fixture
def server() -> Iterator[tuple[str, list[int]]]:
    status = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            body = b"ok\n" if status[0] == 200 else b"the kmps database does not answer\n"
            self.send_response(status[0])
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/healthz", status
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_health(server: tuple[str, list[int]], capsys: pytest.CaptureFixture[str]) -> None:
    url, status = server
    assert main(["health", "--url", url]) == 0
    assert capsys.readouterr().out == "healthy: HTTP 200 ok\n"
    status[0] = 503
    assert main(["health", "--url", url]) == 1
    assert capsys.readouterr().out == "unhealthy: HTTP 503 the kmps database does not answer\n"


def test_health_without_a_portal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health", "--url", "http://127.0.0.1:1/healthz"]) == 1
    assert capsys.readouterr().out.startswith("unhealthy: http://127.0.0.1:1/healthz: ")


def test_run_refuses_a_bad_config(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"keycloak": {}}), encoding="utf-8")
    assert main(["run", "--config", str(path)]) == 1
    assert "config: docker: missing; config needs keycloak, docker, alertmanager" in caplog.text
