"""The portal's error types and how a value is shown in a message.

Every error an operator can meet says *where* (a config key path, the upstream and the call) and
*what* (the offending value, the upstream's own words), so the message alone tells what to fix.
Values are shown as JSON and shortened, so a huge or hostile value cannot flood a page or a log
line. No error ever carries a credential: the clients build their messages from the status and
the upstream's error text only, never from request headers.
"""

from __future__ import annotations

import json
from typing import Any

SHOW_LIMIT = 80


def show(value: Any, limit: int = SHOW_LIMIT) -> str:
    """Render ``value`` for a message: JSON when possible, cut to ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=True, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


class PortalError(Exception):
    """An upstream (Keycloak, Docker, Alertmanager, Prometheus, the database) refused or failed.

    ``status`` is the upstream's HTTP status, or None when it did not answer at all.
    ``outcome_unknown`` says that a write was sent and no answer came back: nobody knows whether
    it was done, and the page must say so. ``message`` is meant for the page.
    """

    def __init__(self, message: str, status: int | None = None, upstream: str = "", outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.upstream = upstream
        self.outcome_unknown = outcome_unknown

    def __str__(self) -> str:
        return self.message


class ConfigError(ValueError):
    """A config file the portal cannot use; the message names the key path and the value."""
