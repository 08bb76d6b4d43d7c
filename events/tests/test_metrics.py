"""The engine's metrics in Prometheus' text format, without prometheus_client."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from kompose_events.errors import EventsError
from kompose_events.metrics import (
    CONTENT_TYPE,
    EngineMetrics,
    Registry,
    escape_help,
    escape_label,
    format_value,
    render,
    source_lag,
)


def test_engine_metrics_text() -> None:
    metrics = EngineMetrics()
    metrics.event_in("vaultwarden", "kompose/vault/security/failed")
    metrics.event_in("vaultwarden", "kompose/vault/security/failed")
    metrics.event_in("linkwarden", "kompose/linkwarden/bookmark/added")
    metrics.event_rejected("kompose/news/article/published")
    metrics.action("vault-failure-to-gotify", "done")
    metrics.action("bookmark-added-to-umami", "failed")
    metrics.rule_state("bookmark-added-to-umami", 3, 1, 42.5)
    metrics.set_lag("linkwarden", 12.5)
    metrics.set_lag("vaultwarden", 0)
    assert metrics.render() == (
        "# HELP kompose_events_received_total Events received, by source and topic.\n"
        "# TYPE kompose_events_received_total counter\n"
        'kompose_events_received_total{source="linkwarden",topic="kompose/linkwarden/bookmark/added"} 1\n'
        'kompose_events_received_total{source="vaultwarden",topic="kompose/vault/security/failed"} 2\n'
        "# HELP kompose_events_rejected_total Messages refused: not an envelope or not the topic's schema.\n"
        "# TYPE kompose_events_rejected_total counter\n"
        'kompose_events_rejected_total{topic="kompose/news/article/published"} 1\n'
        "# HELP kompose_events_actions_total Rule actions by result: done, failed (one attempt), parked (given up), "
        "duplicate (dropped).\n"
        "# TYPE kompose_events_actions_total counter\n"
        'kompose_events_actions_total{rule="bookmark-added-to-umami",result="failed"} 1\n'
        'kompose_events_actions_total{rule="vault-failure-to-gotify",result="done"} 1\n'
        "# HELP kompose_events_rule_queue Jobs waiting in a rule's queue.\n"
        "# TYPE kompose_events_rule_queue gauge\n"
        'kompose_events_rule_queue{rule="bookmark-added-to-umami"} 3\n'
        "# HELP kompose_events_rule_consecutive_failures Failed attempts of a rule in a row (0 after a success).\n"
        "# TYPE kompose_events_rule_consecutive_failures gauge\n"
        'kompose_events_rule_consecutive_failures{rule="bookmark-added-to-umami"} 1\n'
        "# HELP kompose_events_rule_lag_seconds How long a rule's oldest queued job has waited.\n"
        "# TYPE kompose_events_rule_lag_seconds gauge\n"
        'kompose_events_rule_lag_seconds{rule="bookmark-added-to-umami"} 42.5\n'
        "# HELP kompose_events_source_lag_seconds How far a source is behind its app (0 when caught up).\n"
        "# TYPE kompose_events_source_lag_seconds gauge\n"
        'kompose_events_source_lag_seconds{source="linkwarden"} 12.5\n'
        'kompose_events_source_lag_seconds{source="vaultwarden"} 0\n'
    )
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


def test_families_without_samples_still_declare_themselves() -> None:
    text = EngineMetrics().render()
    assert text.count("# TYPE ") == 7
    assert "kompose_events_actions_total{" not in text


def test_label_values_are_escaped() -> None:
    registry = Registry()
    family = registry.counter("x_total", 'a "help" with \\ and\nnewline', ("path",))
    family.inc(path='C:\\dir "quoted"\nnext')
    assert render(registry) == (
        '# HELP x_total a "help" with \\\\ and\\nnewline\n'
        "# TYPE x_total counter\n"
        'x_total{path="C:\\\\dir \\"quoted\\"\\nnext"} 1\n'
    )
    assert escape_label('a"b') == 'a\\"b' and escape_help("a\\b") == "a\\\\b"


@pytest.mark.parametrize(
    "value, text",
    [(3, "3"), (3.0, "3"), (0.25, "0.25"), (math.inf, "+Inf"), (-math.inf, "-Inf"), (math.nan, "NaN"), (1e20, "1e+20")],
)
def test_values(value: float, text: str) -> None:
    assert format_value(value) == text


def test_registry_refuses_mistakes() -> None:
    registry = Registry()
    counter = registry.counter("events_total", "h", ("rule",))
    with pytest.raises(EventsError) as caught:
        counter.inc(-1, rule="r")
    assert str(caught.value) == "metric events_total: a counter cannot decrease (amount -1)"
    with pytest.raises(EventsError) as caught:
        counter.inc(rules="r")
    assert str(caught.value) == 'metric events_total: labels ["rules"] given, ["rule"] expected'
    with pytest.raises(EventsError) as caught:
        counter.set(1, rule="r")
    assert str(caught.value) == "metric events_total: only a gauge can be set"
    with pytest.raises(EventsError) as caught:
        registry.counter("events", "h")
    assert str(caught.value) == 'metric name: "events" is a counter and must end in _total'
    with pytest.raises(EventsError) as caught:
        registry.counter("events_total", "h")
    assert str(caught.value) == 'metric name: "events_total" is declared twice'
    with pytest.raises(EventsError) as caught:
        registry.gauge("lag-seconds", "h")
    assert str(caught.value) == 'metric name: "lag-seconds" is not a Prometheus metric name'
    with pytest.raises(EventsError) as caught:
        registry.gauge("lag", "h", ("__name",))
    assert str(caught.value) == 'metric lag: "__name" is not a label name'
    with pytest.raises(EventsError) as caught:
        EngineMetrics().action("r", "ok")
    assert str(caught.value) == 'result: "ok" is not one of done, failed, parked, duplicate'


def test_source_lag() -> None:
    now = datetime(2026, 12, 7, 10, 5, 0, tzinfo=timezone.utc)
    assert source_lag(now, now - timedelta(minutes=5), caught_up=False) == 300.0
    assert source_lag(now, now - timedelta(minutes=5), caught_up=True) == 0.0  # quiet, not late
    assert source_lag(now, None, caught_up=False) == math.inf
    # naive times (PostgreSQL's) are UTC; a position in the future is no lag
    assert source_lag(now, datetime(2026, 12, 7, 10, 6), caught_up=False) == 0.0
