"""The package's error types and how they show a value.

Every error a user can meet (a bad rule in the inventory, a payload that does not match its
topic's schema, a malformed message on the broker) names *where* (a field path such as
``rules[2].do.service`` or ``data.tags[1]``) and *what* (the offending value), so the message
alone tells what to fix. Values are shown as JSON, shortened, so a huge or hostile payload
cannot flood a log line.
"""

from __future__ import annotations

import json
from typing import Any

SHOW_LIMIT = 80


def show(value: Any, limit: int = SHOW_LIMIT) -> str:
    """Render ``value`` for an error message: JSON when possible, cut to ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=True, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


class EventsError(ValueError):
    """Base class: a value that the engine refuses, with the place and the value named."""


class EnvelopeError(EventsError):
    """A message that is not a valid event envelope (see ``envelope.py``)."""


class SchemaError(EventsError):
    """A payload that does not match its topic's schema, or a topic without a schema."""


class RuleError(EventsError):
    """A rule that cannot be used: unknown topic, service, kind, key or reference."""


class TemplateError(EventsError):
    """A reference in an action's template that cannot be resolved against an event."""
