"""The automation loop: MQTT messages in, rule jobs out to the workers, acknowledgements back.

One thread (the process's main thread) owns the ``Dispatcher``; everything else talks to it
through ``inbox``: paho's thread puts the messages it receives, the action threads put their
results. Each ``step``:

1. decodes the messages (``legacy.decode_any``) and submits each event with the rules it
   matches; a message that is not a valid event is counted as rejected and acknowledged;
2. reports the actions' results (``succeeded``/``failed``);
3. stores the jobs the dispatcher parked, *then* acknowledges the MQTT messages whose jobs are
   all done, duplicates or parked (``Dispatcher.settled``);
4. replays parked jobs (see below);
5. hands the due jobs to the workers.

Tokens: a message's token is its ``Delivery``; a delivery of an event that is already being
handled (the broker delivering it again after a reconnect, or a source re-publishing it) is
added to that token rather than submitted again, so it is acknowledged when the first one is
done, not at once.

Replays: a rule replays its stored parked jobs in *passes*, when it *wants* one: after a start
(jobs stored by an earlier run), after a new job was parked, after a pass that a failing target
cut short. When the rule works (no failure since its last success; also right after a start) the
pass submits every stored job, in batches of ``REPLAY_BATCH``, oldest first. When it does not
work and its last failure was one worth retrying (a timeout, a 5xx), the pass is a single job - a
probe - started once the rule's backoff has passed and its queue is empty; a probe that works is
followed by a full pass. A replayed job that is parked again goes to the end of the list; if it
failed for a reason worth retrying, the pass stops (the target is down again) and the rule wants
another one; if it failed for good (an HTTP 400 for its data, say) the pass goes on, and that job
is tried again only in the next pass: after a restart or a new parking. An entry is removed from
the store only when its replayed job is settled, so a crash during a replay loses nothing.
"""

from __future__ import annotations

import json
import logging
import queue
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .. import envelope, legacy, schemas
from ..delivery import Dispatcher, Job
from ..errors import show
from ..rules import rules_for
from ..times import format_time
from .actions import Outcome
from .mqtt import Message, Receipt

LOG = logging.getLogger(__name__)
MAX_WAIT_SECONDS = 0.5  # how long a step waits for work; also how soon a stop is noticed
REPLAY_BATCH = 100
GAUGE_SECONDS = 1.0


class Delivery:
    """The token of an event from MQTT: the deliveries to acknowledge once its jobs are settled."""

    def __init__(self, event_id: str, receipt: Receipt | None) -> None:
        self.event_id = event_id
        self.receipts = [receipt] if receipt is not None else []


class Replay:
    """The token of a replayed parked job: its stored entry is removed once it is settled."""

    def __init__(self, rule: str, raw: bytes) -> None:
        self.rule = rule
        self.raw = raw


@dataclass
class Pass:
    """A replay pass of one rule: entries still to hand out, tokens not settled yet."""

    remaining: int
    probe: bool = False
    outstanding: set[Replay] = field(default_factory=set)
    stalled: bool = False  # a replayed job failed for a reason worth retrying: stop, want another


