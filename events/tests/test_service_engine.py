"""The automation loop with a fake MQTT client, real HTTP targets, a manual clock."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Clock
from payloads import PAYLOADS
from service_doubles import FakeMqtt, InlineWorkers, ListRedis, Target

from kompose_events import envelope
from kompose_events.delivery import Dispatcher, MemoryDedupStore, RedisDedupStore, RetryPolicy
from kompose_events.service.actions import ActionRunner
from kompose_events.service.engine import Engine
from kompose_events.service.metrics import ServiceMetrics
from kompose_events.service.stores import MemoryParking, Patience, PatientDedupStore, RedisParking
from kompose_events.service.workers import Workers

TOPIC = "kompose/linkwarden/bookmark/added"


def _rule(name: str, path: str) -> dict[str, Any]:
    return {
        "name": name,
        "on": TOPIC,
        "do": {"kind": "http", "service": "app", "method": "POST", "path": path, "body": {"id": {"$event": "data.id"}}},
    }


RULES = [_rule("to-umami", "/umami"), _rule("to-archive", "/archive")]


def _event(n: int) -> envelope.Envelope:
    return envelope.make(
        "linkwarden", f"link:{n}:added", TOPIC, {**PAYLOADS[TOPIC], "id": n}, "2026-12-07T10:00:00.000Z"
    )


def _no_jitter(delay: float) -> float:
    return delay


class Setup:
    """An engine wired to a fake client, a real target, memory or fake-Redis stores."""

    def __init__(
        self,
        clock: Clock,
        target: Target,
        redis: ListRedis | None = None,
        workers: Any = None,
        max_attempts: int | None = 3,
        open_after: int | None = None,
    ) -> None:
        self.clock = clock
        self.target = target
        self.metrics = ServiceMetrics()
        self.stop = threading.Event()
        self.patience = Patience(self.stop, (ConnectionError,), first_delay=0.01, max_delay=0.01)
        if redis is None:
            dedup: Any = MemoryDedupStore(clock)
            self.parking: Any = MemoryParking()
        else:
            dedup = PatientDedupStore(RedisDedupStore(redis), self.patience)
            self.parking = RedisParking(redis)
        policy = RetryPolicy(
            base_seconds=1, cap_seconds=60, max_attempts=max_attempts, open_after=open_after, jitter=_no_jitter
        )
        self.dispatcher = Dispatcher(dedup, policy, clock, metrics=self.metrics)
        self.client = FakeMqtt()
        runner = ActionRunner({"app": target.url}, {}, {}, {}, None, self.client, timeout=2)
        self.engine = Engine(
            RULES,
            self.dispatcher,
            runner,
            self.parking,
            self.client,
            self.metrics,
            workers or InlineWorkers(),
            self.patience,
        )
        self.client.subscribe(["kompose/#"], self.engine.deliver)
        self.engine.start()

    def deliver(self, event: envelope.Envelope, mid: int | None = None) -> Any:
        return self.client.deliver(event.topic, event.encode(), mid)

    def steps(self, count: int = 3) -> None:
        for _index in range(count):
            self.engine.step(0)

    def requests(self, path: str) -> list[int]:
        """The bookmark ids the target received on ``path``."""
        return [json.loads(r["body"])["id"] for r in self.target.requests if r["path"] == path]


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.close()


def test_a_message_matching_two_rules_is_acked_only_when_both_are_done(clock: Clock, target: Target) -> None:
    setup = Setup(clock, target)
    target.answers["/archive"] = [503, 200]
    receipt = setup.deliver(_event(1))
    setup.steps()
    assert setup.requests("/umami") == [1] and setup.requests("/archive") == [1]
    assert setup.client.acked == []  # to-umami is done, to-archive waits for its retry
    clock.advance(1)
    setup.steps()
    assert setup.requests("/archive") == [1, 1]
    assert setup.client.acked == [receipt]
    assert setup.metrics.actions.value(rule="to-archive", result="done") == 1


def test_a_failing_target_backs_off_then_parks_while_the_other_rule_goes_on(
    clock: Clock, target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    setup = Setup(clock, target, max_attempts=3)
    target.answers["/archive"] = [503]
    first = setup.deliver(_event(1))
    setup.steps()
    second = setup.deliver(_event(2))  # arrives while to-archive backs off
    setup.steps()
    assert setup.requests("/umami") == [1, 2] and setup.requests("/archive") == [1]
    clock.advance(0.9)
    setup.steps()
    assert setup.requests("/archive") == [1]  # the first backoff is 1 s
    clock.advance(0.1)
    setup.steps()
    assert setup.requests("/archive") == [1, 1]
    clock.advance(1.9)
    setup.steps()
    assert setup.requests("/archive") == [1, 1]  # then 2 s
    clock.advance(0.1)
    setup.steps()
    # the third attempt failed: event 1 is parked for to-archive, and its message acknowledged
    assert setup.requests("/archive")[:3] == [1, 1, 1]
    assert first in setup.client.acked and second not in setup.client.acked
    [stored] = setup.parking.peek("to-archive", 10)
    entry = json.loads(stored)
    assert entry["event"]["id"] == _event(1).id and entry["attempts"] == 3
    assert entry["error"] == "HTTP 503 from app POST /archive"
    assert setup.metrics.parked.value(rule="to-archive") == 1
    assert f"rule to-archive: parked event {_event(1).id} (attempts: 3): HTTP 503 from app POST /archive" in caplog.text


def test_parked_jobs_replay_once_the_rule_works_again(clock: Clock, target: Target) -> None:
    setup = Setup(clock, target, max_attempts=1)
    target.answers["/archive"] = [500]
    setup.deliver(_event(1))
    setup.steps()
    setup.deliver(_event(2))  # due once the rule's backoff has passed
    clock.advance(1)
    setup.steps()
    assert setup.parking.count("to-archive") == 2
    assert len(setup.client.acked) == 2  # parked jobs do not hold their messages
    target.answers["/archive"] = [200]
    clock.advance(30)
    setup.steps(6)
    # after the backoff, one parked job is replayed as a probe; it works, so the rest follows
    assert setup.requests("/archive") == [1, 2, 1, 2]
    assert setup.parking.count("to-archive") == 0
    assert setup.metrics.parked.value(rule="to-archive") == 0
    assert setup.dispatcher.state("to-archive").consecutive_failures == 0


def test_a_replay_that_fails_again_keeps_the_job_and_waits(clock: Clock, target: Target) -> None:
    setup = Setup(clock, target, max_attempts=1)
    target.answers["/archive"] = [500]
    setup.deliver(_event(1))
    setup.steps()
    clock.advance(1)
    setup.steps()
    assert setup.requests("/archive") == [1, 1]  # the probe failed
    assert setup.parking.count("to-archive") == 1
    setup.steps()
    assert setup.requests("/archive") == [1, 1]  # and waits for the next, longer, backoff
    clock.advance(2)
    setup.steps()
    assert setup.requests("/archive") == [1, 1, 1]


def test_parked_jobs_stored_by_an_earlier_run_are_replayed_at_start(clock: Clock, target: Target) -> None:
    store = ListRedis(clock)
    RedisParking(store).push(
        "to-archive", {"rule": "to-archive", "event": _event(7).to_dict(), "error": "x", "attempts": 8}
    )
    setup = Setup(clock, target, redis=store)
    assert setup.metrics.parked.value(rule="to-archive") == 1
    setup.steps()
    assert setup.requests("/archive") == [7] and setup.requests("/umami") == []
    assert store.lists["events:parked:to-archive"] == []
    assert store.get(f"events:dedup:to-archive:{_event(7).id}") is not None


def test_a_job_that_fails_for_good_does_not_stop_a_replay_nor_come_back_after_each_success(
    clock: Clock, target: Target
) -> None:
    store = ListRedis(clock)
    for n in (1, 2, 3):
        RedisParking(store).push("to-archive", {"rule": "to-archive", "event": _event(n).to_dict()})
    target.refuse = {b'{"id": 1}'}  # the target will never take event 1
    setup = Setup(clock, target, redis=store, max_attempts=1)
    setup.steps(4)
    assert setup.requests("/archive") == [1, 2, 3]  # the pass went on after event 1's 400
    [entry] = [json.loads(raw) for raw in store.lists["events:parked:to-archive"]]
    assert entry["event"]["id"] == _event(1).id and entry["permanent"] is True
    assert entry["error"] == "HTTP 400 from app POST /archive"
    for n in (4, 5):  # the rule works: its new events are done, event 1 is not tried each time
        setup.deliver(_event(n))
        setup.steps()
    clock.advance(600)
    setup.steps()
    assert setup.requests("/archive") == [1, 2, 3, 4, 5]
    restarted = Setup(clock, target, redis=store, max_attempts=1)  # a restart tries it once more
    restarted.steps(3)
    assert setup.requests("/archive") == [1, 2, 3, 4, 5, 1]
    assert restarted.metrics.parked.value(rule="to-archive") == 1


def test_a_parked_entry_that_cannot_be_read_is_set_aside(
    clock: Clock, target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    store = ListRedis(clock)
    store.rpush("events:parked:to-archive", b'{"rule": "to-archive", "event": {"topic": "kompose/gone"}}')
    setup = Setup(clock, target, redis=store)
    setup.steps()
    assert store.lists["events:parked:to-archive"] == []
    assert len(store.lists["events:unreadable:to-archive"]) == 1
    assert setup.metrics.parked.value(rule="to-archive") == 0
    assert caplog.text.count("rule to-archive: a parked entry cannot be replayed (envelope.id: missing") == 1
    assert target.requests == []


def test_a_redelivery_does_not_repeat_an_action(clock: Clock, target: Target) -> None:
    store = ListRedis(clock)
    setup = Setup(clock, target, redis=store)
    first = setup.deliver(_event(1), mid=5)
    setup.steps()
    assert first in setup.client.acked
    # the acknowledgement was lost: the broker delivers the message again after a reconnect
    setup.client.reconnect()
    again = setup.deliver(_event(1), mid=5)
    setup.steps()
    assert setup.requests("/umami") == [1] and setup.requests("/archive") == [1]
    assert again in setup.client.acked
    assert setup.metrics.actions.value(rule="to-umami", result="duplicate") == 1


def test_a_redelivery_while_the_event_is_handled_is_acked_when_it_is_done(clock: Clock, target: Target) -> None:
    setup = Setup(clock, target)
    target.answers["/archive"] = [503, 200]
    old = setup.deliver(_event(1), mid=9)
    setup.steps()
    setup.client.reconnect()  # the connection drops while to-archive waits for its retry
    new = setup.deliver(_event(1), mid=9)
    setup.steps()
    assert setup.client.acked == []  # not acknowledged at once as a "duplicate"
    clock.advance(1)
    setup.steps()
    assert setup.requests("/archive") == [1, 1] and setup.requests("/umami") == [1]
    assert setup.client.acked == [new] and old not in setup.client.acked  # only on the current connection


def test_an_invalid_payload_is_rejected_and_acknowledged(
    clock: Clock, target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    setup = Setup(clock, target)
    bad = setup.client.deliver(TOPIC, b'{"password": "hunter2-in-the-payload"')
    foreign = setup.client.deliver("kompose/other/thing", b"{}")
    deep = setup.client.deliver("kompose/system/backup/completed", b"[" * 200000)
    setup.steps()
    assert setup.client.acked == [bad, foreign, deep]
    assert setup.metrics.rejected.value(topic="kompose/system/backup/completed") == 1
    assert setup.metrics.rejected.value(topic=TOPIC) == 1
    assert setup.metrics.rejected.value(topic="unknown") == 1
    assert f'rejected a message on "{TOPIC}" (37 bytes): envelope: not JSON' in caplog.text
    assert "hunter2" not in caplog.text
    assert target.requests == []


def test_stop_leaves_unsettled_messages_unacknowledged(clock: Clock, target: Target) -> None:
    setup = Setup(clock, target, workers=Workers(2))
    target.delays["/archive"] = 0.2
    slow = setup.deliver(_event(1))
    setup.engine.step(0)  # both jobs handed to the workers; to-archive hangs
    late = setup.deliver(_event(2))  # arrives, is never taken
    assert setup.engine.drain(0.05) == 1
    assert setup.client.acked == []
    assert slow not in setup.client.acked and late not in setup.client.acked
    assert setup.requests("/umami") == [1]


def test_stop_acknowledges_what_settles_within_the_grace(clock: Clock, target: Target) -> None:
    setup = Setup(clock, target, workers=Workers(2))
    target.delays["/archive"] = 0.05
    receipt = setup.deliver(_event(1))
    setup.engine.step(0)
    assert setup.engine.drain(2) == 0
    assert setup.client.acked == [receipt]


def test_a_slow_target_does_not_hold_the_other_rules(clock: Clock, target: Target) -> None:
    setup = Setup(clock, target, workers=Workers(2))
    target.delays["/archive"] = 0.15
    setup.deliver(_event(1))
    setup.engine.step(0)
    setup.deliver(_event(2))
    started = time.monotonic()
    while setup.requests("/umami") != [1, 2] and time.monotonic() - started < 0.1:
        setup.engine.step(0.01)
    assert setup.requests("/umami") == [1, 2]  # while to-archive still waits for event 1's answer
    assert setup.dispatcher.state("to-archive").in_flight and setup.requests("/archive") == [1]
    setup.engine.drain(1)


def test_redis_away_pauses_the_engine_until_it_is_back(
    clock: Clock, target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    store = ListRedis(clock)
    setup = Setup(clock, target, redis=store)
    store.down = True
    threading.Timer(0.05, lambda: setattr(store, "down", False)).start()
    receipt = setup.deliver(_event(1))
    setup.steps()
    assert setup.client.acked == [receipt]
    assert caplog.text.count("redis: unreachable (ConnectionError: Error 111 connecting to core-redis:6379") == 1
    assert "redis: reachable again" in caplog.text
