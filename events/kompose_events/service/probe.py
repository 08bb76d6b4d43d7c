"""The periodic health probe: HTTP GETs as ``kompose/system/health/check`` events.

Every ``interval`` seconds ``HealthProbe`` GETs each target's URL (no redirect followed, no proxy,
``timeout`` seconds): 2xx and 3xx pass (a login redirect is an answer), any other status fails,
and so does a connection error or a timeout, with the reason in ``summary``. An event is
published for a target

- the first time it is probed (no state for it),
- when its status changed since the last event,
- otherwise once per UTC hour, as a heartbeat (consumers that start late learn the state, and a
  missing heartbeat says the probe itself is down).

Ids, so that a restart in the same state publishes the same id again: a first result and a
heartbeat derive from ``check:status:hour:<UTC hour>``, a change from ``check:status:after:<when
the previous status was first seen>`` (stored before the change, so a crash between the publish
and the save repeats the id; a target that flaps gets a new id per change). The state
(``{"checks": {check: {status, since, beat}}}``) is kept in the cursor store and saved only once
the broker acknowledged the events, as the other sources do.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from .. import envelope
from ..envelope import Envelope
from ..times import format_time
from .config import ProbeTarget
from .mqtt import PublishError
from .sources import report_problem
from .stores import Stopping

LOG = logging.getLogger(__name__)
PUBLISH_TIMEOUT = 5.0
HEALTH_TOPIC = "kompose/system/health/check"
MAX_ANSWER_BYTES = 64 * 1024


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx: an answer, a pass


class HealthProbe:
    """Probes ``targets`` every ``interval`` seconds and publishes their health checks."""

    def __init__(
        self,
        name: str,
        targets: Sequence[ProbeTarget],
        client: Any,
        cursors: Any,
        metrics: Any,
        interval: float = 60.0,
        timeout: float = 5.0,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.name = name
        self.targets = list(targets)
        self.client = client
        self.cursors = cursors
        self.metrics = metrics
        self.interval = interval
        self.timeout = timeout
        self.now = now
        self.state: dict[str, Any] | None = None
        self.loaded = False
        self.problem: str | None = None
        self.opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))

    def probe(self, target: ProbeTarget) -> tuple[str, str]:
        """``(status, summary)`` of one GET: ``pass`` for 2xx/3xx, ``fail`` otherwise."""
        request = urllib.request.Request(target.url, headers={"User-Agent": "kompose-events-probe"})
        try:
            with self.opener.open(request, timeout=self.timeout) as answer:
                answer.read(MAX_ANSWER_BYTES)
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
            error.close()
        except (OSError, http.client.HTTPException, ValueError) as error:  # URLError, timeouts, resets
            reason = str(getattr(error, "reason", None) or error) or type(error).__name__
            return "fail", f"no answer: {reason}"
        return ("pass" if 200 <= status < 400 else "fail"), f"HTTP {status}"

    def poll_once(self) -> list[Envelope]:
        """Probe every target, publish what is due, then save the state; the events published."""
        if not self.loaded:
            self.state = self.cursors.load(self.name) or {}
            self.loaded = True
        stored = (self.state or {}).get("checks")
        known: dict[str, Any] = stored if isinstance(stored, dict) else {}
        checks: dict[str, Any] = {}
        events: list[Envelope] = []
        for target in self.targets:
            status, summary = self.probe(target)
            now = self.now()
            hour = now.strftime("%Y-%m-%dT%H")
            entry = known.get(target.check)
            entry = entry if isinstance(entry, dict) else None
            if entry is not None and entry.get("status") == status:
                checks[target.check] = dict(entry)
                if entry.get("beat") == hour:
                    continue  # nothing new: no event
                key = f"{target.check}:{status}:hour:{hour}"
                checks[target.check]["beat"] = hour
            else:
                if entry is None:
                    key = f"{target.check}:{status}:hour:{hour}"
                else:
                    key = f"{target.check}:{status}:after:{entry.get('since')}"
                checks[target.check] = {"status": status, "since": format_time(now), "beat": hour}
            data: dict[str, Any] = {"check": target.check, "status": status, "summary": summary}
            if target.service is not None:
                data["service"] = target.service
            events.append(envelope.make(self.name, key, HEALTH_TOPIC, data, now))
        if events:
            self.client.publish_all([(event.topic, event.encode()) for event in events], PUBLISH_TIMEOUT)
            for event in events:
                self.metrics.event_in(self.name, event.topic)
            changed = [e.data["check"] + "=" + e.data["status"] for e in events]
            LOG.info("source %s: published %s", self.name, ", ".join(changed))
        state = {"checks": checks}
        if state != self.state:
            self.cursors.save(self.name, state)  # only after the broker has the events
            self.state = state
        self.metrics.set_lag(self.name, 0.0)  # it measures now: never behind
        return events

    def run(self, stop: Any) -> None:
        """Probe until ``stop`` is set; a failure is logged (once while it lasts) and retried."""
        while not stop.is_set():
            try:
                self.poll_once()
                self._report(None)
            except Stopping:
                return
            except PublishError as error:
                self._report(f"{error}; the state stays, the results will be published again")
            except Exception as error:  # noqa: BLE001 (the probe keeps going; the log says why)
                self._report(f"{type(error).__name__}: {error}")
            stop.wait(self.interval)

    def _report(self, problem: str | None) -> None:
        report_problem(LOG, self, problem)
