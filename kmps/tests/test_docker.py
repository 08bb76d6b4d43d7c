"""The Docker client: list, inspect, restart through the socket proxy, and nothing else."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from conftest import DOCKER, Upstreams, container_id

from kmps_portal.docker import ALLOWED, DockerClient, image_version, parse_time
from kmps_portal.errors import PortalError

T = TypeVar("T")


def run(upstreams: Upstreams, work: Callable[[DockerClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with httpx.AsyncClient(transport=upstreams.transport) as http:
            return await work(DockerClient(http, DOCKER + "/"))

    return asyncio.run(main())


def assert_only_allowed(upstreams: Upstreams) -> None:
    for call in upstreams.to(DOCKER):
        assert any(method == call.method and pattern.match(call.url.path) for method, pattern in ALLOWED), call


def test_the_listing_asks_for_every_labelled_container(upstreams: Upstreams) -> None:
    found = run(upstreams, lambda docker: docker.list_containers())
    (call,) = upstreams.calls
    assert call.method == "GET" and call.url.path == "/containers/json"
    assert call.url.params["all"] == "1"
    assert json.loads(call.url.params["filters"]) == {"label": ["org.pivoine.kompose.stack"]}
    assert len(found) == 40
    redis = next(c for c in found if c.name == "core-redis")
    assert (redis.stack, redis.service, redis.state, redis.image) == ("core", "redis", "running", "docker.io/library/redis:7.2")
    assert redis.status.startswith("Up 4 days") and redis.id == container_id("core-redis")
    assert [c.stack for c in found] == sorted(c.stack for c in found)


def test_an_unlabelled_container_is_ignored(upstreams: Upstreams) -> None:
    def listing(request: httpx.Request, match: Any) -> httpx.Response:
        return httpx.Response(200, json=[{"Id": "f" * 64, "Names": ["/stranger"], "Labels": {}, "State": "running"}])

    upstreams.route("GET", DOCKER, "/containers/json", listing)
    assert run(upstreams, lambda docker: docker.list_containers()) == []


def test_inspect_reads_state_health_uptime_restarts_image_and_never_the_environment(upstreams: Upstreams) -> None:
    async def work(docker: DockerClient) -> Any:
        names = ("core-postgres", "watch_grafana", "link_events", "kmps_app", "files_imaginary", "link_metrics")
        return [await docker.inspect(container_id(name)) for name in names]

    postgres, grafana, events, kmps, imaginary, metrics = run(upstreams, work)
    assert (postgres.state, postgres.health, postgres.restart_count, postgres.image, postgres.version) == (
        "running", "healthy", 0, "docker.io/library/postgres:16", "16")
    assert postgres.started_at is not None and postgres.started_at.isoformat() == "2025-12-28T19:26:40.123456+00:00"
    assert (grafana.health, grafana.restart_count) == ("unhealthy", 2)
    assert (events.state, events.health, events.restart_count) == ("exited", "unhealthy", 3)
    assert kmps.version == "0.1.0"  # the OCI version label wins over the tag
    assert imaginary.version.startswith("sha256:")
    assert metrics.health == "none"
    text = repr([postgres, grafana, events, kmps, imaginary, metrics])
    assert "RECORDED-ENV-SECRET" not in text and "PASSWORD" not in text
    assert "env" not in {f.lower() for f in postgres.__dataclass_fields__}
    assert [c.url.path for c in upstreams.calls] == [f"/containers/{container_id(n)}/json" for n in (
        "core-postgres", "watch_grafana", "link_events", "kmps_app", "files_imaginary", "link_metrics")]


def test_restart_posts_with_the_stop_timeout(upstreams: Upstreams) -> None:
    run(upstreams, lambda docker: docker.restart(container_id("core-redis"), 10))
    (call,) = upstreams.calls
    assert call.method == "POST" and call.url.path == f"/containers/{container_id('core-redis')}/restart"
    assert dict(call.url.params) == {"t": "10"}
    assert call.content == b""


def test_restart_failures_in_words(upstreams: Upstreams) -> None:
    upstreams.answer("POST", DOCKER, r"/containers/([^/]+)/restart", 500, file="docker/restart_failed.json")
    with pytest.raises(PortalError, match=r"Docker refused the restart of [0-9a-f]{12}: HTTP 500 Internal Server Error: Cannot restart container") as caught:
        run(upstreams, lambda docker: docker.restart(container_id("core-redis"), 10))
    assert caught.value.status == 500 and not caught.value.outcome_unknown
    with pytest.raises(PortalError, match="HTTP 404 Not Found: No such container"):
        run(upstreams, lambda docker: docker.inspect("0" * 64))


def test_a_restart_without_answer_is_of_unknown_outcome(upstreams: Upstreams) -> None:
    def hang_up(request: httpx.Request, match: Any) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    upstreams.route("POST", DOCKER, r"/containers/([^/]+)/restart", hang_up)
    with pytest.raises(PortalError, match="broke off the exchange .* it may or may not have been done") as caught:
        run(upstreams, lambda docker: docker.restart(container_id("core-redis"), 10))
    assert caught.value.outcome_unknown


def test_find_only_knows_labelled_containers_and_refuses_bad_names(upstreams: Upstreams) -> None:
    assert run(upstreams, lambda docker: docker.find("core-redis")).id == container_id("core-redis")  # type: ignore[union-attr]
    assert run(upstreams, lambda docker: docker.find("kmps_socket_proxy_x")) is None
    calls = len(upstreams.calls)
    for bad in ("../containers/json", "a/b", "", "-x"):
        with pytest.raises(PortalError, match="is not a container name; nothing was sent"):
            run(upstreams, lambda docker: docker.find(bad))
        with pytest.raises(PortalError, match="nothing was sent"):
            run(upstreams, lambda docker: docker.restart(bad, 10))
    assert len(upstreams.calls) == calls
    assert_only_allowed(upstreams)


def test_the_client_has_no_other_call() -> None:
    public = {name for name in dir(DockerClient) if not name.startswith("_")}
    assert public == {"list_containers", "find", "inspect", "restart"}
    assert [(m, p.pattern) for m, p in ALLOWED] == [
        ("GET", "^/containers/json$"),
        ("GET", "^/containers/[A-Za-z0-9][A-Za-z0-9_.-]*/json$"),
        ("POST", "^/containers/[A-Za-z0-9][A-Za-z0-9_.-]*/restart$"),
    ]


@pytest.mark.parametrize(
    ("image", "labels", "version"),
    [
        ("docker.io/library/postgres:16", {}, "16"),
        ("localhost:5000/team/app", {}, "latest"),
        ("localhost:5000/team/app:1.2", {}, "1.2"),
        ("ghcr.io/x/y:v2@sha256:" + "a" * 64, {}, "v2"),
        ("ghcr.io/x/y@sha256:" + "a" * 64, {}, "sha256:aaaaaaaaaaaa"),
        ("kompose-local/kmps:0.1.0-8c1d", {"org.opencontainers.image.version": "0.1.0"}, "0.1.0"),
    ],
)
def test_image_version(image: str, labels: dict[str, str], version: str) -> None:
    assert image_version(image, labels) == version


def test_parse_time() -> None:
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("nonsense") is None
    assert parse_time("2026-01-02T10:33:20.123456789Z").isoformat() == "2026-01-02T10:33:20.123456+00:00"  # type: ignore[union-attr]
    assert parse_time("2026-01-02T12:33:20+02:00").isoformat() == "2026-01-02T10:33:20+00:00"  # type: ignore[union-attr]
