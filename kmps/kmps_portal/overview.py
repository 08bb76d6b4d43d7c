"""The overview: every stack and service with its state, and what the monitoring knows.

One page, built from four sources fetched concurrently, each bounded by ``overview_timeout``:

- Docker (through the socket proxy): the listing of the labelled containers, then one
  inspection per container, all at once (``INSPECT_CONCURRENCY`` in flight): state, health,
  uptime, restart count, image and version;
- Alertmanager: the alerts firing now, ``GET /api/v2/alerts?active=true&silenced=false&
  inhibited=false`` (a list of ``gettableAlert``: ``labels``, ``annotations``, ``startsAt``,
  ``status.state``, ...);
- Prometheus: ``GET /api/v1/query?query=<metric>`` for the metric names of the config - the last
  successful backup's time (and size), and ``probe_ssl_earliest_cert_expiry`` per probed host
  (the blackbox exporter's ``instance`` label, ``https://<fqdn>``).

A source that fails or is slow does not fail the page: its part shows "unknown" and the page lists
the problem in words. A metric with no series (no backup yet, no probe) is "unknown", not an
error. The catalog (``site``) adds what Docker cannot know: each container's service name and
published host, and the services whose container is missing.

Sources: Alertmanager's OpenAPI spec (api/v2/openapi.yaml: getAlerts, gettableAlerts), Prometheus'
HTTP API docs (docs/querying/api.md: instant queries, ``{"status", "data": {"resultType": "vector",
"result": [{"metric", "value": [time, "text"]}]}}``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx

from .config import Config
from .docker import ContainerDetails, ContainerSummary, DockerClient, parse_time
from .errors import PortalError
from .upstream import failure, json_body, send

INSPECT_CONCURRENCY = 16
ALERTS_PARAMS = {"active": "true", "silenced": "false", "inhibited": "false"}
SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    summary: str
    description: str
    subject: str  # service, instance or host the alert is about
    starts_at: datetime | None


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class AlertmanagerClient:
    UPSTREAM = "Alertmanager"

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")

    async def firing(self) -> list[Alert]:
        what = "the list of firing alerts"
        response = await send(self._http, self.UPSTREAM, what, "GET", f"{self.base_url}/api/v2/alerts", params=ALERTS_PARAMS)
        if response.status_code != 200:
            raise failure(self.UPSTREAM, what, response)
        body = json_body(self.UPSTREAM, what, response)
        if not isinstance(body, list):
            raise PortalError("Alertmanager answered the alerts with something that is not a list", upstream=self.UPSTREAM)
        alerts = [_alert(item) for item in body if isinstance(item, dict)]
        return sorted(alerts, key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), a.name, a.subject))


class PrometheusClient:
    UPSTREAM = "Prometheus"

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")

    async def query(self, metric: str) -> list[Sample]:
        """The instant vector of ``metric`` (a bare metric name); [] when it has no series."""
        what = f"the query {metric}"
        response = await send(self._http, self.UPSTREAM, what, "GET", f"{self.base_url}/api/v1/query", params={"query": metric})
        if response.status_code != 200:
            raise failure(self.UPSTREAM, what, response)
        body = json_body(self.UPSTREAM, what, response)
        data = body.get("data") if isinstance(body, dict) and body.get("status") == "success" else None
        if not isinstance(data, dict) or data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise PortalError(f"Prometheus answered {what} without a vector", upstream=self.UPSTREAM)
        samples = []
        for item in data["result"]:
            value = _sample_value(item.get("value")) if isinstance(item, dict) else None
            if value is None:
                continue
            metric_labels = item.get("metric") if isinstance(item.get("metric"), dict) else {}
            samples.append(Sample({k: v for k, v in metric_labels.items() if isinstance(v, str)}, value))
        return samples


# -- the overview -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRow:
    stack: str
    service: str
    container: str
    state: str  # running, exited, restarting, ... or "missing" (in the catalog, not on the host)
    health: str  # healthy, unhealthy, starting, none, unknown
    status: str  # Docker's own words ("Up 3 hours (healthy)")
    started_at: datetime | None
    uptime: float | None
    restart_count: int | None
    image: str
    version: str
    fqdn: str | None
    cert_days: float | None

    @property
    def level(self) -> str:
        """ok / warn / bad: the row's colour."""
        if self.state == "missing" or self.health == "unhealthy" or self.state in ("exited", "dead"):
            return "bad"
        if self.state != "running" or self.health in ("starting", "unknown"):
            return "warn"
        return "ok"


