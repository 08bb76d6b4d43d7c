"""At-least-once bookkeeping: dedup, retries with backoff, per-rule queues, cursor stores.

How the engine uses it (the engine itself - MQTT, HTTP - is ``service/engine.py``):

1. A message arrives (QoS 1, persistent session). The engine decodes it and ``submit``s it with
   the rules it matches, passing the MQTT message as ``token``: one job per rule. A job whose
   ``(rule, event id)`` the dedup store has seen, or that is queued already, is not queued again
   (a re-delivery, or a source's re-read).
2. ``due()`` hands out, per rule, the head of that rule's queue once its retry time has come.
   Rules have separate queues: a rule whose target is down waits on its own head job while every
   other rule goes on ("never blocks the other rules").
3. The engine runs the action and reports ``succeeded`` (the dedup key is written, with a TTL, only
   now: a crash before it repeats the action - at least once - and the event id sent along lets
   the target drop it) or ``failed`` (retried with exponential backoff, capped, with jitter; a
   permanent failure or the last attempt *parks* the job: out of the queue, kept in ``parked``
   for the engine to store and replay, counted in the metrics). After ``open_after`` failures in
   a row the rule's circuit opens: only its head job is retried (a probe, ever more slowly), the
   others are parked at once, so one dead target holds at most one MQTT acknowledgement.
4. ``settled()`` returns the tokens whose jobs are all done, duplicates or parked: only then does
   the engine acknowledge the MQTT message, so a crash before that gets it re-delivered.

Stores are small interfaces with an in-memory implementation (tests, a single process) and a
Redis one (redis-py; the keys live under a configurable prefix, ``events:`` by default, which the
catalog's Redis ACL for the engine's user must allow).

The queues themselves live in memory: what is queued but not acknowledged is re-delivered by the
broker after a restart, and parked jobs are handed to the engine to keep (e.g. a Redis list) and
to replay once the rule works again.
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .envelope import Envelope
from .errors import EventsError, show

DEFAULT_DEDUP_TTL = 7 * 24 * 3600  # longer than any re-delivery: broker queue, source re-read


# ---------------------------------------------------------------------------------------------
# dedup stores


class DedupStore(Protocol):
    """Remembers which (rule, event id) pairs were done, for ``ttl`` seconds."""

    def seen(self, rule: str, event_id: str) -> bool:
        """Whether the rule already handled the event."""

    def mark(self, rule: str, event_id: str, ttl: int) -> bool:
        """Record it; True if it was not recorded yet (``SET ... NX``)."""


class MemoryDedupStore:
    """Dedup in this process's memory (lost on restart: for tests and single runs)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.expiry: dict[tuple[str, str], float] = {}

    def seen(self, rule: str, event_id: str) -> bool:
        expires = self.expiry.get((rule, event_id))
        if expires is None:
            return False
        if expires <= self.clock():
            del self.expiry[(rule, event_id)]
            return False
        return True

    def mark(self, rule: str, event_id: str, ttl: int) -> bool:
        _check_ttl(ttl)
        if self.seen(rule, event_id):
            return False
        self.expiry[(rule, event_id)] = self.clock() + ttl
        return True


class RedisDedupStore:
    """Dedup in Redis: ``SET <prefix>dedup:<rule>:<event id> 1 NX EX <ttl>``; survives restarts."""

    def __init__(self, client: Any, prefix: str = "events:") -> None:
        self.client = client
        self.prefix = prefix

    def key(self, rule: str, event_id: str) -> str:
        """The Redis key of a (rule, event) pair."""
        return f"{self.prefix}dedup:{rule}:{event_id}"

    def seen(self, rule: str, event_id: str) -> bool:
        return self.client.get(self.key(rule, event_id)) is not None

    def mark(self, rule: str, event_id: str, ttl: int) -> bool:
        _check_ttl(ttl)
        # redis-py returns True when set, None when NX found the key
        return bool(self.client.set(self.key(rule, event_id), 1, nx=True, ex=ttl))


def _check_ttl(ttl: Any) -> None:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
        raise EventsError(f"ttl: {show(ttl)} is not a number of seconds >= 1")


# ---------------------------------------------------------------------------------------------
# cursor stores


class CursorStore(Protocol):
    """Keeps each source's state (cursor and the like) as JSON data."""

    def load(self, source: str) -> dict[str, Any] | None:
        """The stored state of ``source``, or None before its first save."""

    def save(self, source: str, state: dict[str, Any]) -> None:
        """Replace the stored state of ``source``."""


