"""The engine's own metrics, rendered in Prometheus' text format (version 0.0.4).

A handful of counters and gauges do not justify prometheus_client: ``Registry`` keeps them,
``render()`` writes the exposition text (HELP and TYPE lines, escaped label values, samples sorted
by labels so the output is stable), and ``EngineMetrics`` names what the engine reports:

- ``kompose_events_received_total{source,topic}``: events in;
- ``kompose_events_rejected_total{topic}``: messages refused (not an envelope, not the schema);
- ``kompose_events_actions_total{rule,result}``: ``done``, ``failed`` (an attempt), ``parked``
  (given up, kept for replay), ``duplicate`` (dropped by the dedup store);
- ``kompose_events_rule_queue{rule}``, ``kompose_events_rule_consecutive_failures{rule}`` and
  ``kompose_events_rule_lag_seconds{rule}`` (how long its oldest queued job has waited): a rule
  that keeps failing shows here (the alert's input);
- ``kompose_events_source_lag_seconds{source}``: how far a source is behind (0 when caught up).

Counters restart at 0 with the engine; Prometheus' ``rate``/``increase`` handle that.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime

from .errors import EventsError, show
from .times import as_utc

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
ACTION_RESULTS = ("done", "failed", "parked", "duplicate")


class Family:
    """One metric (a counter or a gauge) with its samples, one per combination of label values."""

    def __init__(self, name: str, kind: str, help_text: str, labels: Iterable[str]) -> None:
        if not METRIC_NAME.match(name):
            raise EventsError(f"metric name: {show(name)} is not a Prometheus metric name")
        if kind not in ("counter", "gauge"):
            raise EventsError(f"metric {name}: kind {show(kind)} is not counter or gauge")
        self.name = name
        self.kind = kind
        self.help = help_text
        self.labels = tuple(labels)
        for label in self.labels:
            if not LABEL_NAME.match(label) or label.startswith("__"):
                raise EventsError(f"metric {name}: {show(label)} is not a label name")
        self.samples: dict[tuple[str, ...], float] = {}

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.labels):
            raise EventsError(
                f"metric {self.name}: labels {show(sorted(labels))} given, {show(list(self.labels))} expected"
            )
        return tuple(str(labels[name]) for name in self.labels)

    def inc(self, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` (>= 0 for a counter) to the sample with these labels."""
        if self.kind == "counter" and amount < 0:
            raise EventsError(f"metric {self.name}: a counter cannot decrease (amount {show(amount)})")
        key = self._key(labels)
        self.samples[key] = self.samples.get(key, 0) + amount

    def set(self, value: float, **labels: str) -> None:
        """Set a gauge's sample with these labels."""
        if self.kind != "gauge":
            raise EventsError(f"metric {self.name}: only a gauge can be set")
        self.samples[self._key(labels)] = value

    def value(self, **labels: str) -> float:
        """The sample with these labels (0 when it does not exist yet)."""
        return self.samples.get(self._key(labels), 0)


class Registry:
    """The metric families, in the order they were declared."""

    def __init__(self) -> None:
        self.families: dict[str, Family] = {}

    def counter(self, name: str, help_text: str, labels: Iterable[str] = ()) -> Family:
        """Declare a counter (names of counters end in ``_total``)."""
        if not name.endswith("_total"):
            raise EventsError(f"metric name: {show(name)} is a counter and must end in _total")
        return self._add(Family(name, "counter", help_text, labels))

    def gauge(self, name: str, help_text: str, labels: Iterable[str] = ()) -> Family:
        """Declare a gauge."""
        return self._add(Family(name, "gauge", help_text, labels))

    def _add(self, family: Family) -> Family:
        if family.name in self.families:
            raise EventsError(f"metric name: {show(family.name)} is declared twice")
        self.families[family.name] = family
        return family


def escape_label(value: str) -> str:
    """A label value as the text format wants it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def escape_help(text: str) -> str:
    """HELP text: backslash and newline escaped (quotes are fine there)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value: integers without a fraction, ``+Inf``, ``-Inf`` and ``NaN`` spelled out."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def render(registry: Registry) -> str:
    """The whole registry in the text exposition format, ending with a newline."""
    lines: list[str] = []
    for family in registry.families.values():
        lines.append(f"# HELP {family.name} {escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for key in sorted(family.samples):
            labels = ",".join(f'{name}="{escape_label(value)}"' for name, value in zip(family.labels, key, strict=True))
            selector = f"{{{labels}}}" if labels else ""
            lines.append(f"{family.name}{selector} {format_value(family.samples[key])}")
    return "\n".join(lines) + "\n"


def source_lag(now: datetime, position: datetime | None, caught_up: bool) -> float:
    """Seconds a source is behind: 0 when it read all there was, else the age of its position.

    ``position``: the source time of the last event read (a log line's time, a row's updatedAt).
    A quiet source is not late, hence ``caught_up``; a source that never read anything yet and
    has a backlog reports +Inf, which an alert's ``> threshold`` catches.
    """
    if caught_up:
        return 0.0
    if position is None:
        return math.inf
    return max(0.0, (as_utc(now) - as_utc(position)).total_seconds())


class EngineMetrics:
    """The engine's metrics by name; the dispatcher calls ``action`` and ``rule_state``."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or Registry()
        self.received = self.registry.counter(
            "kompose_events_received_total", "Events received, by source and topic.", ("source", "topic")
        )
        self.rejected = self.registry.counter(
            "kompose_events_rejected_total", "Messages refused: not an envelope or not the topic's schema.", ("topic",)
        )
        self.actions = self.registry.counter(
            "kompose_events_actions_total",
            "Rule actions by result: done, failed (one attempt), parked (given up), duplicate (dropped).",
            ("rule", "result"),
        )
        self.queue = self.registry.gauge("kompose_events_rule_queue", "Jobs waiting in a rule's queue.", ("rule",))
        self.failures = self.registry.gauge(
            "kompose_events_rule_consecutive_failures",
            "Failed attempts of a rule in a row (0 after a success).",
            ("rule",),
        )
        self.rule_lag = self.registry.gauge(
            "kompose_events_rule_lag_seconds", "How long a rule's oldest queued job has waited.", ("rule",)
        )
        self.lag = self.registry.gauge(
            "kompose_events_source_lag_seconds", "How far a source is behind its app (0 when caught up).", ("source",)
        )

    def event_in(self, source: str, topic: str) -> None:
        """An event was received (and valid)."""
        self.received.inc(source=source, topic=topic)

    def event_rejected(self, topic: str) -> None:
        """A message on ``topic`` was refused."""
        self.rejected.inc(topic=topic)

    def action(self, rule: str, result: str) -> None:
        """An action of ``rule`` ended with ``result`` (one of ``ACTION_RESULTS``)."""
        if result not in ACTION_RESULTS:
            raise EventsError(f"result: {show(result)} is not one of {', '.join(ACTION_RESULTS)}")
        self.actions.inc(rule=rule, result=result)

    def rule_state(self, rule: str, queued: int, consecutive_failures: int, lag_seconds: float = 0.0) -> None:
        """A rule's queue length, failures in a row and the wait of its oldest job."""
        self.queue.set(queued, rule=rule)
        self.failures.set(consecutive_failures, rule=rule)
        self.rule_lag.set(lag_seconds, rule=rule)

    def set_lag(self, source: str, seconds: float) -> None:
        """A source's lag in seconds."""
        self.lag.set(seconds, source=source)

    def render(self) -> str:
        """The exposition text for ``GET /metrics``."""
        return render(self.registry)