@dataclass(frozen=True)
class Backup:
    """The last successful backup as Prometheus knows it; ``result`` ok / too old / unknown."""

    last: datetime | None
    age: float | None
    size: float | None
    result: str


@dataclass(frozen=True)
class Certificate:
    host: str
    expires: datetime
    days: float
    level: str


@dataclass
class Stack:
    name: str
    rows: list[ServiceRow] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = {"ok": 0, "warn": 0, "bad": 0}
        for row in self.rows:
            counts[row.level] += 1
        return counts


@dataclass
class Overview:
    stacks: list[Stack]
    alerts: list[Alert] | None  # None: Alertmanager did not answer
    backup: Backup
    certificates: list[Certificate] | None
    problems: list[str]
    took: float

    @property
    def containers(self) -> int:
        return sum(1 for stack in self.stacks for row in stack.rows if row.state != "missing")


async def _bounded(coro: Any, seconds: float, upstream: str, what: str) -> Any:
    try:
        return await asyncio.wait_for(coro, timeout=seconds)
    except asyncio.TimeoutError:
        raise PortalError(f"{upstream} did not answer {what} within {seconds:g} s", upstream=upstream) from None


async def build(
    config: Config,
    docker: DockerClient,
    alertmanager: AlertmanagerClient,
    prometheus: PrometheusClient,
    now: Callable[[], float] = time.time,
) -> Overview:
    """Fetch everything at once and compose the page's data; never raises for a source's failure."""
    started = time.perf_counter()
    limit = config.overview_timeout
    metrics = config.prometheus
    queries = [metrics.backup_metric, metrics.cert_metric]
    if metrics.backup_size_metric:
        queries.append(metrics.backup_size_metric)
    results = await asyncio.gather(
        _bounded(_containers(docker), limit, "Docker", "the containers"),
        _bounded(alertmanager.firing(), limit, "Alertmanager", "the alerts"),
        *(_bounded(prometheus.query(metric), limit, "Prometheus", f"the query {metric}") for metric in queries),
        return_exceptions=True,
    )
    problems: list[str] = []

    def take(result: Any) -> Any:
        if isinstance(result, PortalError):
            problems.append(str(result))
            return None
        if isinstance(result, BaseException):
            raise result
        return result

    containers = take(results[0])
    alerts = take(results[1])
    backup_samples = take(results[2])
    cert_samples = take(results[3])
    size_samples = take(results[4]) if len(results) > 4 else None
    moment = now()
    certificates = _certificates(cert_samples, moment, metrics.cert_warn_days) if cert_samples is not None else None
    cert_by_host = {cert.host: cert.days for cert in certificates or []}
    stacks = _stacks(config, containers, cert_by_host, moment, problems)
    return Overview(
        stacks=stacks,
        alerts=alerts,
        backup=_backup(backup_samples, size_samples, moment, metrics.backup_max_age_seconds),
        certificates=certificates,
        problems=problems,
        took=time.perf_counter() - started,
    )


async def _containers(docker: DockerClient) -> list[tuple[ContainerSummary, ContainerDetails | PortalError]]:
    listing = await docker.list_containers()
    gate = asyncio.Semaphore(INSPECT_CONCURRENCY)

    async def inspect(summary: ContainerSummary) -> ContainerDetails | PortalError:
        async with gate:
            try:
                return await docker.inspect(summary.id)
            except PortalError as error:  # e.g. removed between listing and inspection
                return error

    details = await asyncio.gather(*(inspect(summary) for summary in listing))
    return list(zip(listing, details))


