"""molecule/default/files/sso_flow.py: the name mapping it installs, and its redirect walk and form
sign-in with the real `requests` against a small Keycloak-like server on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "molecule", "default", "files", "sso_flow.py")
DOMAIN = "kompose.test"
PROXIES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture(scope="module")
def sso(tmp_path_factory):
    """The script imported with its argv (DOMAIN CA_FILE SECRETS_DIR); the process's resolver restored after."""
    secrets = tmp_path_factory.mktemp("secrets")
    (secrets / "keycloak-lab-admin").write_text("admin-pw\n")
    (secrets / "keycloak-lab-user").write_text("user-pw\n")
    original, argv = socket.getaddrinfo, sys.argv
    sys.argv = ["sso_flow.py", DOMAIN, str(secrets / "no-ca.pem"), str(secrets)]
    try:
        spec = importlib.util.spec_from_file_location("kompose_sso_flow", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        installed = socket.getaddrinfo
    finally:
        socket.getaddrinfo, sys.argv = original, argv
    assert installed is module._lab_getaddrinfo and module._getaddrinfo is original
    return module


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in PROXIES:
        monkeypatch.delenv(name, raising=False)


def test_import_reads_argv(sso, tmp_path):
    assert (sso.DOMAIN, os.path.basename(sso.CA_FILE)) == (DOMAIN, "no-ca.pem")
    assert sso.url("prometheus") == "https://prometheus.kompose.test/"
    assert sso.url("sso", "/oauth2/sign_out") == "https://sso.kompose.test/oauth2/sign_out"
    assert sso.secret("keycloak-lab-admin") == "admin-pw"
    with pytest.raises(FileNotFoundError):
        sso.secret("keycloak-nobody")


def test_every_name_under_the_domain_resolves_to_loopback(sso, monkeypatch):
    for host in ("kompose.test", "sso.kompose.test", "a.b.kompose.test"):
        assert {info[4][0] for info in sso._lab_getaddrinfo(host, 443, socket.AF_INET)} == {"127.0.0.1"}
    asked = []
    monkeypatch.setattr(sso, "_getaddrinfo", lambda host, *args, **kwargs: asked.append((host, args, kwargs)) or [])
    sso._lab_getaddrinfo("example.org", 443, type=socket.SOCK_STREAM)
    sso._lab_getaddrinfo("evilkompose.test", 80)  # only the domain and its subdomains
    sso._lab_getaddrinfo("kompose.test.example.org", 80)
    sso._lab_getaddrinfo("sso.kompose.test", 443)
    assert asked == [("example.org", (443,), {"type": socket.SOCK_STREAM}), ("evilkompose.test", (80,), {}),
                     ("kompose.test.example.org", (80,), {}), ("127.0.0.1", (443,), {})]


# --- a Keycloak-like edge on 127.0.0.1 ------------------------------------------------------------
LOGIN_FORMS = {
    "id-first": '<form id="kc-form-login" class="form" onsubmit="x" action="{action}" method="post">',
    "action-first": '<form class="form" action="{action}" method="post" id="kc-form-login">',
    "none": '<form id="other" action="{action}">',
}


class Edge(BaseHTTPRequestHandler):
    """/app -> /oauth2/start -> /realms/kompose/auth (the form) -POST-> /callback -> /app (with the session cookie)."""

    def do_GET(self):  # noqa: N802
        url = urlsplit(self.path)
        edge = self.server
        edge.requests.append(("GET", self.path, None))
        if url.path == "/app":
            if "session=ok" in (self.headers.get("Cookie") or ""):
                return self.answer(200, "<html><head><title>\n  Prometheus Time Series </title></head></html>")
            return self.answer(302, location="/oauth2/start?rd=%2Fapp")  # relative, as OAuth2 Proxy sends it
        if url.path == "/oauth2/start":
            return self.answer(302, location="http://127.0.0.1:%d/realms/kompose/auth?client_id=oauth2-proxy" % edge.port)
        if url.path == "/realms/kompose/auth":
            action = "http://127.0.0.1:%d/realms/kompose/login-actions/authenticate?session_code=s1&amp;tab_id=t1" % edge.port
            form = LOGIN_FORMS[edge.form].format(action=action)
            return self.answer(200, "<html><head><title>Sign in to kompose</title></head><body>%s</form></body></html>" % form)
        if url.path == "/callback":
            return self.answer(302, location="/app", cookie="session=ok")
        if url.path == "/loop":
            return self.answer(302, location="/loop")
        return self.answer(404, "<title>nope</title>")

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.server.requests.append(("POST", self.path, parse_qs(body, keep_blank_values=True)))
        form = parse_qs(body, keep_blank_values=True)
        query = parse_qs(urlsplit(self.path).query)
        if query != {"session_code": ["s1"], "tab_id": ["t1"]}:
            return self.answer(400, "<title>bad action</title>")
        if form.get("password") != [self.server.password]:
            return self.answer(200, "<title>Sign in to kompose</title> Invalid username or password.")
        return self.answer(302, location="/callback?code=c1")

    def answer(self, status, body="", location=None, cookie=None):
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        if cookie:
            self.send_header("Set-Cookie", cookie + "; Path=/")
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


@pytest.fixture
def edge():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Edge)
    server.port, server.requests, server.form, server.password = server.server_address[1], [], "id-first", "admin-pw"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_walk_follows_every_redirect_by_hand(sso, edge):
    base = "http://127.0.0.1:%d" % edge.port
    session = requests.Session()
    final, hops = sso.walk(session, base + "/app")
    assert final.status_code == 200 and final.url == base + "/realms/kompose/auth?client_id=oauth2-proxy"
    assert hops == [(302, base + "/app", "/oauth2/start?rd=%2Fapp"),
                    (302, base + "/oauth2/start?rd=%2Fapp", base + "/realms/kompose/auth?client_id=oauth2-proxy"),
                    (200, base + "/realms/kompose/auth?client_id=oauth2-proxy", None)]
    assert [r[:2] for r in edge.requests] == [("GET", "/app"), ("GET", "/oauth2/start?rd=%2Fapp"),
                                              ("GET", "/realms/kompose/auth?client_id=oauth2-proxy")]


