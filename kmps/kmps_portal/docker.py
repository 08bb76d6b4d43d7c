"""A client of the Docker Engine API through a socket proxy: list, inspect, restart. Nothing else.

The portal never mounts the Docker socket. It talks plain HTTP to a socket proxy on a network
only the two of them share, and the proxy passes exactly these three calls (its allow-list; every
other method and path is refused there, and this module has no code for any other):

- ``GET  /containers/json?all=1&filters={"label":["org.pivoine.kompose.stack"]}`` - the site's
  containers (``Id``, ``Names``, ``Image``, ``State``, ``Status``, ``Labels``, ``Created``);
- ``GET  /containers/{id}/json`` - one container (``State.Status``, ``State.Health.Status``,
  ``State.StartedAt``, ``RestartCount``, ``Config.Image``, ``Config.Labels``);
- ``POST /containers/{id}/restart?t=<seconds>`` - restart one (204; 404 no such container).

Paths are unversioned, so the daemon answers with its own API version (1.41 and newer have every
field read here; Docker 29 refuses versions older than 1.44, so a pinned old version would break).
The proxy's allow-list as regular expressions, with the optional version prefix::

    GET   ^(/v1\\.[0-9]+)?/containers/json$
    GET   ^(/v1\\.[0-9]+)?/containers/[A-Za-z0-9][A-Za-z0-9_.-]*/json$
    POST  ^(/v1\\.[0-9]+)?/containers/[A-Za-z0-9][A-Za-z0-9_.-]*/restart$

The portal restarts only a container carrying the stack label (it looks the name up in the
listing first), so even the proxy's container-id pattern cannot be used on another container.

``Config.Env`` of an inspected container holds the service's secrets: it is dropped from the
answer as soon as it is parsed and never read, kept or shown.

Sources: Docker Engine API reference, v1.41 to v1.51 (docs.docker.com/reference/api/engine/):
ContainerList, ContainerInspect, ContainerRestart; error bodies are ``{"message": "..."}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import httpx

from .errors import PortalError
from .upstream import failure, json_body, send

UPSTREAM = "Docker"
STACK_LABEL = "org.pivoine.kompose.stack"
SERVICE_LABEL = "com.docker.compose.service"
VERSION_LABEL = "org.opencontainers.image.version"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
LIST_PATH = "/containers/json"
# seconds a restart may take beyond the stop timeout before the portal stops waiting
RESTART_MARGIN = 60.0
# the three calls, as (method, path pattern): docker.py sends nothing else (tests check it)
ALLOWED = (
    ("GET", re.compile(r"^/containers/json$")),
    ("GET", re.compile(r"^/containers/[A-Za-z0-9][A-Za-z0-9_.-]*/json$")),
    ("POST", re.compile(r"^/containers/[A-Za-z0-9][A-Za-z0-9_.-]*/restart$")),
)


@dataclass(frozen=True)
class ContainerSummary:
    """One entry of the listing."""

    id: str
    name: str
    image: str
    state: str
    status: str
    stack: str
    service: str
    created: datetime | None


@dataclass(frozen=True)
class ContainerDetails:
    """What the overview needs from an inspection. Deliberately no environment, no mounts."""

    id: str
    name: str
    state: str
    health: str  # healthy, unhealthy, starting, or "none" without a health check
    started_at: datetime | None
    restart_count: int
    image: str
    version: str
    labels: Mapping[str, str] = field(default_factory=dict)


def parse_time(value: Any) -> datetime | None:
    """Docker's RFC 3339 times (nanoseconds, ``Z``); None for the zero time or nonsense."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", value)
    if not match:
        return None
    fraction = (match.group(2) or ".0")[:7]
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    try:
        return datetime.fromisoformat(f"{match.group(1)}{fraction}{zone}").astimezone(timezone.utc)
    except ValueError:
        return None


def image_version(image: str, labels: Mapping[str, str]) -> str:
    """The version to show: the image's OCI version label, else its tag (``latest`` if none)."""
    label = labels.get(VERSION_LABEL)
    if isinstance(label, str) and label:
        return label
    reference, dummy, digest = image.partition("@")
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rsplit(":", 1)[1]
    if digest:
        return digest[:19]  # sha256: and 12 hex digits
    return "latest"


def check_name(value: str) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise PortalError(f"{value[:80]!r} is not a container name; nothing was sent to Docker", status=404)
    return value


