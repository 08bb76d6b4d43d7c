"""The envelope: deterministic ids, canonical encoding, validation that names field and value."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from payloads import PAYLOADS

from kompose_events import envelope
from kompose_events.errors import EnvelopeError, SchemaError
from kompose_events.times import format_time, parse_time

TOPIC = "kompose/linkwarden/bookmark/added"
DATA = PAYLOADS[TOPIC]
WHEN = datetime(2026, 12, 7, 10, 0, 0, 123456)  # naive: UTC, as PostgreSQL returns Prisma's columns


def _event() -> envelope.Envelope:
    return envelope.make("linkwarden", "link:101:added", TOPIC, DATA, WHEN)


def test_namespace_never_changes() -> None:
    # every event id derives from it: changing it would make every past event look new
    assert str(envelope.NAMESPACE) == "dea2ac13-b8fa-54fc-890f-04f7f0281dd3"


def test_id_is_uuid5_of_source_and_natural_key() -> None:
    assert envelope.event_id("linkwarden", "link:101:added") == "ad1d2c30-0c20-5492-b5d1-f6715b578082"
    assert envelope.event_id("linkwarden", "link:101:added") == str(
        uuid.uuid5(envelope.NAMESPACE, "linkwarden:link:101:added")
    )
    assert envelope.event_id("linkwarden", "link:101:added") != envelope.event_id("vaultwarden", "link:101:added")
    assert envelope.event_id("linkwarden", "link:101:added") != envelope.event_id("linkwarden", "link:102:added")


def test_canonical_encoding_is_byte_identical_for_a_reread() -> None:
    expected = (
        b'{"data":{"collection":"Reading","id":101,"tags":["ansible","selfhost"],'
        b'"title":"Self-hosting with Ansible","url":"https://example.org/self-hosting"},'
        b'"id":"ad1d2c30-0c20-5492-b5d1-f6715b578082","source":"linkwarden",'
        b'"time":"2026-12-07T10:00:00.123Z","topic":"kompose/linkwarden/bookmark/added","version":1}'
    )
    assert _event().encode() == expected
    # the same row read again (after a restart) gives the very same message
    assert _event().encode() == expected


def test_decode_round_trip() -> None:
    event = _event()
    assert envelope.decode(event.encode(), TOPIC) == event
    assert envelope.decode(event.encode().decode("utf-8")) == event


def test_make_keeps_plain_json_only() -> None:
    event = envelope.make("linkwarden", "k", TOPIC, {**DATA, "tags": ("a", "b")}, WHEN)
    assert event.data["tags"] == ["a", "b"]


def test_make_validates_the_payload() -> None:
    with pytest.raises(SchemaError) as caught:
        envelope.make("linkwarden", "k", TOPIC, {**DATA, "collection": None}, WHEN)
    assert str(caught.value) == "kompose/linkwarden/bookmark/added v1: data.collection: null is not a string"


def test_time_is_utc_with_milliseconds() -> None:
    assert format_time(WHEN) == "2026-12-07T10:00:00.123Z"
    berlin = timezone(timedelta(hours=1))
    assert format_time(datetime(2026, 12, 7, 11, 0, 0, tzinfo=berlin)) == "2026-12-07T10:00:00.000Z"
    assert parse_time("2026-12-07T11:00:00.5+01:00") == datetime(2026, 12, 7, 10, 0, 0, 500000, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        parse_time("2026-12-07 10:00:00")


def _with(**change: object) -> bytes:
    obj = _event().to_dict()
    obj.update(change)
    return json.dumps(obj).encode()


def _without(name: str) -> bytes:
    obj = _event().to_dict()
    del obj[name]
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"{not json", "envelope: not JSON (Expecting property name enclosed in double quotes at line 1 column 2)"),
        (b"\xff\xfe", "envelope: not UTF-8 text (invalid start byte at byte 0)"),
        (b"[1, 2]", "envelope: [1, 2] is not a JSON object with the fields id, topic, version, time, source, data"),
        (_without("time"), "envelope.time: missing; an envelope has the fields id, topic, version, time, source, data"),
        (
            _with(extra=1),
            "envelope.extra: 1 is not an envelope field (fields: id, topic, version, time, source, data)",
        ),
        (
            _with(id="ad1d2c30"),
            'envelope.id: "ad1d2c30" is not a UUID in canonical form (lower-case, with hyphens)',
        ),
        (
            _with(id="AD1D2C30-0C20-5492-B5D1-F6715B578082"),
            'envelope.id: "AD1D2C30-0C20-5492-B5D1-F6715B578082" is not a UUID in canonical form '
            "(lower-case, with hyphens)",
        ),
        (_with(version=True), "envelope.version: true is not an integer schema version"),
        (
            _with(version=3),
            "envelope.version: kompose/linkwarden/bookmark/added: version 3 has no schema (known: 1)",
        ),
        (
            _with(time="2026-12-07 10:00"),
            'envelope.time: "2026-12-07 10:00" is not an RFC 3339 time (e.g. 2026-12-07T10:00:00.123Z)',
        ),
        (
            _with(source="Link Warden"),
            'envelope.source: "Link Warden" is not a source name (lower-case letters, digits, \'.\', \'_\', \'-\'; '
            "starting with a letter)",
        ),
        (_with(data="x"), 'envelope.data: "x" is not a JSON object'),
    ],
)
def test_decode_errors_name_field_and_value(raw: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError) as caught:
        envelope.decode(raw)
    assert str(caught.value) == message


def test_unknown_topic() -> None:
    with pytest.raises(EnvelopeError) as caught:
        envelope.decode(_with(topic="kompose/linkwarden/bookmark/removed"))
    assert str(caught.value).startswith(
        'envelope.topic: "kompose/linkwarden/bookmark/removed" is not a known topic (known: kompose/analytics/event, '
    )


def test_topic_must_be_the_one_it_arrived_on() -> None:
    with pytest.raises(EnvelopeError) as caught:
        envelope.decode(_event().encode(), "kompose/linkwarden/bookmark/updated")
    assert str(caught.value) == (
        'envelope.topic: "kompose/linkwarden/bookmark/added" differs from the MQTT topic '
        '"kompose/linkwarden/bookmark/updated" it arrived on'
    )


def test_payload_checked_against_its_topic() -> None:
    with pytest.raises(SchemaError) as caught:
        envelope.decode(_with(data={**DATA, "tags": "ansible"}))
    assert str(caught.value) == 'kompose/linkwarden/bookmark/added v1: data.tags: "ansible" is not an array'


def test_oversized_message_is_refused_before_parsing() -> None:
    raw = b" " * (envelope.MAX_MESSAGE_BYTES + 1)
    with pytest.raises(EnvelopeError) as caught:
        envelope.decode(raw)
    assert str(caught.value) == f"envelope: {len(raw)} bytes is more than the 262144 bytes allowed"


def test_make_writes_the_time_in_the_one_canonical_form() -> None:
    event = envelope.make("linkwarden", "k", TOPIC, DATA, "2026-12-07T11:00:00.1234+01:00")
    assert event.time == "2026-12-07T10:00:00.123Z"
    with pytest.raises(EnvelopeError) as caught:
        envelope.make("linkwarden", "k", TOPIC, DATA, "today")
    assert str(caught.value) == 'time: "today" is not an RFC 3339 time (e.g. 2026-12-07T10:00:00.123Z)'