def _stacks(
    config: Config,
    containers: list[tuple[ContainerSummary, ContainerDetails | PortalError]] | None,
    cert_by_host: dict[str, float],
    moment: float,
    problems: list[str],
) -> list[Stack]:
    catalog = config.site.by_container()
    stacks: dict[str, Stack] = {name: Stack(name) for name in config.site.stacks}
    seen: set[str] = set()
    for summary, details in containers or []:
        seen.add(summary.name)
        entry = catalog.get(summary.name)
        stack = stacks.setdefault(summary.stack, Stack(summary.stack))
        fqdn = entry.fqdn if entry else None
        if isinstance(details, PortalError):
            problems.append(f"{summary.name}: {details}")
            stack.rows.append(
                ServiceRow(
                    stack=summary.stack,
                    service=entry.name if entry else summary.service or summary.name,
                    container=summary.name,
                    state=summary.state,
                    health="unknown",
                    status=summary.status,
                    started_at=None,
                    uptime=None,
                    restart_count=None,
                    image=summary.image,
                    version="",
                    fqdn=fqdn,
                    cert_days=cert_by_host.get(fqdn) if fqdn else None,
                )
            )
            continue
        started = details.started_at
        running = details.state == "running"
        stack.rows.append(
            ServiceRow(
                stack=summary.stack,
                service=entry.name if entry else summary.service or summary.name,
                container=summary.name,
                state=details.state,
                health=details.health,
                status=summary.status,
                started_at=started,
                uptime=max(0.0, moment - started.timestamp()) if started and running else None,
                restart_count=details.restart_count,
                image=details.image or summary.image,
                version=details.version,
                fqdn=fqdn,
                cert_days=cert_by_host.get(fqdn) if fqdn else None,
            )
        )
    if containers is not None:
        # the catalog's services with no container on the host (only known when Docker answered)
        for entry in config.site.services:
            if entry.container in seen:
                continue
            stack = stacks.setdefault(entry.stack, Stack(entry.stack))
            stack.rows.append(
                ServiceRow(
                    stack=entry.stack,
                    service=entry.name,
                    container=entry.container,
                    state="missing",
                    health="unknown",
                    status="no such container",
                    started_at=None,
                    uptime=None,
                    restart_count=None,
                    image="",
                    version="",
                    fqdn=entry.fqdn,
                    cert_days=cert_by_host.get(entry.fqdn) if entry.fqdn else None,
                )
            )
    for stack in stacks.values():
        stack.rows.sort(key=lambda row: (row.service, row.container))
    return list(stacks.values())


def _backup(samples: list[Sample] | None, sizes: list[Sample] | None, moment: float, max_age: int) -> Backup:
    if not samples:
        return Backup(last=None, age=None, size=None, result="unknown")
    newest = max(sample.value for sample in samples)
    if newest <= 0:
        return Backup(last=None, age=None, size=None, result="unknown")
    age = max(0.0, moment - newest)
    size = max((s.value for s in sizes), default=None) if sizes else None
    return Backup(
        last=datetime.fromtimestamp(newest, tz=timezone.utc),
        age=age,
        size=size,
        result="ok" if age <= max_age else "too old",
    )


def _certificates(samples: list[Sample], moment: float, warn_days: int) -> list[Certificate]:
    by_host: dict[str, float] = {}
    for sample in samples:
        host = _host(sample.labels.get("instance", ""))
        if host and sample.value > 0:
            by_host[host] = min(sample.value, by_host.get(host, math.inf))
    certificates = []
    for host, expires in by_host.items():
        days = (expires - moment) / 86400
        level = "bad" if days < 0 else "warn" if days < warn_days else "ok"
        certificates.append(Certificate(host, datetime.fromtimestamp(expires, tz=timezone.utc), days, level))
    return sorted(certificates, key=lambda cert: (cert.days, cert.host))


def _host(instance: str) -> str:
    """``https://auth.example.org`` or ``auth.example.org:443`` -> ``auth.example.org``."""
    if "://" in instance:
        return urlsplit(instance).hostname or ""
    return instance.rsplit(":", 1)[0] if instance.count(":") == 1 else instance


def _sample_value(value: Any) -> float | None:
    if not isinstance(value, list) or len(value) != 2 or not isinstance(value[1], str):
        return None
    try:
        number = float(value[1])
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _alert(item: dict[str, Any]) -> Alert:
    labels = item.get("labels") if isinstance(item.get("labels"), dict) else {}
    annotations = item.get("annotations") if isinstance(item.get("annotations"), dict) else {}

    def text(mapping: dict[str, Any], key: str) -> str:
        value = mapping.get(key)
        return value if isinstance(value, str) else ""

    subject = text(labels, "service") or text(labels, "instance") or text(labels, "container") or text(labels, "job")
    return Alert(
        name=text(labels, "alertname") or "(no name)",
        severity=text(labels, "severity") or "none",
        summary=text(annotations, "summary"),
        description=text(annotations, "description"),
        subject=subject,
        starts_at=parse_time(item.get("startsAt")),
    )
