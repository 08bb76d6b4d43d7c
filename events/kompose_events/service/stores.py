"""Where the runtime keeps state: Redis (durable) or memory, and what it does when Redis is away.

- dedup and cursors: ``delivery.RedisDedupStore`` / ``RedisCursorStore`` (or their memory twins);
- parked jobs: ``RedisParking``, one list per rule, ``<prefix>parked:<rule>``, each item the JSON
  ``{rule, event, error, attempts, parked_at}``; an entry that cannot be read back (an event
  whose topic or version lost its schema) is moved to ``<prefix>unreadable:<rule>``;
  ``MemoryParking`` without Redis;
- ``Patience``: a store call that fails because Redis cannot be reached is tried again (1 s,
  doubling to 30 s) until it works or the service stops. The engine pauses rather than guess:
  without its dedup store it cannot tell a new event from a re-delivery.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..delivery import MemoryCursorStore, MemoryDedupStore, RedisCursorStore, RedisDedupStore

LOG = logging.getLogger(__name__)
T = TypeVar("T")


class Stopping(Exception):
    """Raised by Patience when the service stops while Redis is unreachable."""


class Patience:
    """Calls a store function, retrying on ``errors`` (Redis unreachable) until ``stop`` is set."""

    def __init__(
        self,
        stop: threading.Event,
        errors: tuple[type[BaseException], ...] = (),
        first_delay: float = 1.0,
        max_delay: float = 30.0,
    ) -> None:
        self.stop = stop
        self.errors = errors
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.problem: str | None = None  # the current Redis problem, for /healthz and the logs
        self._lock = threading.Lock()

    def __call__(self, function: Callable[..., T], *args: Any) -> T:
        delay = self.first_delay
        while True:
            try:
                result = function(*args)
            except self.errors as error:
                self._report(f"{type(error).__name__}: {error}")
                if self.stop.is_set():
                    raise Stopping(str(error)) from None
                self.stop.wait(delay)
                delay = min(delay * 2, self.max_delay)
                continue
            if self.problem is not None:
                self._report(None)
            return result

    def _report(self, problem: str | None) -> None:
        with self._lock:
            if problem == self.problem:
                return
            self.problem = problem
        if problem is None:
            LOG.info("redis: reachable again")
        else:
            LOG.error("redis: unreachable (%s); waiting for it", problem)


class PatientDedupStore:
    """A dedup store whose calls wait for Redis (see ``Patience``)."""

    def __init__(self, store: Any, patience: Patience) -> None:
        self.store = store
        self.patience = patience

    def seen(self, rule: str, event_id: str) -> bool:
        return self.patience(self.store.seen, rule, event_id)

    def mark(self, rule: str, event_id: str, ttl: int) -> bool:
        return self.patience(self.store.mark, rule, event_id, ttl)


class PatientCursorStore:
    """A cursor store whose calls wait for Redis (see ``Patience``)."""

    def __init__(self, store: Any, patience: Patience) -> None:
        self.store = store
        self.patience = patience

    def load(self, source: str) -> dict[str, Any] | None:
        return self.patience(self.store.load, source)

    def save(self, source: str, state: dict[str, Any]) -> None:
        self.patience(self.store.save, source, state)


# ---------------------------------------------------------------------------------------------
# parked jobs


def encode_entry(entry: dict[str, Any]) -> bytes:
    """A parked job as stored (canonical JSON, so equal entries are equal bytes)."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class RedisParking:
    """Parked jobs in Redis: ``RPUSH``/``LRANGE``/``LREM`` on ``<prefix>parked:<rule>``."""

    def __init__(self, client: Any, prefix: str = "events:") -> None:
        self.client = client
        self.prefix = prefix

    def key(self, rule: str) -> str:
        return f"{self.prefix}parked:{rule}"

    def push(self, rule: str, entry: dict[str, Any]) -> None:
        self.client.rpush(self.key(rule), encode_entry(entry))

    def peek(self, rule: str, count: int) -> list[bytes]:
        """The first ``count`` entries, oldest first, as stored (pass one to ``remove``)."""
        return [bytes(raw) for raw in self.client.lrange(self.key(rule), 0, count - 1)]

    def remove(self, rule: str, raw: bytes) -> None:
        self.client.lrem(self.key(rule), 1, raw)

    def set_aside(self, rule: str, raw: bytes) -> None:
        """Move an entry that cannot be replayed out of the way (kept for an operator)."""
        self.client.rpush(f"{self.prefix}unreadable:{rule}", raw)
        self.client.lrem(self.key(rule), 1, raw)

    def count(self, rule: str) -> int:
        return int(self.client.llen(self.key(rule)))


class MemoryParking:
    """Parked jobs in memory (no Redis configured: lost on restart)."""

    def __init__(self) -> None:
        self.lists: dict[str, list[bytes]] = {}
        self.unreadable: dict[str, list[bytes]] = {}
        self._lock = threading.Lock()

    def push(self, rule: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self.lists.setdefault(rule, []).append(encode_entry(entry))

    def peek(self, rule: str, count: int) -> list[bytes]:
        with self._lock:
            return list(self.lists.get(rule, [])[:count])

    def remove(self, rule: str, raw: bytes) -> None:
        with self._lock:
            items = self.lists.get(rule, [])
            if raw in items:
                items.remove(raw)

    def set_aside(self, rule: str, raw: bytes) -> None:
        self.remove(rule, raw)
        with self._lock:
            self.unreadable.setdefault(rule, []).append(raw)

    def count(self, rule: str) -> int:
        with self._lock:
            return len(self.lists.get(rule, []))


# ---------------------------------------------------------------------------------------------
# building them


class Stores:
    """The stores the service uses, Redis-backed or in memory, and how to ask Redis for /healthz."""

    def __init__(self, dedup: Any, cursors: Any, parking: Any, patience: Patience, client: Any = None) -> None:
        self.dedup = dedup
        self.cursors = cursors
        self.parking = parking
        self.patience = patience
        self.client = client

    def problem(self) -> str | None:
        """Why Redis does not answer PING, or None (always None without Redis)."""
        if self.client is None:
            return None
        try:
            self.client.ping()
        except Exception as error:  # noqa: BLE001 (any failure of the ping is the answer)
            return f"redis: {type(error).__name__}: {error}"
        return None


def memory_stores(stop: threading.Event) -> Stores:
    """Stores in memory: nothing survives a restart."""
    patience = Patience(stop)
    return Stores(MemoryDedupStore(), MemoryCursorStore(), MemoryParking(), patience)


def redis_stores(client: Any, prefix: str, stop: threading.Event, errors: tuple[type[BaseException], ...]) -> Stores:
    """Stores in Redis under ``prefix``; calls wait for Redis while it cannot be reached."""
    patience = Patience(stop, errors)
    return Stores(
        PatientDedupStore(RedisDedupStore(client, prefix), patience),
        PatientCursorStore(RedisCursorStore(client, prefix), patience),
        RedisParking(client, prefix),
        patience,
        client,
    )


def connect_redis(
    host: str, port: int, username: str | None, password: str | None
) -> tuple[Any, tuple[type[BaseException], ...]]:
    """A redis-py client (connecting lazily) and the errors that mean "Redis cannot be reached"."""
    import redis  # only the run command needs it
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(
        host=host,
        port=port,
        username=username,
        password=password,
        socket_timeout=5,
        socket_connect_timeout=3,
        health_check_interval=30,
        # one immediate retry (a pooled connection Redis closed); redis-py 6+ would otherwise
        # retry with backoff for seconds, longer than the health check waits. Patience retries.
        retry=Retry(NoBackoff(), 1),
    )
    return client, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