class DockerClient:
    """The socket proxy at ``http``'s base URL."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")

    async def list_containers(self) -> list[ContainerSummary]:
        """Every container (running or not) with the stack label."""
        what = "the list of containers"
        filters = json.dumps({"label": [STACK_LABEL]}, separators=(",", ":"))
        response = await send(
            self._http, UPSTREAM, what, "GET", self.base_url + LIST_PATH, params={"all": "1", "filters": filters}
        )
        if response.status_code != 200:
            raise failure(UPSTREAM, what, response)
        body = json_body(UPSTREAM, what, response)
        if not isinstance(body, list):
            raise PortalError("Docker answered the list of containers with something that is not a list", upstream=UPSTREAM)
        found = [_summary(item) for item in body if isinstance(item, dict)]
        return sorted((c for c in found if c is not None), key=lambda c: (c.stack, c.name))

    async def find(self, name: str) -> ContainerSummary | None:
        """The labelled container called ``name``, or None: the only ones the portal may touch."""
        check_name(name)
        for container in await self.list_containers():
            if container.name == name:
                return container
        return None

    async def inspect(self, container_id: str) -> ContainerDetails:
        what = f"the inspection of {container_id[:12]}"
        path = f"/containers/{quote(check_name(container_id), safe='')}/json"
        response = await send(self._http, UPSTREAM, what, "GET", self.base_url + path)
        if response.status_code != 200:
            raise failure(UPSTREAM, what, response)
        body = json_body(UPSTREAM, what, response)
        if not isinstance(body, dict):
            raise PortalError(f"Docker answered {what} with something that is not an object", upstream=UPSTREAM)
        return _details(body)

    async def restart(self, container_id: str, timeout: int) -> None:
        """Restart: Docker stops the container (``timeout`` seconds, then kills it) and starts it."""
        what = f"the restart of {container_id[:12]}"
        path = f"/containers/{quote(check_name(container_id), safe='')}/restart"
        # Docker answers when the container is started again: up to ``timeout`` to stop it, then
        # the start itself; the call's own timeout leaves room for both
        response = await send(
            self._http,
            UPSTREAM,
            what,
            "POST",
            self.base_url + path,
            params={"t": str(timeout)},
            timeout=httpx.Timeout(timeout + RESTART_MARGIN),
            write=True,
        )
        if response.status_code not in (204, 200):
            raise failure(UPSTREAM, what, response)


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _summary(item: dict[str, Any]) -> ContainerSummary | None:
    labels = _labels(item.get("Labels"))
    names = item.get("Names")
    name = names[0].lstrip("/") if isinstance(names, list) and names and isinstance(names[0], str) else ""
    if not isinstance(item.get("Id"), str) or not name or STACK_LABEL not in labels:
        return None
    created = item.get("Created")
    return ContainerSummary(
        id=item["Id"],
        name=name,
        image=item.get("Image") if isinstance(item.get("Image"), str) else "",
        state=item.get("State") if isinstance(item.get("State"), str) else "unknown",
        status=item.get("Status") if isinstance(item.get("Status"), str) else "",
        stack=labels[STACK_LABEL],
        service=labels.get(SERVICE_LABEL, ""),
        created=datetime.fromtimestamp(created, tz=timezone.utc) if isinstance(created, int) and created > 0 else None,
    )


def _details(body: dict[str, Any]) -> ContainerDetails:
    config = body.get("Config") if isinstance(body.get("Config"), dict) else {}
    # the environment holds secrets: dropped before anything else looks at the answer
    config.pop("Env", None)
    state = body.get("State") if isinstance(body.get("State"), dict) else {}
    health = state.get("Health") if isinstance(state.get("Health"), dict) else {}
    labels = _labels(config.get("Labels"))
    image = config.get("Image") if isinstance(config.get("Image"), str) else ""
    restarts = body.get("RestartCount")
    name = body.get("Name") if isinstance(body.get("Name"), str) else ""
    return ContainerDetails(
        id=body.get("Id") if isinstance(body.get("Id"), str) else "",
        name=name.lstrip("/"),
        state=state.get("Status") if isinstance(state.get("Status"), str) else "unknown",
        health=health.get("Status") if isinstance(health.get("Status"), str) else "none",
        started_at=parse_time(state.get("StartedAt")),
        restart_count=restarts if isinstance(restarts, int) and not isinstance(restarts, bool) else 0,
        image=image,
        version=image_version(image, labels),
        labels=labels,
    )
