"""At-least-once bookkeeping: dedup stores, cursor stores, backoff, per-rule queues, acknowledgements."""

from __future__ import annotations

import json
import random
from collections import deque

import pytest
from conftest import Clock, FakeRedis
from payloads import PAYLOADS

from kompose_events import envelope
from kompose_events.delivery import (
    Dispatcher,
    MemoryCursorStore,
    MemoryDedupStore,
    RedisCursorStore,
    RedisDedupStore,
    RetryPolicy,
    classify_status,
    equal_jitter,
)
from kompose_events.errors import EventsError
from kompose_events.metrics import EngineMetrics

TOPIC = "kompose/linkwarden/bookmark/added"


def _event(n: int) -> envelope.Envelope:
    return envelope.make("linkwarden", f"link:{n}:added", TOPIC, {**PAYLOADS[TOPIC], "id": n}, "2026-12-07T10:00:00.000Z")


def _no_jitter(delay: float) -> float:
    return delay


# ---------------------------------------------------------------------------------------------
# dedup stores


def test_memory_dedup_expires_after_its_ttl(clock: Clock) -> None:
    store = MemoryDedupStore(clock)
    assert not store.seen("r", "e1")
    assert store.mark("r", "e1", 60) is True
    assert store.mark("r", "e1", 60) is False  # NX: already there
    assert store.seen("r", "e1") and not store.seen("other-rule", "e1")
    clock.advance(60)
    assert not store.seen("r", "e1")


def test_redis_dedup_uses_set_nx_ex_under_the_prefix(redis: FakeRedis, clock: Clock) -> None:
    store = RedisDedupStore(redis, prefix="automation:events:")
    assert store.key("bookmark-added-to-umami", "ad1d") == "automation:events:dedup:bookmark-added-to-umami:ad1d"
    assert store.mark("bookmark-added-to-umami", "ad1d", 604800) is True
    assert redis.calls[-1] == ("set", "automation:events:dedup:bookmark-added-to-umami:ad1d", 1, True, 604800)
    assert store.mark("bookmark-added-to-umami", "ad1d", 604800) is False
    assert store.seen("bookmark-added-to-umami", "ad1d")
    clock.advance(604800)
    assert not store.seen("bookmark-added-to-umami", "ad1d")


def test_redis_dedup_default_prefix(redis: FakeRedis) -> None:
    assert RedisDedupStore(redis).key("r", "e") == "events:dedup:r:e"


@pytest.mark.parametrize("ttl", [0, -5, 1.5, True])
def test_ttl_must_be_whole_seconds(ttl: object, redis: FakeRedis) -> None:
    with pytest.raises(EventsError) as caught:
        RedisDedupStore(redis).mark("r", "e", ttl)  # type: ignore[arg-type]
    assert str(caught.value) == f"ttl: {json.dumps(ttl)} is not a number of seconds >= 1"


# ---------------------------------------------------------------------------------------------
# cursor stores


def test_memory_cursor_store_keeps_copies() -> None:
    store = MemoryCursorStore()
    assert store.load("vaultwarden") is None
    state = {"cursor": {"inode": 7, "offset": 120}}
    store.save("vaultwarden", state)
    state["cursor"]["offset"] = 999  # changing the caller's dict changes nothing stored
    assert store.load("vaultwarden") == {"cursor": {"inode": 7, "offset": 120}}


def test_redis_cursor_store_round_trip(redis: FakeRedis) -> None:
    store = RedisCursorStore(redis)
    assert store.load("linkwarden") is None
    store.save("linkwarden", {"cursor": {"updated_at": "2026-12-07T10:00:00.123000Z", "id": 101}})
    assert redis.data["events:cursor:linkwarden"][1] is None  # no TTL: a cursor must not expire
    assert store.load("linkwarden") == {"cursor": {"updated_at": "2026-12-07T10:00:00.123000Z", "id": 101}}


def test_redis_cursor_store_refuses_foreign_data(redis: FakeRedis) -> None:
    redis.set("events:cursor:linkwarden", "not json")
    with pytest.raises(EventsError) as caught:
        RedisCursorStore(redis).load("linkwarden")
    assert str(caught.value) == 'events:cursor:linkwarden: "not json" is not the JSON state of a source'


