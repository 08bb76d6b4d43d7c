"""The portal's own metrics, in Prometheus' text format, without prometheus_client.

- ``kmps_http_requests_total{route, method, status}``: requests by route *template* (``/users/{id}``,
  so user ids do not multiply the series) and status;
- ``kmps_http_request_duration_seconds_sum`` / ``_count{route}``: time spent per route;
- ``kmps_actions_total{action, result}``: write actions by result (``ok``, ``failed``, ``partial``,
  ``refused`` when the audit log could not be written and nothing was done);
- ``kmps_audit_publish_failures_total``: audit events the broker did not take;
- ``kmps_info{version}``.

``/metrics`` needs no identity, and Traefik has no route to it: only Prometheus, on the portal's
network, reaches it.
"""

from __future__ import annotations

from collections import defaultdict

from . import __version__


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Counters updated from the event loop (one thread), rendered on demand."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.duration_sum: dict[str, float] = defaultdict(float)
        self.duration_count: dict[str, int] = defaultdict(int)
        self.actions: dict[tuple[str, str], int] = defaultdict(int)
        self.publish_failures = 0

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests[(route, method, status)] += 1
        self.duration_sum[route] += seconds
        self.duration_count[route] += 1

    def action(self, action: str, result: str) -> None:
        self.actions[(action, result)] += 1

    def render(self) -> str:
        lines = [
            "# HELP kmps_info The portal's version.",
            "# TYPE kmps_info gauge",
            f'kmps_info{{version="{_label(__version__)}"}} 1',
            "# HELP kmps_http_requests_total HTTP requests by route template, method and status.",
            "# TYPE kmps_http_requests_total counter",
        ]
        for (route, method, status), count in sorted(self.requests.items()):
            lines.append(f'kmps_http_requests_total{{route="{_label(route)}",method="{method}",status="{status}"}} {count}')
        lines += [
            "# HELP kmps_http_request_duration_seconds Time spent answering, by route template.",
            "# TYPE kmps_http_request_duration_seconds summary",
        ]
        for route in sorted(self.duration_count):
            lines.append(f'kmps_http_request_duration_seconds_sum{{route="{_label(route)}"}} {self.duration_sum[route]:.6f}')
            lines.append(f'kmps_http_request_duration_seconds_count{{route="{_label(route)}"}} {self.duration_count[route]}')
        lines += [
            "# HELP kmps_actions_total Write actions by action and result.",
            "# TYPE kmps_actions_total counter",
        ]
        for (action, result), count in sorted(self.actions.items()):
            lines.append(f'kmps_actions_total{{action="{_label(action)}",result="{_label(result)}"}} {count}')
        lines += [
            "# HELP kmps_audit_publish_failures_total Audit events the MQTT broker did not take.",
            "# TYPE kmps_audit_publish_failures_total counter",
            f"kmps_audit_publish_failures_total {self.publish_failures}",
        ]
        return "\n".join(lines) + "\n"