class MemoryCursorStore:
    """Source states in memory; values are copied through JSON, as Redis would store them."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def load(self, source: str) -> dict[str, Any] | None:
        raw = self.states.get(source)
        return None if raw is None else json.loads(raw)

    def save(self, source: str, state: dict[str, Any]) -> None:
        self.states[source] = json.dumps(state, sort_keys=True)


class RedisCursorStore:
    """Source states in Redis under ``<prefix>cursor:<source>`` (one JSON string each, no TTL)."""

    def __init__(self, client: Any, prefix: str = "events:") -> None:
        self.client = client
        self.prefix = prefix

    def key(self, source: str) -> str:
        """The Redis key of a source's state."""
        return f"{self.prefix}cursor:{source}"

    def load(self, source: str) -> dict[str, Any] | None:
        raw = self.client.get(self.key(source))
        if raw is None:
            return None
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        try:
            state = json.loads(raw)
        except json.JSONDecodeError:
            raise EventsError(f"{self.key(source)}: {show(raw)} is not the JSON state of a source") from None
        if not isinstance(state, dict):
            raise EventsError(f"{self.key(source)}: {show(state)} is not a JSON object")
        return state

    def save(self, source: str, state: dict[str, Any]) -> None:
        self.client.set(self.key(source), json.dumps(state, sort_keys=True))


# ---------------------------------------------------------------------------------------------
# retries


def equal_jitter(delay: float) -> float:
    """A random delay between half of ``delay`` and ``delay``: spreads retries, keeps a floor."""
    return random.uniform(delay / 2, delay)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base * factor ** (failures - 1)``, capped, then jittered.

    ``failures`` are the rule's failures in a row, so a target that stays down is probed ever
    more slowly, up to ``cap_seconds``. ``max_attempts``: attempts of one job before it is parked
    (None: for as long as it takes). ``open_after``: failures in a row after which the rule's
    circuit opens - the jobs queued behind the one being retried, and new ones while it is
    retried, are parked at once instead of holding their MQTT acknowledgements (the broker's
    in-flight window is shared by every rule); None: never.
    """

    base_seconds: float = 1.0
    factor: float = 2.0
    cap_seconds: float = 300.0
    max_attempts: int | None = 8
    open_after: int | None = 3
    jitter: Callable[[float], float] = equal_jitter

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure in a row (1 for the first)."""
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
            raise EventsError(f"failures: {show(failures)} is not a count >= 1")
        # the exponent is bounded: a float power overflows long before a rule stops failing
        raw = min(self.cap_seconds, self.base_seconds * self.factor ** min(failures - 1, 64))
        return min(self.cap_seconds, max(0.0, self.jitter(raw)))

    def gives_up(self, attempts: int) -> bool:
        """Whether a job that failed ``attempts`` times is parked rather than retried."""
        return self.max_attempts is not None and attempts >= self.max_attempts

    def is_open(self, failures: int) -> bool:
        """Whether a rule with ``failures`` in a row has its circuit open."""
        return self.open_after is not None and failures >= self.open_after


def classify_status(status: int, ok_status: list[int] | tuple[int, ...] = ()) -> str:
    """``done``, ``retry`` or ``fail`` for an HTTP answer.

    2xx and the rule's ``ok_status`` (e.g. Linkwarden's 409 for a link it has) are done; 408,
    425, 429 and 5xx are worth retrying; any other 4xx is a request the target will refuse again
    (bad payload, bad credential): retrying cannot help, so it fails at once (and is parked).
    """
    if 200 <= status < 300 or status in ok_status:
        return "done"
    if status in (408, 425, 429) or status >= 500:
        return "retry"
    return "fail"


# ---------------------------------------------------------------------------------------------
# per-rule queues


@dataclass
class Job:
    """One action to run: a rule for an event, with its attempts so far."""

    rule: str
    event: Envelope
    token: Hashable | None = None
    attempts: int = 0
    not_before: float = 0.0
    last_error: str | None = None
    queued_at: float = 0.0


@dataclass
class RuleState:
    """What the engine (and the metrics) know of a rule: its queue and its failures in a row."""

    name: str
    queue: deque[Job] = field(default_factory=deque)
    queued_ids: set[str] = field(default_factory=set)
    in_flight: bool = False
    consecutive_failures: int = 0
    last_error: str | None = None
    retry_at: float = 0.0
    done: int = 0
    failed: int = 0
    parked: int = 0
    duplicates: int = 0


