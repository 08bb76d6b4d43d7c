"""Shared test doubles: a manual clock and a fake Redis client (no server)."""

from __future__ import annotations

from typing import Any

import pytest


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeRedis:
    """The part of redis-py's client the stores use: ``set(name, value, nx=, ex=)`` and ``get``.

    Values are stored as bytes and returned as bytes, as redis-py does without
    ``decode_responses``; expiry follows the given clock. Every call is recorded.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.data: dict[str, tuple[bytes, float | None]] = {}
        self.calls: list[tuple[Any, ...]] = []

    def _live(self, name: str) -> bytes | None:
        item = self.data.get(name)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= self.clock():
            del self.data[name]
            return None
        return value

    def set(self, name: str, value: Any, nx: bool = False, ex: int | None = None) -> bool | None:
        self.calls.append(("set", name, value, nx, ex))
        if nx and self._live(name) is not None:
            return None
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
        self.data[name] = (raw, None if ex is None else self.clock() + ex)
        return True

    def get(self, name: str) -> bytes | None:
        self.calls.append(("get", name))
        return self._live(name)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def redis(clock: Clock) -> FakeRedis:
    return FakeRedis(clock)