# ---------------------------------------------------------------------------------------------
# retry policy


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=1, factor=2, cap_seconds=30, jitter=_no_jitter)
    assert [policy.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    # a rule that has failed for days: no float overflow, still the cap
    assert policy.delay(100000) == 30
    with pytest.raises(EventsError) as caught:
        policy.delay(0)
    assert str(caught.value) == "failures: 0 is not a count >= 1"


def test_jitter_is_injected_and_capped() -> None:
    policy = RetryPolicy(base_seconds=10, cap_seconds=60, jitter=lambda delay: delay * 10)
    assert policy.delay(1) == 60


def test_equal_jitter_stays_between_half_and_full() -> None:
    random.seed(20)
    samples = [equal_jitter(8.0) for _sample in range(200)]
    assert all(4.0 <= sample <= 8.0 for sample in samples)
    assert max(samples) - min(samples) > 2  # it does spread


def test_gives_up_after_max_attempts() -> None:
    assert not RetryPolicy(max_attempts=3).gives_up(2)
    assert RetryPolicy(max_attempts=3).gives_up(3)
    assert not RetryPolicy(max_attempts=None).gives_up(1000)


@pytest.mark.parametrize(
    "status, ok_status, expected",
    [
        (200, (), "done"),
        (204, (), "done"),
        (409, (409,), "done"),  # Linkwarden with preventDuplicateLinks: the link is there already
        (409, (), "fail"),
        (400, (), "fail"),
        (401, (), "fail"),
        (404, (), "fail"),
        (408, (), "retry"),
        (429, (), "retry"),
        (500, (), "retry"),
        (503, (), "retry"),
    ],
)
def test_classify_status(status: int, ok_status: tuple[int, ...], expected: str) -> None:
    assert classify_status(status, ok_status) == expected


# ---------------------------------------------------------------------------------------------
# dispatcher


def _dispatcher(clock: Clock, **kwargs) -> Dispatcher:
    policy = kwargs.pop("policy", RetryPolicy(base_seconds=1, factor=2, cap_seconds=60, max_attempts=4, jitter=_no_jitter))
    return Dispatcher(MemoryDedupStore(clock), policy, clock, dedup_ttl=3600, **kwargs)


def test_success_marks_dedup_and_settles_the_token(clock: Clock) -> None:
    dispatcher = _dispatcher(clock)
    assert dispatcher.submit(["umami"], _event(1), token="mid-1") == {"umami": "queued"}
    assert dispatcher.settled() == []
    [job] = dispatcher.due()
    assert dispatcher.due() == []  # one job per rule in flight
    dispatcher.succeeded(job)
    assert dispatcher.settled() == ["mid-1"]
    assert dispatcher.dedup.seen("umami", _event(1).id)
    # the broker re-delivers the message (the ack was lost): dropped, acknowledged at once
    assert dispatcher.submit(["umami"], _event(1), token="mid-1b") == {"umami": "duplicate"}
    assert dispatcher.settled() == ["mid-1b"] and dispatcher.due() == []


def test_a_duplicate_of_a_queued_event_is_not_queued_twice(clock: Clock) -> None:
    dispatcher = _dispatcher(clock)
    dispatcher.submit(["umami"], _event(1))
    assert dispatcher.submit(["umami"], _event(1)) == {"umami": "duplicate"}
    assert len(dispatcher.state("umami").queue) == 1


def test_an_event_for_no_rule_is_settled_at_once(clock: Clock) -> None:
    dispatcher = _dispatcher(clock)
    assert dispatcher.submit([], _event(1), token="mid-1") == {}
    assert dispatcher.settled() == ["mid-1"]


def test_the_token_waits_for_every_rule(clock: Clock) -> None:
    dispatcher = _dispatcher(clock)
    dispatcher.submit(["gotify", "mail"], _event(1), token="mid-1")
    jobs = {job.rule: job for job in dispatcher.due()}
    dispatcher.succeeded(jobs["gotify"])
    assert dispatcher.settled() == []
    dispatcher.succeeded(jobs["mail"])
    assert dispatcher.settled() == ["mid-1"]


def test_a_failing_rule_backs_off_without_blocking_the_others(clock: Clock) -> None:
    dispatcher = _dispatcher(clock)
    for n in (1, 2):
        dispatcher.submit(["umami", "gotify"], _event(n), token=f"mid-{n}")
    jobs = {job.rule: job for job in dispatcher.due()}
    assert dispatcher.failed(jobs["umami"], "HTTP 503") == 1  # first retry after 1 s
    dispatcher.succeeded(jobs["gotify"])
    # gotify goes on with the next event while umami waits
    assert [(job.rule, job.event.data["id"]) for job in dispatcher.due()] == [("gotify", 2)]
    assert dispatcher.next_due() == clock.now + 1
    clock.advance(1)
    [retry] = [job for job in dispatcher.due() if job.rule == "umami"]
    assert (retry.event.data["id"], retry.attempts, retry.last_error) == (1, 1, "HTTP 503")
    assert dispatcher.failed(retry, "HTTP 503") == 2  # then 2 s, 4 s, ...
    state = dispatcher.state("umami")
    assert (state.consecutive_failures, state.last_error, len(state.queue)) == (2, "HTTP 503", 2)


def test_order_within_a_rule_is_kept(clock: Clock) -> None:
    dispatcher = _dispatcher(clock)
    for n in (1, 2, 3):
        dispatcher.submit(["linkwarden"], _event(n))
    done = []
    for _round in range(3):
        [job] = dispatcher.due()
        if job.event.data["id"] == 2 and job.attempts == 0:
            dispatcher.failed(job, "timeout")
            clock.advance(1)
            [job] = dispatcher.due()
        dispatcher.succeeded(job)
        done.append(job.event.data["id"])
    assert done == [1, 2, 3]


def test_parked_after_the_last_attempt_and_the_queue_moves_on(clock: Clock) -> None:
    policy = RetryPolicy(base_seconds=1, factor=2, cap_seconds=60, max_attempts=4, open_after=None, jitter=_no_jitter)
    dispatcher = _dispatcher(clock, policy=policy)
    dispatcher.submit(["umami"], _event(1), token="mid-1")
    dispatcher.submit(["umami"], _event(2), token="mid-2")
    delays = []
    for _attempt in range(4):
        [job] = dispatcher.due()
        delays.append(dispatcher.failed(job, "connection refused"))
        clock.advance(60)
    assert delays == [1, 2, 4, None]  # the 4th failure parks it
    [parked] = dispatcher.take_parked()
    assert (parked.event.data["id"], parked.attempts) == (1, 4)
    assert dispatcher.settled() == ["mid-1"]  # parked (to be stored for replay): acknowledged
    assert not dispatcher.dedup.seen("umami", _event(1).id)  # not done: a replay will run it
    [job] = dispatcher.due()
    assert job.event.data["id"] == 2


def test_a_permanent_failure_is_parked_at_once(clock: Clock) -> None:
    dispatcher = _dispatcher(clock)
    dispatcher.submit(["linkwarden"], _event(1), token="mid-1")
    [job] = dispatcher.due()
    assert dispatcher.failed(job, "HTTP 400", retry=classify_status(400) == "retry") is None
    assert [j.last_error for j in dispatcher.take_parked()] == ["HTTP 400"]
    assert dispatcher.settled() == ["mid-1"]


def test_only_the_head_job_can_be_reported(clock: Clock) -> None:
    dispatcher = _dispatcher(clock)
    dispatcher.submit(["umami"], _event(1))
    dispatcher.submit(["umami"], _event(2))
    second = dispatcher.state("umami").queue[1]
    with pytest.raises(EventsError) as caught:
        dispatcher.succeeded(second)
    assert str(caught.value) == f"rule umami: the job for event {_event(2).id} is not the head of its queue"


def test_dispatcher_feeds_the_metrics(clock: Clock) -> None:
    metrics = EngineMetrics()
    dispatcher = _dispatcher(clock, metrics=metrics)
    dispatcher.submit(["umami"], _event(1))
    dispatcher.submit(["umami"], _event(1))
    [job] = dispatcher.due()
    clock.advance(2)
    dispatcher.failed(job, "HTTP 502")
    assert metrics.failures.value(rule="umami") == 1 and metrics.queue.value(rule="umami") == 1
    assert metrics.rule_lag.value(rule="umami") == 2 == dispatcher.lag("umami")
    clock.advance(1)
    [job] = dispatcher.due()
    dispatcher.succeeded(job)
    assert metrics.actions.value(rule="umami", result="done") == 1
    assert metrics.actions.value(rule="umami", result="failed") == 1
    assert metrics.actions.value(rule="umami", result="duplicate") == 1
    assert metrics.failures.value(rule="umami") == 0 and metrics.queue.value(rule="umami") == 0
    assert metrics.rule_lag.value(rule="umami") == 0


def test_a_burst_with_an_engine_crash_loses_nothing_and_repeats_nothing(clock: Clock, redis: FakeRedis) -> None:
    """100 events; the engine dies after acting on 40 (30 of them acknowledged); the broker
    re-delivers every unacknowledged message to the restarted engine (persistent session, QoS 1)."""
    events = [_event(n + 1) for n in range(100)]
    downstream: list[str] = []  # what the target received
    acked: set[int] = set()

    def run(dispatcher: Dispatcher, deliveries: list[int], stop_after: int | None = None, ack_upto: int = 10**9) -> None:
        for n in deliveries:
            dispatcher.submit(["umami"], events[n], token=n)
        handled = 0
        while True:
            jobs = dispatcher.due()
            if not jobs or (stop_after is not None and handled == stop_after):
                return
            for job in jobs:
                downstream.append(job.event.id)
                dispatcher.succeeded(job)
                handled += 1
            acked.update(token for token in dispatcher.settled() if token < ack_upto)

    first = Dispatcher(RedisDedupStore(redis), RetryPolicy(jitter=_no_jitter), clock)
    run(first, list(range(100)), stop_after=40, ack_upto=30)  # 10 acks lost in the crash
    assert len(downstream) == 40 and acked == set(range(30))

    restarted = Dispatcher(RedisDedupStore(redis), RetryPolicy(jitter=_no_jitter), clock)
    run(restarted, [n for n in range(100) if n not in acked])  # the broker re-delivers 70
    assert sorted(downstream) == sorted(event.id for event in events)  # each exactly once
    assert acked == set(range(100))
    assert restarted.state("umami").duplicates == 10


def test_a_crash_between_action_and_mark_repeats_the_action_with_the_same_id(clock: Clock, redis: FakeRedis) -> None:
    """The one window at-least-once leaves open: the target got the call, the dedup key was not
    written yet. The action runs again after the restart - with the same event id, which the
    target gets (X-Kompose-Event-Id, Linkwarden's duplicate check) to drop it."""
    event = _event(1)
    first = Dispatcher(RedisDedupStore(redis), RetryPolicy(jitter=_no_jitter), clock)
    first.submit(["linkwarden"], event, token="mid-1")
    [job] = first.due()
    called = [job.event.id]  # the HTTP call went out ... and the engine died before succeeded()
    restarted = Dispatcher(RedisDedupStore(redis), RetryPolicy(jitter=_no_jitter), clock)
    assert restarted.submit(["linkwarden"], event, token="mid-1") == {"linkwarden": "queued"}
    [again] = restarted.due()
    called.append(again.event.id)
    restarted.succeeded(again)
    assert called == [event.id, event.id]
    assert restarted.submit(["linkwarden"], event) == {"linkwarden": "duplicate"}


def test_a_dead_target_opens_the_rule_circuit_and_holds_one_acknowledgement(clock: Clock) -> None:
    policy = RetryPolicy(base_seconds=1, factor=2, cap_seconds=60, max_attempts=None, open_after=2, jitter=_no_jitter)
    dispatcher = _dispatcher(clock, policy=policy)
    for n in (1, 2, 3):
        dispatcher.submit(["gotify"], _event(n), token=f"mid-{n}")
    [head] = dispatcher.due()
    dispatcher.failed(head, "connection refused")
    assert not dispatcher.is_open("gotify") and dispatcher.settled() == []
    clock.advance(1)
    [head] = dispatcher.due()
    dispatcher.failed(head, "connection refused")  # the 2nd in a row: the circuit opens
    assert dispatcher.is_open("gotify")
    # the jobs behind the head are parked (to be stored and replayed) and acknowledged
    assert [job.event.data["id"] for job in dispatcher.take_parked()] == [2, 3]
    assert dispatcher.settled() == ["mid-2", "mid-3"]
    # while the head is retried, new events for the rule are parked at once
    assert dispatcher.submit(["gotify", "mail"], _event(4), token="mid-4") == {"gotify": "parked", "mail": "queued"}
    [parked] = dispatcher.take_parked()
    assert parked.last_error == "rule failing: connection refused"
    assert [job.rule for job in dispatcher.due()] == ["mail"]  # the other rule goes on


def test_the_probe_closes_the_circuit_and_replays_go_through(clock: Clock) -> None:
    policy = RetryPolicy(base_seconds=1, factor=2, cap_seconds=60, max_attempts=1, open_after=1, jitter=_no_jitter)
    dispatcher = _dispatcher(clock, policy=policy)
    dispatcher.submit(["umami"], _event(1))
    [job] = dispatcher.due()
    assert dispatcher.failed(job, "HTTP 503") is None  # parked after its only attempt
    assert dispatcher.is_open("umami") and dispatcher.state("umami").queue == deque()
    # nothing queued: the next job is the probe, due when the rule's backoff ends
    assert dispatcher.submit(["umami"], _event(2)) == {"umami": "queued"}
    assert dispatcher.due() == []
    clock.advance(1)
    [probe] = dispatcher.due()
    dispatcher.succeeded(probe)
    assert not dispatcher.is_open("umami")
    # the engine replays what was parked
    replay = dispatcher.take_parked()
    assert dispatcher.submit([job.rule for job in replay], replay[0].event) == {"umami": "queued"}
