"""The runtime's stores: a real redis-py client against nothing, the patience, parked entries."""

from __future__ import annotations

import threading

import pytest
from conftest import Clock
from service_doubles import ListRedis

from kompose_events.service.stores import (
    MemoryParking,
    Patience,
    RedisParking,
    Stopping,
    connect_redis,
    memory_stores,
    redis_stores,
)


def test_an_unreachable_redis_is_reported_and_waited_for() -> None:
    client, errors = connect_redis("127.0.0.1", 1, "events", "redis-secret")
    stop = threading.Event()
    stores = redis_stores(client, "events:", stop, errors)
    problem = stores.problem()
    assert problem is not None and problem.startswith("redis: ConnectionError: ")
    assert "redis-secret" not in problem
    stop.set()  # stopping: one more try, then give up instead of waiting
    with pytest.raises(Stopping):
        stores.dedup.seen("rule", "event")
    assert stores.patience.problem is not None and "redis-secret" not in stores.patience.problem


def test_memory_stores_have_no_redis_to_ask() -> None:
    assert memory_stores(threading.Event()).problem() is None


def test_patience_retries_until_the_call_works() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("refused")
        return "ok"

    patience = Patience(threading.Event(), (ConnectionError,), first_delay=0.001, max_delay=0.002)
    assert patience(flaky) == "ok" and len(calls) == 3 and patience.problem is None


@pytest.mark.parametrize("kind", ["redis", "memory"])
def test_parking_lists_keep_order_and_remove_exact_entries(kind: str) -> None:
    store = ListRedis(Clock())
    parking = RedisParking(store, "automation:") if kind == "redis" else MemoryParking()
    for n in (1, 2, 3):
        parking.push("to-umami", {"event": {"n": n}})
    raws = parking.peek("to-umami", 2)
    assert raws == [b'{"event":{"n":1}}', b'{"event":{"n":2}}']
    parking.remove("to-umami", raws[1])
    parking.set_aside("to-umami", raws[0])
    assert parking.peek("to-umami", 10) == [b'{"event":{"n":3}}'] and parking.count("to-umami") == 1
    if kind == "redis":
        assert store.lists["automation:unreadable:to-umami"] == [b'{"event":{"n":1}}']
        assert list(store.lists) == ["automation:parked:to-umami", "automation:unreadable:to-umami"]
