"""The engine's metrics made safe for threads, plus the runtime's own gauges.

``EngineMetrics`` is written by the engine thread (through the dispatcher), the sources' threads
and read by the HTTP server's threads; ``ServiceMetrics`` puts one lock around all of that and
adds ``kompose_events_mqtt_connected{client}`` (1/0), ``kompose_events_parked{rule}`` (jobs
stored for a replay) and ``kompose_events_source_up{source}`` (1 when a polled source's last
poll worked, 0 while a failure lasts: a database that refuses the login, a broker that does not
acknowledge; the log says why).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from ..metrics import EngineMetrics


class ServiceMetrics(EngineMetrics):
    """EngineMetrics behind a lock, with the runtime's gauges."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self.mqtt_connected = self.registry.gauge(
            "kompose_events_mqtt_connected",
            "Whether an MQTT client of the engine is connected (1) or not (0).",
            ("client",),
        )
        self.parked = self.registry.gauge(
            "kompose_events_parked", "Jobs parked for a replay once their rule works again.", ("rule",)
        )
        self.source_up = self.registry.gauge(
            "kompose_events_source_up", "Whether a polled source's last poll worked (1) or failed (0).", ("source",)
        )

    def event_in(self, source: str, topic: str) -> None:
        with self._lock:
            super().event_in(source, topic)

    def event_rejected(self, topic: str) -> None:
        with self._lock:
            super().event_rejected(topic)

    def action(self, rule: str, result: str) -> None:
        with self._lock:
            super().action(rule, result)

    def rule_state(self, rule: str, queued: int, consecutive_failures: int, lag_seconds: float = 0.0) -> None:
        with self._lock:
            super().rule_state(rule, queued, consecutive_failures, lag_seconds)

    def set_lag(self, source: str, seconds: float) -> None:
        with self._lock:
            super().set_lag(source, seconds)

    def set_parked(self, rule: str, count: int) -> None:
        """The number of jobs stored for ``rule``."""
        with self._lock:
            self.parked.set(count, rule=rule)

    def set_source_up(self, source: str, up: bool) -> None:
        """Whether ``source``'s last poll worked."""
        with self._lock:
            self.source_up.set(1 if up else 0, source=source)

    def render_with(self, clients: Iterable[tuple[str, bool]]) -> str:
        """The exposition text, with the connection state of each MQTT client as of now."""
        with self._lock:
            for name, connected in clients:
                self.mqtt_connected.set(1 if connected else 0, client=name)
            return super().render()

    def render(self) -> str:
        with self._lock:
            return super().render()