def test_walk_posts_once_then_gets_and_keeps_cookies(sso, edge):
    base = "http://127.0.0.1:%d" % edge.port
    session = requests.Session()
    final, hops = sso.walk(session, base + "/realms/kompose/login-actions/authenticate?session_code=s1&tab_id=t1", "POST",
                           {"password": "admin-pw"})
    assert [hop[0] for hop in hops] == [302, 302, 200] and final.url == base + "/app"
    assert [r[0] for r in edge.requests] == ["POST", "GET", "GET"]  # a redirect after the POST is a GET
    assert "Prometheus" in final.text and session.cookies.get("session") == "ok"


def test_walk_gives_up_on_a_redirect_loop(sso, edge):
    with pytest.raises(RuntimeError, match="too many redirects"):
        sso.walk(requests.Session(), "http://127.0.0.1:%d/loop" % edge.port, limit=4)
    assert len(edge.requests) == 5  # the first request and 4 redirects followed


@pytest.mark.parametrize("form", ["id-first", "action-first"])
def test_login_fills_keycloaks_form(sso, edge, form):
    edge.form = form
    base = "http://127.0.0.1:%d" % edge.port
    session, report = sso.login("lab-admin", base + "/app")
    posts = [r for r in edge.requests if r[0] == "POST"]
    # the form's action is HTML-unescaped (&amp;) and gets the user's secret, read from SECRETS_DIR
    assert posts == [("POST", "/realms/kompose/login-actions/authenticate?session_code=s1&tab_id=t1",
                      {"username": ["lab-admin"], "password": ["admin-pw"], "credentialId": [""]})]
    assert report["login_page"] == base + "/realms/kompose/auth?client_id=oauth2-proxy" and report["login_form"] is True
    assert report["first_hop"] == (302, base + "/app", "/oauth2/start?rd=%2Fapp")
    assert (report["status"], report["url"], report["title"]) == (200, base + "/app", "Prometheus Time Series")
    assert report["hosts"] == ["127.0.0.1"] * 3
    assert report["headers"]["Content-Type"] == "text/html"
    assert session.cookies.get("session") == "ok"


def test_login_without_the_form_reports_and_posts_nothing(sso, edge):
    edge.form = "none"
    session, report = sso.login("lab-admin", "http://127.0.0.1:%d/app" % edge.port)
    assert report["login_form"] is False and "status" not in report
    assert all(r[0] == "GET" for r in edge.requests) and isinstance(session, requests.Session)


def test_login_with_a_refused_password_stays_on_keycloak(sso, edge):
    edge.password = "something else"
    dummy, report = sso.login("lab-user", "http://127.0.0.1:%d/app" % edge.port)
    assert report["status"] == 200 and report["title"] == "Sign in to kompose"
    assert "/login-actions/authenticate" in report["url"] and report["hosts"] == ["127.0.0.1"]
