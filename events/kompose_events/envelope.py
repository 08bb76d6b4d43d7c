"""The event envelope every message on ``kompose/...`` carries: ``{id, topic, version, time, source, data}``.

- ``id``: a UUID derived (uuid5) from the source's name and the source's *natural key* for the
  fact (a Linkwarden link id and version, a log line's offset and text, ...). A source that reads
  the same row or line again - after a crash, a restart, a lost acknowledgement - therefore
  produces the same id, and every consumer can drop the duplicate by it. This is what makes
  at-least-once delivery safe.
- ``topic``: the MQTT topic the message is published on (checked against the arrival topic).
- ``version``: the version of the topic's payload schema (``schemas.py``) that ``data`` follows.
- ``time``: when the fact happened, taken from the source (never the wall clock at publication),
  as ``YYYY-MM-DDTHH:MM:SS.mmmZ``: a re-read yields a byte-identical message.
- ``source``: who produced it (``linkwarden``, ``vaultwarden``, ``backup``, ...).
- ``data``: the payload, valid for ``topic`` at ``version``.

Encoding is canonical JSON (sorted keys, no spaces, UTF-8) for the same reason.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import schemas
from .errors import EnvelopeError, SchemaError, show
from .times import format_time, parse_time

# Fixed forever: changing it changes every event id, and consumers would see every event as new.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:pivoine.kompose:events")
FIELDS = ("id", "topic", "version", "time", "source", "data")
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
# a message larger than this is refused before it is parsed (MQTT allows 256 MB)
MAX_MESSAGE_BYTES = 256 * 1024


def event_id(source: str, natural_key: str) -> str:
    """The deterministic id of the fact ``natural_key`` of ``source`` (the consumers' dedup key)."""
    return str(uuid.uuid5(NAMESPACE, f"{source}:{natural_key}"))


@dataclass(frozen=True)
class Envelope:
    """One event. Build it with ``make`` (sources) or ``decode`` (consumers), both validate it."""

    id: str
    topic: str
    version: int
    time: str
    source: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The envelope as plain JSON data."""
        return {
            "id": self.id,
            "topic": self.topic,
            "version": self.version,
            "time": self.time,
            "source": self.source,
            "data": self.data,
        }

    def encode(self) -> bytes:
        """Canonical JSON bytes: the same event always encodes to the same bytes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def make(
    source: str,
    natural_key: str,
    topic: str,
    data: dict[str, Any],
    time: datetime | str,
    version: int | None = None,
) -> Envelope:
    """A validated envelope for a source's fact; ``version`` defaults to the topic's newest schema."""
    if version is None:
        version = schemas.current_version(topic)
    try:
        moment = format_time(parse_time(time) if isinstance(time, str) else time)
    except ValueError:
        raise EnvelopeError(f"time: {show(time)} is not an RFC 3339 time (e.g. 2026-12-07T10:00:00.123Z)") from None
    # a JSON round trip: the envelope holds plain JSON types only (no tuples, no datetimes)
    plain = json.loads(json.dumps(data))
    return from_dict(
        {
            "id": event_id(source, natural_key),
            "topic": topic,
            "version": version,
            "time": moment,
            "source": source,
            "data": plain,
        }
    )


def decode(raw: bytes | str, topic: str | None = None) -> Envelope:
    """Parse and validate a message; ``topic`` is the MQTT topic it arrived on, when known."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise EnvelopeError(f"envelope: {len(raw)} bytes is more than the {MAX_MESSAGE_BYTES} bytes allowed")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EnvelopeError(f"envelope: not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as error:
        raise EnvelopeError(f"envelope: not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    return from_dict(obj, topic)


def from_dict(obj: Any, topic: str | None = None) -> Envelope:
    """Validate parsed JSON as an envelope; each error names ``envelope.<field>`` and the value."""
    if not isinstance(obj, dict):
        raise EnvelopeError(f"envelope: {show(obj)} is not a JSON object with the fields {', '.join(FIELDS)}")
    for name in FIELDS:
        if name not in obj:
            raise EnvelopeError(f"envelope.{name}: missing; an envelope has the fields {', '.join(FIELDS)}")
    for name in obj:
        if name not in FIELDS:
            raise EnvelopeError(
                f"envelope.{name}: {show(obj[name])} is not an envelope field (fields: {', '.join(FIELDS)})"
            )
    _check_id(obj["id"])
    _check_topic(obj["topic"], topic)
    _check_version(obj["topic"], obj["version"])
    _check_time(obj["time"])
    if not isinstance(obj["source"], str) or not SOURCE_NAME.match(obj["source"]):
        raise EnvelopeError(
            f"envelope.source: {show(obj['source'])} is not a source name "
            "(lower-case letters, digits, '.', '_', '-'; starting with a letter)"
        )
    if not isinstance(obj["data"], dict):
        raise EnvelopeError(f"envelope.data: {show(obj['data'])} is not a JSON object")
    schemas.validate(obj["topic"], obj["data"], obj["version"])
    return Envelope(
        id=obj["id"],
        topic=obj["topic"],
        version=obj["version"],
        time=obj["time"],
        source=obj["source"],
        data=obj["data"],
    )


def _check_id(value: Any) -> None:
    try:
        canonical = str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        canonical = None
    if canonical is None or canonical != value:
        raise EnvelopeError(f"envelope.id: {show(value)} is not a UUID in canonical form (lower-case, with hyphens)")


def _check_topic(value: Any, arrived_on: str | None) -> None:
    if not isinstance(value, str) or value not in schemas.SCHEMAS:
        raise EnvelopeError(
            f"envelope.topic: {show(value)} is not a known topic (known: {', '.join(schemas.known_topics())})"
        )
    if arrived_on is not None and value != arrived_on:
        raise EnvelopeError(
            f"envelope.topic: {show(value)} differs from the MQTT topic {show(arrived_on)} it arrived on"
        )


def _check_version(topic: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EnvelopeError(f"envelope.version: {show(value)} is not an integer schema version")
    try:
        schemas.schema_for(topic, value)
    except SchemaError as error:
        raise EnvelopeError(f"envelope.version: {error}") from None


def _check_time(value: Any) -> None:
    try:
        parse_time(value)
    except ValueError:
        raise EnvelopeError(
            f"envelope.time: {show(value)} is not an RFC 3339 time (e.g. 2026-12-07T10:00:00.123Z)"
        ) from None
