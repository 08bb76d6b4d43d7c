"""MQTT topic filters: validity and matching, as the broker applies them."""

from __future__ import annotations

import pytest

from kompose_events.topics import filter_error, is_wildcard, matches, topic_error


@pytest.mark.parametrize(
    "topic_filter, topic, expected",
    [
        ("kompose/linkwarden/bookmark/added", "kompose/linkwarden/bookmark/added", True),
        ("kompose/linkwarden/bookmark/added", "kompose/linkwarden/bookmark/updated", False),
        ("kompose/+/bookmark/added", "kompose/linkwarden/bookmark/added", True),
        ("kompose/+/added", "kompose/linkwarden/bookmark/added", False),  # + is exactly one level
        ("kompose/linkwarden/#", "kompose/linkwarden/bookmark/added", True),
        ("kompose/linkwarden/#", "kompose/linkwarden", True),  # # also matches the parent level
        ("kompose/#", "kompose/vault/security/failed", True),
        ("kompose/vault/#", "kompose/news/article/published", False),
        ("#", "kompose/system/health/check", True),
        ("#", "$SYS/broker/uptime", False),  # wildcards at the start never match $ topics
        ("+/broker/uptime", "$SYS/broker/uptime", False),
        ("$SYS/broker/uptime", "$SYS/broker/uptime", True),
        ("kompose/news/article/published", "kompose/news/article/published/extra", False),
        ("kompose/news/article/published/extra", "kompose/news/article/published", False),
    ],
)
def test_matches_like_the_broker(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(topic_filter, topic) is expected


@pytest.mark.parametrize(
    "topic_filter, problem",
    [
        ("kompose/#/failed", "has '#' before the last level; '#' may only be the whole last level"),
        ("kompose/vault/sec#", "has the level 'sec#'; '+' and '#' must fill a whole level"),
        ("kompose/+x/failed", "has the level '+x'; '+' and '#' must fill a whole level"),
        ("", "is not a topic filter (a non-empty string such as kompose/vault/# or kompose/+/bookmark/added)"),
        (5, "is not a topic filter (a non-empty string such as kompose/vault/# or kompose/+/bookmark/added)"),
        ("kompose/\x00", "contains a NUL character"),
    ],
)
def test_filter_errors(topic_filter: object, problem: str) -> None:
    assert filter_error(topic_filter) == problem


@pytest.mark.parametrize("topic_filter", ["kompose/#", "kompose/+/bookmark/+", "#", "kompose/vault/security/failed"])
def test_valid_filters(topic_filter: str) -> None:
    assert filter_error(topic_filter) is None


def test_topic_error_for_publishing() -> None:
    assert topic_error("kompose/automation/done") is None
    assert topic_error("kompose/+/done") == "has a wildcard; a topic to publish on must be concrete"
    assert topic_error("other/automation/done") == "is not under kompose/"
    assert topic_error("kompose/Auto/done") == (
        "has the level 'Auto'; levels are lower-case letters, digits, '_' and '-'"
    )
    assert topic_error("kompose/x") == "is too short; Kompose topics read kompose/<app>/<event...>"


def test_is_wildcard() -> None:
    assert is_wildcard("kompose/#") and is_wildcard("kompose/+/x")
    assert not is_wildcard("kompose/vault/security/failed")
