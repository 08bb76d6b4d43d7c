"""Shared test doubles: the recorded upstreams behind httpx's MockTransport, a fake PostgreSQL
connection that understands the portal's few statements, a fake MQTT publisher, the config."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kmps_portal.app import Portal, build_portal, create_app
from kmps_portal.audit import Database
from kmps_portal.config import Config, validate

HERE = Path(__file__).parent
RECORDED = HERE / "recorded"
NOW = 1767350000.0  # 2026-01-02T10:33:20Z: the recorded answers' "now"
REALM = "kompose"
KEYCLOAK = "http://auth_keycloak:8080"
DOCKER = "http://kmps_socket_proxy:2375"
ALERTMANAGER = "http://watch_alertmanager:9093"
PROMETHEUS = "http://watch_prometheus:9090"
ENV = {
    "KMPS_KEYCLOAK_SECRET": "kc-client-secret-VALUE-never-shown",
    "KMPS_DATABASE_PASSWORD": "db-password-VALUE-never-shown",
    "KMPS_MQTT_PASSWORD": "mqtt-password-VALUE-never-shown",
    "KMPS_CSRF_SECRET": "csrf-secret-VALUE-never-shown-0123456789abcdef",
}


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))


def raw_config() -> dict[str, Any]:
    return {
        "listen": {"host": "127.0.0.1", "port": 8080},
        "keycloak": {
            "url": KEYCLOAK,
            "public_url": "https://auth.example.org",
            "realm": REALM,
            "client_id": "kmps",
            "secret_env": "KMPS_KEYCLOAK_SECRET",
        },
        "docker": {"url": DOCKER},
        "alertmanager": {"url": ALERTMANAGER},
        "prometheus": {"url": PROMETHEUS},
        "database": {"host": "core-postgres", "dbname": "kmps", "user": "kmps", "password_env": "KMPS_DATABASE_PASSWORD"},
        "mqtt": {"host": "core-mqtt", "username": "kmps", "password_env": "KMPS_MQTT_PASSWORD"},
        "admin_group": "admins",
        "csrf_secret_env": "KMPS_CSRF_SECRET",
        "site": json.loads((HERE / "site.json").read_text(encoding="utf-8")),
    }


def make_config(**changes: Any) -> Config:
    raw = raw_config()
    for key, value in changes.items():
        raw[key] = value
    return validate(raw, ENV)


# -- the recorded upstreams ----------------------------------------------------------------------


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def file_response(status: int, name: str) -> httpx.Response:
    return json_response(status, recorded(name))


Handler = Callable[[httpx.Request, "re.Match[str]"], httpx.Response]


def user_id(name: str) -> str:
    return next(u["id"] for u in recorded("keycloak/users.json") if u["username"] == name)


def group_id(name: str) -> str:
    return next(g["id"] for g in recorded("keycloak/groups.json") if g["name"] == name)


def container_id(name: str) -> str:
    return next(c["Id"] for c in recorded("docker/containers.json") if c["Names"][0] == "/" + name)


class Upstreams:
    """Serves the recorded answers by (method, host, path); records every request it gets."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []
        self.routes: list[tuple[str, str, re.Pattern[str], Handler]] = []
        self.unmatched: list[httpx.Request] = []
        self._defaults()

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        host = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        for method, base, pattern, handler in self.routes:
            if method == request.method and base == host:
                match = pattern.fullmatch(request.url.path)
                if match:
                    return handler(request, match)
        self.unmatched.append(request)
        return json_response(599, {"error": "no recorded answer"})

    def route(self, method: str, base: str, pattern: str, handler: Handler) -> None:
        """Add a route that takes precedence over the ones before it."""
        self.routes.insert(0, (method, base, re.compile(pattern), handler))

    def answer(self, method: str, base: str, pattern: str, status: int, body: Any = None, file: str = "") -> None:
        """Make (method, path) answer ``status`` with a recorded file or a body."""
        def handler(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
            if file:
                return file_response(status, file)
            return httpx.Response(status) if body is None else json_response(status, body)

        self.route(method, base, pattern, handler)

    def to(self, base: str) -> list[httpx.Request]:
        return [call for call in self.calls if str(call.url).startswith(base)]

    def writes(self) -> list[httpx.Request]:
        """Calls that change something (everything but GETs and the token request)."""
        return [c for c in self.calls if c.method != "GET" and not c.url.path.endswith("/openid-connect/token")]

    def _defaults(self) -> None:
        admin = f"/admin/realms/{REALM}"
        users = {u["id"]: u["username"] for u in recorded("keycloak/users.json")}
        inspect = {c["Id"]: c["Names"][0][1:] for c in recorded("docker/containers.json")}

        def token(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
            return file_response(200, "keycloak/token.json")

        def list_users(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
            params = request.url.params
            if params.get("search") == "alice":
                return file_response(200, "keycloak/users_search_alice.json")
            if "username" in params:
                return json_response(200, [u for u in recorded("keycloak/users.json") if u["username"] == params["username"]])
            return file_response(200, "keycloak/users.json")

        def one_user(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
            name = users.get(match.group(1))
            path = RECORDED / f"keycloak/user_{name}.json"
            if name is None or not path.exists():
                return file_response(404, "keycloak/user_not_found.json")
            return file_response(200, f"keycloak/user_{name}.json")

        def per_user(kind: str) -> Handler:
            def handler(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
                name = users.get(match.group(1))
                if name is None:
                    return file_response(404, "keycloak/user_not_found.json")
                path = RECORDED / f"keycloak/user_{name}_{kind}.json"
                return file_response(200, f"keycloak/user_{name}_{kind}.json") if path.exists() else json_response(200, [])

            return handler

        def created(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
            new = "0f0e0d0c-0b0a-4909-a807-060504030201"
            return httpx.Response(201, headers={"Location": f"{KEYCLOAK}{admin}/users/{new}"})

        def no_content(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
            return httpx.Response(204)

        def container(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
            name = inspect.get(match.group(1))
            if name is None:
                return file_response(404, "docker/no_such_container.json")
            return file_response(200, f"docker/inspect/{name}.json")

        def restart(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
            if match.group(1) not in inspect:
                return file_response(404, "docker/no_such_container.json")
            return httpx.Response(204)

        def query(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
            files = {
                "kompose_backup_last_success_timestamp_seconds": "prometheus/backup_last_success.json",
                "kompose_backup_last_size_bytes": "prometheus/backup_last_size.json",
                "probe_ssl_earliest_cert_expiry": "prometheus/cert_expiry.json",
            }
            return file_response(200, files.get(request.url.params.get("query", ""), "prometheus/empty.json"))

        uid = r"([A-Za-z0-9-]+)"
        for method, base, pattern, handler in [
            ("POST", KEYCLOAK, f"/realms/{REALM}/protocol/openid-connect/token", token),
            ("GET", KEYCLOAK, f"{admin}/users", list_users),
            ("POST", KEYCLOAK, f"{admin}/users", created),
            ("GET", KEYCLOAK, f"{admin}/users/{uid}", one_user),
            ("PUT", KEYCLOAK, f"{admin}/users/{uid}", no_content),
            ("PUT", KEYCLOAK, f"{admin}/users/{uid}/execute-actions-email", no_content),
            ("GET", KEYCLOAK, f"{admin}/users/{uid}/groups", per_user("groups")),
            ("PUT", KEYCLOAK, f"{admin}/users/{uid}/groups/{uid}", no_content),
            ("DELETE", KEYCLOAK, f"{admin}/users/{uid}/groups/{uid}", no_content),
            ("GET", KEYCLOAK, f"{admin}/users/{uid}/sessions", per_user("sessions")),
            ("POST", KEYCLOAK, f"{admin}/users/{uid}/logout", no_content),
            ("GET", KEYCLOAK, f"{admin}/groups", lambda r, m: file_response(200, "keycloak/groups.json")),
            ("GET", KEYCLOAK, f"{admin}/clients", lambda r, m: file_response(200, "keycloak/clients.json")),
            ("GET", DOCKER, "/containers/json", lambda r, m: file_response(200, "docker/containers.json")),
            ("GET", DOCKER, r"/containers/([A-Za-z0-9_.-]+)/json", container),
            ("POST", DOCKER, r"/containers/([A-Za-z0-9_.-]+)/restart", restart),
            ("GET", ALERTMANAGER, "/api/v2/alerts", lambda r, m: file_response(200, "alertmanager/alerts.json")),
            ("GET", PROMETHEUS, "/api/v1/query", query),
        ]:
            self.routes.append((method, base, re.compile(pattern), handler))


# -- PostgreSQL and MQTT ---------------------------------------------------------------------------


class FakeCursor:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    async def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


class FakeServer:
    """The state a PostgreSQL server keeps for the portal: tables, rows; shared by connections."""

    def __init__(self) -> None:
        self.tables: dict[str, Any] = {}
        self.statements: list[str] = []
        self.fail: Callable[[str], Exception | None] = lambda sql: None
        self.refuse_connections: Exception | None = None
        self.connections = 0


class FakeTransaction:
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.saved: dict[str, Any] = {}

    async def __aenter__(self) -> None:
        self.saved = copy.deepcopy(self.server.tables)

    async def __aexit__(self, kind: Any, error: Any, trace: Any) -> bool:
        if error is not None:
            self.server.tables = self.saved  # PostgreSQL's DDL is transactional too
        return False


class FakeConnection:
    """Interprets exactly the statements audit.py sends (and fails on anything else)."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.closed = False

    def transaction(self) -> FakeTransaction:
        return FakeTransaction(self.server)

    async def close(self) -> None:
        self.closed = True

    async def execute(self, query: str, params: Any = None) -> FakeCursor:
        sql = " ".join(query.split())
        self.server.statements.append(sql)
        problem = self.server.fail(sql)
        if problem is not None:
            raise problem
        tables = self.server.tables
        if sql.startswith("SELECT pg_advisory_xact_lock") or sql == "SELECT 1":
            return FakeCursor([(1,)])
        if sql.startswith("CREATE TABLE IF NOT EXISTS schema_version"):
            tables.setdefault("schema_version", [])
            return FakeCursor([])
        if sql.startswith("SELECT version FROM schema_version"):
            return FakeCursor([(row[0],) for row in sorted(tables["schema_version"])])
        if sql.startswith("INSERT INTO schema_version"):
            if any(row[0] == params[0] for row in tables["schema_version"]):
                raise RuntimeError("duplicate key value violates unique constraint schema_version_pkey")
            tables["schema_version"].append((params[0], params[1]))
            return FakeCursor([])
        if sql.startswith("CREATE TABLE audit"):
            if "audit" in tables:
                raise RuntimeError('relation "audit" already exists')
            tables["audit"] = {"rows": [], "next": 1, "checked": False, "index": False}
            return FakeCursor([])
        if sql.startswith("CREATE INDEX audit_at"):
            tables["audit"]["index"] = True
            return FakeCursor([])
        if sql.startswith("ALTER TABLE audit ADD CONSTRAINT audit_result"):
            tables["audit"]["checked"] = True
            return FakeCursor([])
        if sql.startswith("INSERT INTO audit"):
            audit = tables["audit"]
            row = {"id": audit["next"], "at": NOW, "actor": params[0], "action": params[1], "target": params[2],
                   "result": "started", "detail": ""}
            audit["next"] += 1
            audit["rows"].append(row)
            return FakeCursor([(row["id"],)])
        if sql.startswith("UPDATE audit SET result"):
            result, detail, row_id = params
            if tables["audit"]["checked"] and result not in ("started", "ok", "failed", "partial"):
                raise RuntimeError('new row for relation "audit" violates check constraint "audit_result"')
            for row in tables["audit"]["rows"]:
                if row["id"] == row_id:
                    row.update(result=result, detail=detail)
                    return FakeCursor([(row_id,)])
            return FakeCursor([])
        if sql.startswith("SELECT id, at, actor, action, target, result, detail FROM audit"):
            from datetime import datetime, timezone

            before, dummy, limit = params
            rows = [r for r in tables["audit"]["rows"] if before is None or r["id"] < before]
            rows.sort(key=lambda r: r["id"], reverse=True)
            return FakeCursor([
                (r["id"], datetime.fromtimestamp(r["at"], tz=timezone.utc), r["actor"], r["action"], r["target"],
                 r["result"], r["detail"]) for r in rows[:limit]
            ])
        raise AssertionError(f"the fake database does not know: {sql}")


def fake_connector(server: FakeServer) -> Callable[[], Any]:
    async def connect() -> FakeConnection:
        if server.refuse_connections is not None:
            raise server.refuse_connections
        server.connections += 1
        return FakeConnection(server)

    return connect


class FakePublisher:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.fail: Exception | None = None

    async def publish(self, topic: str, payload: bytes) -> None:
        if self.fail is not None:
            raise self.fail
        self.messages.append((topic, payload))

    def decoded(self) -> list[dict[str, Any]]:
        return [json.loads(payload) for dummy, payload in self.messages]


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def upstreams() -> Upstreams:
    return Upstreams()


@pytest.fixture
def pg() -> FakeServer:
    return FakeServer()


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def config() -> Config:
    return make_config()


@pytest.fixture
def portal(config: Config, upstreams: Upstreams, pg: FakeServer, publisher: FakePublisher) -> Portal:
    return build_portal(
        config,
        ENV,
        transport=upstreams.transport,
        database=Database(fake_connector(pg)),
        publisher=publisher,
        clock=lambda: NOW,
    )


ADMIN = {
    "X-Auth-Request-User": "a8c1e0f5-0000-4000-a000-00000000ad01",
    "X-Auth-Request-Email": "admin@example.org",
    "X-Auth-Request-Groups": "/admins,/family",
    "X-Auth-Request-Preferred-Username": "admin",
}
USER = {
    "X-Auth-Request-User": "a8c1e0f5-0000-4000-a000-0000000a11ce",
    "X-Auth-Request-Email": "alice@example.org",
    "X-Auth-Request-Groups": "family",
    "X-Auth-Request-Preferred-Username": "alice",
}


@pytest.fixture
def client(portal: Portal) -> Iterator[Any]:
    from starlette.testclient import TestClient

    with TestClient(create_app(portal), base_url="https://kmps.example.org", follow_redirects=False) as test_client:
        yield test_client