class Engine:
    """Runs the rules for the events the automation client receives."""

    def __init__(
        self,
        rules: Sequence[dict[str, Any]],
        dispatcher: Dispatcher,
        runner: Any,
        parking: Any,
        client: Any,
        metrics: Any,
        workers: Any,
        patience: Any,
    ) -> None:
        self.rule_list = list(rules)
        self.rules = {rule["name"]: rule for rule in self.rule_list}
        self.dispatcher = dispatcher
        self.runner = runner
        self.parking = parking
        self.client = client
        self.metrics = metrics
        self.workers = workers
        self.patience = patience
        self.inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.open: dict[str, Delivery] = {}
        self.running = 0
        self.accepting = True
        self.passes: dict[str, Pass] = {}
        self.wanted: set[str] = set()  # rules that want a replay pass
        self.failed_for_good: dict[str, bool] = {}  # whether a rule's last failure was permanent
        self._permanent: set[int] = set()  # ids of jobs that failed for good, until they are parked
        self.parked_counts: dict[str, int] = {}
        self._gauges_at = 0.0

    # --- called from other threads -------------------------------------------------------

    def deliver(self, message: Message) -> None:
        """A message from the broker (paho's thread)."""
        self.inbox.put(("message", message))

    def wake(self) -> None:
        """End the current wait at once (the service is stopping)."""
        self.inbox.put(("wake",))

    def _run_job(self, job: Job) -> None:
        """Run one job (an action thread) and hand the outcome back to the engine thread."""
        try:
            outcome = self.runner.run(self.rules[job.rule], job.event)
        except Exception as error:  # noqa: BLE001 (a bug must not lose the job: it is retried)
            LOG.exception("rule %s: event %s: unexpected error", job.rule, job.event.id)
            outcome = Outcome("retry", f"internal error: {type(error).__name__}")
        self.inbox.put(("result", job, outcome))

    # --- the loop ----------------------------------------------------------------------------

    def start(self) -> None:
        """Count the parked jobs stored by earlier runs (they are replayed from the first steps)."""
        for name in self.rules:
            self.dispatcher.state(name)  # every rule shows in the metrics from the start
            count = self.patience(self.parking.count, name)
            self._set_parked(name, count)
            if count:
                LOG.info("rule %s: %d parked job(s) stored; replaying them", name, count)
                self.wanted.add(name)
        self._refresh_gauges()

    def run(self, stop: Any) -> None:
        """Step until ``stop`` is set."""
        self.start()
        while not stop.is_set():
            self.step(self.wait_seconds())

    def wait_seconds(self) -> float:
        """How long the next step may wait for a message or a result."""
        due = self.dispatcher.next_due()
        if due is None:
            return MAX_WAIT_SECONDS
        return min(MAX_WAIT_SECONDS, max(0.0, due - self.dispatcher.clock()))

    def step(self, timeout: float = 0.0) -> None:
        """Handle what arrived (waiting up to ``timeout`` s for something), then dispatch."""
        for item in self._take(timeout):
            if item[0] == "message":
                self._message(item[1])
            elif item[0] == "result":
                self._result(item[1], item[2])
        self._settle()
        self._replay()
        self._dispatch()
        self._refresh_gauges()

    def drain(self, grace: float) -> int:
        """After a stop: take no message, wait up to ``grace`` s for the running actions.

        Their results are reported and what is settled is acknowledged; every other message
        stays unacknowledged (the broker delivers it again). Returns the actions still running.
        """
        self.accepting = False
        deadline = time.monotonic() + grace
        timeout = 0.0
        while True:
            for item in self._take(timeout):
                if item[0] == "result":
                    self._result(item[1], item[2])
            self._settle()
            left = deadline - time.monotonic()
            if self.running == 0 or left <= 0:
                return self.running
            timeout = min(left, 0.1)

    # --- the parts of a step -----------------------------------------------------------------

    def _take(self, timeout: float) -> list[tuple[Any, ...]]:
        items = []
        try:
            items.append(self.inbox.get(timeout=timeout) if timeout > 0 else self.inbox.get_nowait())
        except queue.Empty:
            return items
        while True:
            try:
                items.append(self.inbox.get_nowait())
            except queue.Empty:
                return items

    def _message(self, message: Message) -> None:
        try:
            event = legacy.decode_any(message.payload, message.topic)
        except (ValueError, RecursionError) as error:  # EventsError, a bare payload's bad date, JSON nested too deep
            topic = message.topic if message.topic in schemas.SCHEMAS else "unknown"
            self.metrics.event_rejected(topic)
            LOG.warning("rejected a message on %s (%d bytes): %s", show(message.topic), len(message.payload), error)
            self._ack(message.receipt)
            return
        self.metrics.event_in(event.source, event.topic)
        handling = self.open.get(event.id)
        if handling is not None:
            if message.receipt is not None:
                handling.receipts.append(message.receipt)
            return
        names = [rule["name"] for rule in rules_for(self.rule_list, event)]
        delivery = Delivery(event.id, message.receipt)
        self.open[event.id] = delivery
        outcome = self.dispatcher.submit(names, event, token=delivery)
        if outcome:
            LOG.info("event %s (%s): %s", event.id, event.topic, ", ".join(f"{k} {v}" for k, v in outcome.items()))

    def _result(self, job: Job, outcome: Outcome) -> None:
        self.running -= 1
        self.failed_for_good[job.rule] = outcome.result == "fail"
        if outcome.result == "done":
            self.dispatcher.succeeded(job)
            LOG.info("rule %s: event %s done", job.rule, job.event.id)
            return
        if outcome.result == "fail":
            self._permanent.add(id(job))
        delay = self.dispatcher.failed(job, outcome.error or outcome.result, retry=outcome.result == "retry")
        if delay is not None:
            LOG.warning(
                "rule %s: event %s failed (attempt %d): %s; retrying in %.1f s",
                job.rule,
                job.event.id,
                job.attempts,
                outcome.error,
                delay,
            )

    def _settle(self) -> None:
        # parked jobs are stored before their messages are acknowledged
        for job in self.dispatcher.take_parked():
            self._park(job)
        for token in self.dispatcher.settled():
            if isinstance(token, Delivery):
                if self.open.get(token.event_id) is token:
                    del self.open[token.event_id]
                for receipt in token.receipts:
                    self._ack(receipt)
            elif isinstance(token, Replay):
                self.patience(self.parking.remove, token.rule, token.raw)
                self._set_parked(token.rule, self.parked_counts.get(token.rule, 1) - 1)
                current = self.passes.get(token.rule)
                if current is not None:
                    current.outstanding.discard(token)

    def _park(self, job: Job) -> None:
        permanent = id(job) in self._permanent
        self._permanent.discard(id(job))
        entry = {
            "rule": job.rule,
            "event": job.event.to_dict(),
            "error": job.last_error,
            "attempts": job.attempts,
            "permanent": permanent,
            "parked_at": format_time(datetime.now(timezone.utc)),
        }
        self.patience(self.parking.push, job.rule, entry)
        self._set_parked(job.rule, self.parked_counts.get(job.rule, 0) + 1)
        LOG.warning("rule %s: parked event %s (attempts: %d): %s", job.rule, job.event.id, job.attempts, job.last_error)
        if not isinstance(job.token, Replay):
            self.wanted.add(job.rule)  # a new parking: replay once the rule works
        elif not permanent and job.rule in self.passes:
            self.passes[job.rule].stalled = True  # the target fails again: stop this pass

    def _replay(self) -> None:
        if not self.accepting:
            return
        now = self.dispatcher.clock()
        for rule in self.rules:
            current = self.passes.get(rule)
            if current is not None:
                if current.outstanding:
                    continue
                if current.remaining and not current.stalled:
                    self._next_batch(rule, current)
                    continue
                del self.passes[rule]
                self._set_parked(rule, self.patience(self.parking.count, rule))
                if current.stalled or current.probe:
                    self.wanted.add(rule)  # another probe later, or the full pass after a probe that worked
            if rule not in self.wanted or not self.parked_counts.get(rule):
                continue
            state = self.dispatcher.state(rule)
            if state.consecutive_failures == 0:
                current = Pass(self.parked_counts[rule])
                LOG.info("rule %s: replaying %d parked job(s)", rule, current.remaining)
            elif not state.queue and state.retry_at <= now and not self.failed_for_good.get(rule):
                current = Pass(1, probe=True)
                LOG.info("rule %s: replaying one parked job as a probe", rule)
            else:
                continue
            self.wanted.discard(rule)
            self.passes[rule] = current
            self._next_batch(rule, current)

    def _next_batch(self, rule: str, current: Pass) -> None:
        raws = self.patience(self.parking.peek, rule, min(REPLAY_BATCH, current.remaining))
        current.remaining = max(0, current.remaining - len(raws)) if raws else 0
        for raw in raws:
            try:
                event = envelope.from_dict(json.loads(raw)["event"])
            except (ValueError, KeyError, TypeError) as error:
                LOG.error("rule %s: a parked entry cannot be replayed (%s); set aside as unreadable", rule, error)
                self.patience(self.parking.set_aside, rule, raw)
                self._set_parked(rule, self.parked_counts.get(rule, 1) - 1)
                continue
            token = Replay(rule, raw)
            current.outstanding.add(token)
            self.dispatcher.submit([rule], event, token=token)

    def _dispatch(self) -> None:
        if not self.accepting:
            return
        for job in self.dispatcher.due():
            self.running += 1
            self.workers.submit(lambda job=job: self._run_job(job))

    def _ack(self, receipt: Receipt | None) -> None:
        if receipt is not None:
            self.client.ack(receipt)

    def _set_parked(self, rule: str, count: int) -> None:
        self.parked_counts[rule] = max(0, count)
        self.metrics.set_parked(rule, self.parked_counts[rule])

    def _refresh_gauges(self) -> None:
        now = time.monotonic()
        if now - self._gauges_at < GAUGE_SECONDS:
            return
        self._gauges_at = now
        for name, state in list(self.dispatcher.rules.items()):
            self.metrics.rule_state(name, len(state.queue), state.consecutive_failures, self.dispatcher.lag(name))
