"""The sources the runtime runs: Vaultwarden's log (polled) and Alertmanager's webhook (pushed).

(The polled database sources are in ``dbsource.py``, the health probe in ``probe.py``.)

Each source publishes with its own MQTT client and login (QoS 1) and counts its events in
``metrics.event_in`` under its own name.

- ``LogSource``: every ``interval`` seconds ``VaultwardenSource.poll`` reads the new lines; their
  events are published and, only once the broker acknowledged every one, the new state is saved
  in the cursor store. A failed publish keeps the old state, so the same lines are read again
  next time and give the same events (same ids: consumers drop what they already had).
- ``AlertmanagerWebhook``: ``POST <path>`` with Alertmanager's webhook payload (version 4) becomes
  one ``kompose/system/health/check`` event per alert; the answer is 200 only once the broker
  acknowledged all of them, 503 otherwise (Alertmanager retries), 400 for a body that is not such
  a payload. An alert's event id derives from the source's name, the alert's fingerprint, its
  status and ``startsAt``: Alertmanager repeating a notification publishes the same ids.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .. import envelope
from ..envelope import Envelope
from ..errors import EventsError, show
from ..metrics import source_lag
from ..sources.logfile import LogFile
from ..sources.vaultwarden import VaultwardenSource
from ..times import parse_time
from .mqtt import PublishError
from .stores import Stopping

LOG = logging.getLogger(__name__)
PUBLISH_TIMEOUT = 5.0
HEALTH_TOPIC = "kompose/system/health/check"


def report_problem(log: logging.Logger, source: Any, problem: str | None) -> None:
    """Set a polled source's up gauge, and log its problem once while it lasts and its recovery
    (``source`` has ``name``, ``metrics`` and ``problem``, the problem logged last)."""
    source.metrics.set_source_up(source.name, problem is None)
    if problem == source.problem:
        return
    source.problem = problem
    if problem is None:
        log.info("source %s: working again", source.name)
    else:
        log.error("source %s: %s", source.name, problem)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class LogSource:
    """Polls a Vaultwarden log file and publishes its failed logins."""

    def __init__(
        self,
        name: str,
        source: VaultwardenSource,
        logfile: LogFile,
        client: Any,
        cursors: Any,
        metrics: Any,
        interval: float,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.name = name
        self.source = source
        self.logfile = logfile
        self.client = client
        self.cursors = cursors
        self.metrics = metrics
        self.interval = interval
        self.now = now
        self.state: dict[str, Any] | None = None
        self.loaded = False
        self.position: datetime | None = None
        self._note: str | None = None
        self.problem: str | None = None  # the failure that lasts, for the log and /healthz

    def poll_once(self) -> bool:
        """Read, publish, save; True when more is waiting to be read at once."""
        if not self.loaded:
            self.state = self.cursors.load(self.name)
            self.loaded = True
        result = self.source.poll(self.logfile, self.state)
        if result.note != self._note and result.note != "continued":
            level = logging.WARNING if result.note == "missing" else logging.INFO
            LOG.log(level, "source %s: %s: %s", self.name, self.logfile.path, result.note)
        self._note = result.note
        if result.unreadable:
            LOG.warning(
                "source %s: %d failed-login line(s) could not be read (time or address format?)",
                self.name,
                result.unreadable,
            )
        if result.events:
            self.client.publish_all([(event.topic, event.encode()) for event in result.events], PUBLISH_TIMEOUT)
            for event in result.events:
                self.metrics.event_in(self.name, event.topic)
            LOG.info("source %s: published %d event(s)", self.name, len(result.events))
        if result.state != self.state:
            self.cursors.save(self.name, result.state)  # only after the broker has the events
            self.state = result.state
        if result.last_time is not None:
            self.position = result.last_time
        self.metrics.set_lag(self.name, source_lag(self.now(), self.position, result.backlog_bytes == 0))
        return result.backlog_bytes > 0 and result.lines > 0

    def run(self, stop: Any) -> None:
        """Poll until ``stop`` is set; a failure is logged (once while it lasts) and retried."""
        while not stop.is_set():
            more = False
            try:
                more = self.poll_once()
                report_problem(LOG, self, None)
            except Stopping:
                return
            except PublishError as error:
                report_problem(LOG, self, f"{error}; the cursor stays, the lines will be read again")
            except Exception as error:  # noqa: BLE001 (a source keeps trying; the log says why)
                report_problem(LOG, self, f"{type(error).__name__}: {error}")
            if not more:
                stop.wait(self.interval)


class WebhookError(EventsError):
    """A request body that is not an Alertmanager webhook payload."""


class AlertmanagerWebhook:
    """Alertmanager's notifications as ``kompose/system/health/check`` events."""

    def __init__(self, name: str, path: str, client: Any, metrics: Any) -> None:
        self.name = name
        self.path = path
        self.client = client
        self.metrics = metrics

    def handle(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON answer for a POSTed body."""
        try:
            events = self.events(body)
        except ValueError as error:
            LOG.warning("source %s: refused a webhook request: %s", self.name, error)
            return 400, {"error": str(error)}
        if events:
            try:
                self.client.publish_all([(event.topic, event.encode()) for event in events], PUBLISH_TIMEOUT)
            except PublishError as error:
                LOG.warning("source %s: %d alert(s) not published (%s); answered 503", self.name, len(events), error)
                return 503, {"error": str(error)}
        for event in events:
            self.metrics.event_in(self.name, event.topic)
        self.metrics.set_lag(self.name, 0.0)  # pushed to us: never behind
        LOG.info("source %s: published %d alert(s)", self.name, len(events))
        return 200, {"published": len(events)}

    def events(self, body: bytes) -> list[Envelope]:
        """One event per alert; WebhookError (or an envelope error) for anything else."""
        try:
            payload = json.loads(body)
        except ValueError as error:
            raise WebhookError(f"body: not JSON ({error})") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
            raise WebhookError("body: not an Alertmanager webhook payload (a JSON object with a list of alerts)")
        version = payload.get("version", "4")
        if version != "4":
            raise WebhookError(f"version: {show(version)} is not the webhook version 4")
        return [self.event(alert, f"alerts[{index}]") for index, alert in enumerate(payload["alerts"])]

    def event(self, alert: Any, at: str) -> Envelope:
        """The health check event of one alert."""
        if not isinstance(alert, dict):
            raise WebhookError(f"{at}: {show(alert)} is not an alert object")
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            raise WebhookError(f"{at}.status: {show(status)} is not firing or resolved")
        labels = alert.get("labels")
        if not isinstance(labels, dict) or not isinstance(labels.get("alertname"), str) or not labels["alertname"]:
            raise WebhookError(f"{at}.labels: {show(labels)} has no alertname")
        annotations = alert.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise WebhookError(f"{at}.annotations: {show(annotations)} is not a mapping")
        fingerprint = alert.get("fingerprint")
        if not isinstance(fingerprint, str) or not fingerprint:
            raise WebhookError(f"{at}.fingerprint: {show(fingerprint)} is not an alert fingerprint")
        starts_at = _time(alert.get("startsAt"), f"{at}.startsAt")
        # the fact's time: when it started firing, or when it was resolved
        moment = _time(alert.get("endsAt"), f"{at}.endsAt") if status == "resolved" else starts_at
        data: dict[str, Any] = {"check": labels["alertname"], "status": "fail" if status == "firing" else "pass"}
        service = labels.get("service") or labels.get("job")
        if isinstance(service, str) and service:
            data["service"] = service
        if isinstance(annotations.get("summary"), str):
            data["summary"] = annotations["summary"]
        key = f"{fingerprint}:{status}:{alert['startsAt']}"
        return envelope.make(self.name, key, HEALTH_TOPIC, data, moment)


def _time(value: Any, at: str) -> datetime:
    try:
        return parse_time(value)
    except ValueError:
        raise WebhookError(f"{at}: {show(value)} is not an RFC 3339 time") from None
