"""The overview's composition from Docker, Alertmanager and Prometheus, whatever fails."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from conftest import ALERTMANAGER, DOCKER, NOW, PROMETHEUS, Upstreams, container_id, make_config, recorded

from kmps_portal import overview
from kmps_portal.config import Config
from kmps_portal.docker import ALLOWED, DockerClient


def build(upstreams: Upstreams, config: Config | None = None) -> overview.Overview:
    config = config or make_config()

    async def main() -> overview.Overview:
        async with httpx.AsyncClient(transport=upstreams.transport) as http:
            return await overview.build(
                config,
                DockerClient(http, config.docker_url),
                overview.AlertmanagerClient(http, config.alertmanager_url),
                overview.PrometheusClient(http, config.prometheus.url),
                now=lambda: NOW,
            )

    return asyncio.run(main())


def rows(view: overview.Overview) -> dict[str, overview.ServiceRow]:
    return {row.container: row for stack in view.stacks for row in stack.rows}


def test_every_stack_and_service_with_its_state(upstreams: Upstreams) -> None:
    view = build(upstreams)
    assert view.problems == []
    assert [s.name for s in view.stacks] == ["auth", "core", "events", "link", "messaging", "news", "proxy", "track",
                                             "vault", "watch", "kmps", "dev", "chat", "files"]
    by = rows(view)
    assert len(by) == 41 and view.containers == 40
    keycloak = by["auth_keycloak"]
    assert (keycloak.service, keycloak.state, keycloak.health, keycloak.version, keycloak.fqdn) == (
        "keycloak", "running", "healthy", "26.4", "auth.example.org")
    assert keycloak.uptime == pytest.approx(180000, abs=1) and keycloak.restart_count == 0 and keycloak.level == "ok"
    assert keycloak.cert_days == pytest.approx(45 + 4)
    assert by["core-postgres"].fqdn is None and by["core-postgres"].cert_days is None
    assert (by["watch_grafana"].health, by["watch_grafana"].level) == ("unhealthy", "bad")
    assert (by["events_engine"].health, by["events_engine"].level) == ("starting", "warn")
    assert (by["link_events"].state, by["link_events"].uptime, by["link_events"].level) == ("exited", None, "bad")
    assert (by["files_cron"].state, by["files_cron"].restart_count, by["files_cron"].level) == ("restarting", 7, "warn")
    assert (by["link_metrics"].health, by["link_metrics"].level) == ("none", "ok")
    wiki = by["dev_wiki"]  # in the catalog, not on the host
    assert (wiki.state, wiki.level, wiki.fqdn) == ("missing", "bad", "wiki.example.org")
    assert view.stacks[1].counts == {"ok": 3, "warn": 0, "bad": 0}


def test_backup_certificates_and_alerts(upstreams: Upstreams) -> None:
    view = build(upstreams)
    assert view.backup.result == "ok" and view.backup.age == 24200 and view.backup.size == 1873401856
    assert view.backup.last is not None and view.backup.last.isoformat() == "2026-01-02T03:50:00+00:00"
    assert view.certificates is not None and len(view.certificates) == 17
    first = view.certificates[0]
    assert (first.host, round(first.days), first.level) == ("files.example.org", 9, "warn")
    assert all(c.level == "ok" for c in view.certificates[1:])
    assert view.alerts is not None
    assert [(a.name, a.severity, a.subject) for a in view.alerts] == [
        ("ProbeFailing", "critical", "grafana"), ("CertificateExpiring", "warning", "nextcloud")]
    assert view.alerts[0].starts_at is not None and view.alerts[0].summary == "grafana's health probe is failing"
    queries = [c.url.params["query"] for c in upstreams.to(PROMETHEUS)]
    assert sorted(queries) == ["kompose_backup_last_size_bytes", "kompose_backup_last_success_timestamp_seconds",
                               "probe_ssl_earliest_cert_expiry"]
    (alerts_call,) = upstreams.to(ALERTMANAGER)
    assert alerts_call.url.path == "/api/v2/alerts"
    assert dict(alerts_call.url.params) == {"active": "true", "silenced": "false", "inhibited": "false"}


def test_only_the_allowed_docker_calls_are_made(upstreams: Upstreams) -> None:
    build(upstreams)
    docker_calls = upstreams.to(DOCKER)
    assert len(docker_calls) == 41  # one listing, 40 inspections
    for call in docker_calls:
        assert call.method == "GET"
        assert any(method == call.method and pattern.match(call.url.path) for method, pattern in ALLOWED)
    assert upstreams.unmatched == []


def test_missing_metrics_are_unknown_not_errors(upstreams: Upstreams) -> None:
    upstreams.answer("GET", PROMETHEUS, "/api/v1/query", 200, file="prometheus/empty.json")
    view = build(upstreams)
    assert view.problems == []
    assert (view.backup.result, view.backup.age, view.backup.last) == ("unknown", None, None)
    assert view.certificates == []
    assert rows(view)["auth_keycloak"].cert_days is None


def test_a_too_old_backup(upstreams: Upstreams) -> None:
    raw_age = 24200
    config = make_config(prometheus={"url": PROMETHEUS, "backup_max_age_seconds": raw_age - 1})
    assert build(upstreams, config).backup.result == "too old"


def test_a_failing_alertmanager_leaves_the_rest(upstreams: Upstreams) -> None:
    upstreams.answer("GET", ALERTMANAGER, "/api/v2/alerts", 500, body={"code": 500, "message": "internal error"})
    view = build(upstreams)
    assert view.alerts is None
    assert view.problems == ["Alertmanager refused the list of firing alerts: HTTP 500 Internal Server Error: internal error"]
    assert view.containers == 40 and view.backup.result == "ok"


def test_a_prometheus_error_and_an_unreachable_docker(upstreams: Upstreams) -> None:
    upstreams.answer("GET", PROMETHEUS, "/api/v1/query", 400, file="prometheus/bad_data.json")

    def refused(request: httpx.Request, match: Any) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    upstreams.route("GET", DOCKER, "/containers/json", refused)
    view = build(upstreams)
    assert view.containers == 0 and all(not stack.rows for stack in view.stacks)
    assert "Docker cannot be reached (the list of containers): [Errno 111] Connection refused" in view.problems
    assert any(p.startswith("Prometheus refused the query kompose_backup_last_success_timestamp_seconds: HTTP 400 Bad Request: "
                            "invalid parameter \"query\"") for p in view.problems)
    assert view.backup.result == "unknown" and view.certificates is None
    assert view.alerts is not None


def test_a_slow_source_is_cut_off_and_named(upstreams: Upstreams) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json=[])

    config = make_config(overview_timeout=0.2)

    async def main() -> overview.Overview:
        sync = upstreams.transport

        class Mixed(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                if request.url.host == "watch_alertmanager":
                    return await slow(request)
                return await sync.handle_async_request(request)

        async with httpx.AsyncClient(transport=Mixed()) as http:
            return await overview.build(config, DockerClient(http, config.docker_url),
                                        overview.AlertmanagerClient(http, config.alertmanager_url),
                                        overview.PrometheusClient(http, config.prometheus.url), now=lambda: NOW)

    started = time.perf_counter()
    view = asyncio.run(main())
    assert time.perf_counter() - started < 1.5
    assert view.problems == ["Alertmanager did not answer the alerts within 0.2 s"]
    assert view.alerts is None and view.containers == 40


def test_a_container_gone_between_listing_and_inspection(upstreams: Upstreams) -> None:
    gone = container_id("core-redis")
    upstreams.answer("GET", DOCKER, f"/containers/{gone}/json", 404, file="docker/no_such_container.json")
    view = build(upstreams)
    redis = rows(view)["core-redis"]
    assert (redis.state, redis.health, redis.restart_count, redis.level) == ("running", "unknown", None, "warn")
    message = recorded("docker/no_such_container.json")["message"]
    assert view.problems == [f"core-redis: Docker refused the inspection of {gone[:12]}: HTTP 404 Not Found: {message}"]
