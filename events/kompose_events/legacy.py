"""Messages that existing publishers send without an envelope, wrapped into one on arrival.

``playbooks/backup.yml`` (``roles/day2/tasks/backup_run.yml``) already publishes
``kompose/system/backup/completed`` with the bare payload ``{host, set, path, size, files[,
restic]}``. Rather than change a working publisher in step with the engine, the engine adopts
such a message: the payload is validated against the topic's schema (which is exactly that
payload), the id comes from the payload's own natural key (host and set name: a re-published
backup keeps its id) and the time from the set's name. A message that already is an envelope is
decoded as usual, so the playbook can move to envelopes later without a flag day.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from . import envelope, schemas
from .envelope import Envelope


def _adopt_backup(payload: dict[str, Any]) -> Envelope:
    topic = "kompose/system/backup/completed"
    schemas.validate(topic, payload, 1)
    moment = datetime.strptime(payload["set"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    return envelope.make("backup", f"{payload['host']}:{payload['set']}", topic, payload, moment, 1)


# topic -> how to wrap its bare payload
BARE_PUBLISHERS: dict[str, Callable[[dict[str, Any]], Envelope]] = {
    "kompose/system/backup/completed": _adopt_backup,
}


def decode_any(raw: bytes | str, topic: str) -> Envelope:
    """Decode an envelope, or adopt the bare payload of a known legacy publisher on ``topic``."""
    if topic in BARE_PUBLISHERS:
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None  # not JSON: envelope.decode below says so
        if isinstance(obj, dict) and not {"id", "data"} <= set(obj):
            return BARE_PUBLISHERS[topic](obj)
    return envelope.decode(raw, topic)