class Dispatcher:
    """Per-rule queues with dedup, backoff, a circuit per rule and parking; no MQTT, no HTTP."""

    def __init__(
        self,
        dedup: DedupStore,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        dedup_ttl: int = DEFAULT_DEDUP_TTL,
        metrics: Any = None,
    ) -> None:
        _check_ttl(dedup_ttl)
        self.dedup = dedup
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.dedup_ttl = dedup_ttl
        self.metrics = metrics
        self.rules: dict[str, RuleState] = {}
        self.parked: list[Job] = []
        self._pending: dict[Hashable, int] = {}
        self._settled: list[Hashable] = []

    def state(self, rule: str) -> RuleState:
        """The state of ``rule`` (created empty on first use)."""
        if rule not in self.rules:
            self.rules[rule] = RuleState(rule)
        return self.rules[rule]

    def is_open(self, rule: str) -> bool:
        """Whether the rule's circuit is open (it keeps failing; new jobs are parked)."""
        return self.policy.is_open(self.state(rule).consecutive_failures)

    def submit(self, rules: list[str], event: Envelope, token: Hashable | None = None) -> dict[str, str]:
        """Queue each of ``rules`` for ``event``: per rule ``queued``, ``duplicate`` or ``parked``.

        ``duplicate``: done already (dedup store) or queued already. ``parked``: the rule's
        circuit is open and a job of it is being retried; the new job waits for a replay. With
        the circuit open and nothing queued, the job is queued as the probe, due when the rule's
        backoff ends. All rules an event matched are submitted together, so its ``token`` is
        settled when the last of its jobs is (at once when none was queued).
        """
        outcome: dict[str, str] = {}
        now = self.clock()
        for rule in rules:
            state = self.state(rule)
            if event.id in state.queued_ids or self.dedup.seen(rule, event.id):
                state.duplicates += 1
                self._count("duplicate", rule)
                outcome[rule] = "duplicate"
                continue
            job = Job(rule, event, token, not_before=max(now, state.retry_at), queued_at=now)
            if self.is_open(rule) and state.queue:
                job.last_error = f"rule failing: {state.last_error}"
                self._park(state, job)
                outcome[rule] = "parked"
                continue
            state.queue.append(job)
            state.queued_ids.add(event.id)
            outcome[rule] = "queued"
            if token is not None:
                self._pending[token] = self._pending.get(token, 0) + 1
            self._gauges(state)
        if token is not None and token not in self._pending:
            self._settled.append(token)
        return outcome

    def due(self) -> list[Job]:
        """The head job of every rule that is idle and whose retry time has come."""
        now = self.clock()
        ready = []
        for state in self.rules.values():
            if state.queue and not state.in_flight and state.queue[0].not_before <= now:
                state.in_flight = True
                ready.append(state.queue[0])
        return ready

    def next_due(self) -> float | None:
        """When the next job becomes due (the clock's time), for the engine's sleep; None if idle."""
        times = [s.queue[0].not_before for s in self.rules.values() if s.queue and not s.in_flight]
        return min(times) if times else None

    def succeeded(self, job: Job) -> None:
        """The action was done: remember it (dedup), close the rule's circuit, move its queue on."""
        state = self._finish(job)
        self.dedup.mark(job.rule, job.event.id, self.dedup_ttl)
        state.consecutive_failures = 0
        state.last_error = None
        state.retry_at = 0.0
        state.done += 1
        self._count("done", job.rule)
        self._release(job)
        self._gauges(state)

    def failed(self, job: Job, error: str, retry: bool = True) -> float | None:
        """The action failed: the delay before its retry, or None when the job was parked.

        ``retry=False`` for a failure that cannot succeed later (``classify_status`` "fail").
        """
        state = self._head(job)
        state.in_flight = False
        job.attempts += 1
        job.last_error = error
        state.consecutive_failures += 1
        state.last_error = error
        state.failed += 1
        self._count("failed", job.rule)
        delay = self.policy.delay(state.consecutive_failures)
        state.retry_at = self.clock() + delay
        if self.is_open(job.rule):
            # the circuit is open: everything behind the head waits for a replay, not in line
            for waiting in list(state.queue)[1:]:
                state.queue.remove(waiting)
                state.queued_ids.discard(waiting.event.id)
                waiting.last_error = f"rule failing: {error}"
                self._park(state, waiting)
                self._release(waiting)
        if not retry or self.policy.gives_up(job.attempts):
            self._finish(job)
            self._park(state, job)
            self._release(job)
            self._gauges(state)
            return None
        job.not_before = state.retry_at
        self._gauges(state)
        return delay

    def settled(self) -> list[Hashable]:
        """Tokens whose jobs are all done, duplicates or parked (acknowledge these), once each."""
        tokens, self._settled = self._settled, []
        return tokens

    def take_parked(self) -> list[Job]:
        """The parked jobs, handed over: store them durably (they are acknowledged) and replay
        them with ``submit`` once the rule works again (``is_open`` false)."""
        jobs, self.parked = self.parked, []
        return jobs

    def _park(self, state: RuleState, job: Job) -> None:
        self.parked.append(job)
        state.parked += 1
        self._count("parked", state.name)

    def _head(self, job: Job) -> RuleState:
        state = self.state(job.rule)
        if not state.queue or state.queue[0] is not job:
            raise EventsError(f"rule {job.rule}: the job for event {job.event.id} is not the head of its queue")
        return state

    def _finish(self, job: Job) -> RuleState:
        state = self._head(job)
        state.in_flight = False
        state.queue.popleft()
        state.queued_ids.discard(job.event.id)
        return state

    def _release(self, job: Job) -> None:
        if job.token is None or job.token not in self._pending:
            return
        self._pending[job.token] -= 1
        if self._pending[job.token] == 0:
            del self._pending[job.token]
            self._settled.append(job.token)

    def _count(self, what: str, rule: str) -> None:
        if self.metrics is not None:
            self.metrics.action(rule, what)

    def lag(self, rule: str) -> float:
        """Seconds the rule's oldest queued job has waited (0 with an empty queue)."""
        state = self.state(rule)
        return max(0.0, self.clock() - state.queue[0].queued_at) if state.queue else 0.0

    def _gauges(self, state: RuleState) -> None:
        if self.metrics is not None:
            self.metrics.rule_state(state.name, len(state.queue), state.consecutive_failures, self.lag(state.name))
