"""molecule/default/files/webhook_receiver.py: its handler and main() on 127.0.0.1, with real HTTP posts."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import socket
import sys
import threading
import time
from http.server import HTTPServer

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "molecule", "default", "files", "webhook_receiver.py")


def _load():
    spec = importlib.util.spec_from_file_location("kompose_webhook_receiver", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wr = _load()


def alertmanager_post(names, receiver="gotify", status="firing"):
    """A body as Alertmanager's webhook sends it (version 4)."""
    return {"version": "4", "receiver": receiver, "status": status, "groupKey": "{}:{}",
            "alerts": [{"status": status, "labels": {"alertname": name, "severity": "warning"}, "annotations": {}} for name in names]}


def post(port, path, body, content_type="application/json"):
    """POST body (bytes or JSON) to 127.0.0.1:port, retried while the server is not listening yet; the status."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    for _attempt in range(100):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("POST", path, data, {"Content-Type": content_type})
            return connection.getresponse().status
        except ConnectionRefusedError:
            time.sleep(0.02)
        finally:
            connection.close()
    raise AssertionError("the receiver never listened on %d" % port)


@pytest.fixture
def server():
    """The script's Handler behind an HTTPServer on an ephemeral port of 127.0.0.1, as main() sets it up."""
    httpd = HTTPServer(("127.0.0.1", 0), wr.Handler)
    httpd.found, httpd.timeout = {}, 5
    yield httpd
    httpd.server_close()


def handled(server, path, body, content_type="application/json"):
    """POST to the server while it handles one request, as main() does: the status, once the handler returned
    (it answers 200 before it reads the alerts)."""
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    status = post(server.server_address[1], path, body, content_type)
    thread.join(10)
    assert not thread.is_alive()
    return status


def test_handler_records_the_first_post_of_each_alert(server):
    assert handled(server, "/message?token=a", alertmanager_post(["KomposeLabWarning", "KomposeLabSecurity"])) == 200
    # a later post of the same alert (resolved, another receiver) does not replace the first one
    assert handled(server, "/other", alertmanager_post(["KomposeLabWarning"], receiver="security", status="resolved")) == 200
    assert handled(server, "/second", alertmanager_post(["KomposeLabInhibited"], receiver="security")) == 200
    assert server.found == {
        "KomposeLabWarning": {"path": "/message?token=a", "receiver": "gotify", "status": "firing"},
        "KomposeLabSecurity": {"path": "/message?token=a", "receiver": "gotify", "status": "firing"},
        "KomposeLabInhibited": {"path": "/second", "receiver": "security", "status": "firing"}}


def test_handler_answers_200_to_anything_and_ignores_what_is_not_json(server):
    assert handled(server, "/", b"not json", "text/plain") == 200
    assert handled(server, "/", b"", "text/plain") == 200
    assert handled(server, "/", {"receiver": "gotify"}) == 200  # no alerts at all
    # JSON that is not Alertmanager's form, and an alert without a name: nothing recorded, no error
    assert handled(server, "/", [1, 2]) == 200
    assert handled(server, "/", {"alerts": ["x", {"labels": {}}]}) == 200
    assert server.found == {}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_main(monkeypatch, argv):
    """main() in a thread with argv; (thread, {"rc": ...})."""
    monkeypatch.setattr(sys, "argv", ["webhook_receiver.py"] + argv)
    out = {}
    thread = threading.Thread(target=lambda: out.update(rc=wr.main()), daemon=True)
    thread.start()
    return thread, out


def test_main_exits_0_once_every_expected_alert_came(monkeypatch, capsys):
    port = free_port()
    started = time.monotonic()
    thread, out = run_main(monkeypatch, ["127.0.0.1", str(port), "30", "KomposeLabWarning", "KomposeLabSecurity"])
    post(port, "/message", alertmanager_post(["KomposeLabWarning", "Unexpected"]))
    post(port, "/message", alertmanager_post(["KomposeLabSecurity"], receiver="security"))
    thread.join(10)
    assert not thread.is_alive() and out["rc"] == 0
    assert time.monotonic() - started < 10  # it returns when the last one came, not at the timeout
    # every alert that arrived is printed, expected or not
    assert json.loads(capsys.readouterr().out) == {
        "KomposeLabWarning": {"path": "/message", "receiver": "gotify", "status": "firing"},
        "Unexpected": {"path": "/message", "receiver": "gotify", "status": "firing"},
        "KomposeLabSecurity": {"path": "/message", "receiver": "security", "status": "firing"}}
    with pytest.raises(OSError):  # the port is closed again
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_main_exits_1_when_time_runs_out(monkeypatch, capsys):
    port = free_port()
    thread, out = run_main(monkeypatch, ["127.0.0.1", str(port), "0.3", "KomposeLabWarning", "KomposeLabSecurity"])
    post(port, "/message", alertmanager_post(["KomposeLabWarning"]))
    thread.join(10)
    assert not thread.is_alive() and out["rc"] == 1
    assert json.loads(capsys.readouterr().out) == {"KomposeLabWarning": {"path": "/message", "receiver": "gotify", "status": "firing"}}
