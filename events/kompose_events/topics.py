"""MQTT topic names and filters (MQTT 3.1.1, section 4.7), as the rules use them.

A rule's ``on`` is a topic or a filter with ``+`` (exactly one level) and ``#`` (this level and
every level below, only as the last level). The broker applies the same semantics when the engine
subscribes, so a rule matches exactly the messages the broker would deliver for that filter.
Topics starting with ``$`` (``$SYS/...``) are never matched by a leading wildcard, as in MQTT.
"""

from __future__ import annotations

import re

# Kompose's own topics: lower-case levels under kompose/ (the catalog's ACLs are written that way)
TOPIC_LEVEL = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def topic_error(topic: object) -> str | None:
    """Why ``topic`` is not a concrete Kompose topic name, or None when it is one."""
    if not isinstance(topic, str) or not topic:
        return "is not a topic name (a non-empty string such as kompose/linkwarden/bookmark/added)"
    levels = topic.split("/")
    if levels[0] != "kompose":
        return "is not under kompose/"
    for level in levels:
        if level in ("+", "#") or "+" in level or "#" in level:
            return "has a wildcard; a topic to publish on must be concrete"
        if not TOPIC_LEVEL.match(level):
            return f"has the level {level!r}; levels are lower-case letters, digits, '_' and '-'"
    if len(levels) < 3:
        return "is too short; Kompose topics read kompose/<app>/<event...>"
    return None


def filter_error(topic_filter: object) -> str | None:
    """Why ``topic_filter`` is not a valid MQTT subscription filter, or None when it is one."""
    if not isinstance(topic_filter, str) or not topic_filter:
        return "is not a topic filter (a non-empty string such as kompose/vault/# or kompose/+/bookmark/added)"
    if "\x00" in topic_filter:
        return "contains a NUL character"
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if level == "#":
            if index != len(levels) - 1:
                return "has '#' before the last level; '#' may only be the whole last level"
        elif level == "+":
            continue
        elif "#" in level or "+" in level:
            return f"has the level {level!r}; '+' and '#' must fill a whole level"
    return None


def matches(topic_filter: str, topic: str) -> bool:
    """Whether the broker would deliver a message on ``topic`` to a subscription on ``topic_filter``."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)


def is_wildcard(topic_filter: str) -> bool:
    """Whether the filter contains ``+`` or ``#`` (and so may match several topics)."""
    return any(level in ("+", "#") for level in topic_filter.split("/"))
