"""The backup playbook's bare kompose/system/backup/completed payload stays accepted."""

from __future__ import annotations

import json

import pytest
from payloads import PAYLOADS

from kompose_events import envelope, legacy
from kompose_events.errors import EnvelopeError, SchemaError

TOPIC = "kompose/system/backup/completed"
PAYLOAD = PAYLOADS[TOPIC]


def _as_ansible_renders(payload: dict) -> bytes:
    # backup_run.yml: {...} | combine(...) | to_json  (json.dumps with its default separators)
    return json.dumps(payload).encode("utf-8")


def test_bare_payload_is_adopted_into_an_envelope() -> None:
    event = legacy.decode_any(_as_ansible_renders(PAYLOAD), TOPIC)
    assert event.topic == TOPIC
    assert event.source == "backup"
    assert event.version == 1
    assert event.time == "2026-12-07T03:15:00.000Z"  # from the set's name
    assert event.data == PAYLOAD
    assert event.id == envelope.event_id("backup", "kompose-lab:20261207T031500Z")


def test_a_republished_backup_keeps_its_id() -> None:
    first = legacy.decode_any(_as_ansible_renders(PAYLOAD), TOPIC)
    again = legacy.decode_any(json.dumps(PAYLOAD, separators=(",", ":")), TOPIC)
    assert again.id == first.id and again.encode() == first.encode()


def test_restic_snapshot_is_kept() -> None:
    event = legacy.decode_any(_as_ansible_renders({**PAYLOAD, "restic": "4f2a9c1b"}), TOPIC)
    assert event.data["restic"] == "4f2a9c1b"


def test_an_envelope_on_the_same_topic_is_decoded_as_usual() -> None:
    made = envelope.make("backup", "kompose-lab:20261207T031500Z", TOPIC, PAYLOAD, "2026-12-07T03:15:00.000Z")
    assert legacy.decode_any(made.encode(), TOPIC) == made


def test_bad_bare_payload_names_the_field() -> None:
    with pytest.raises(SchemaError) as caught:
        legacy.decode_any(_as_ansible_renders({**PAYLOAD, "size": "70M"}), TOPIC)
    assert str(caught.value) == 'kompose/system/backup/completed v1: data.size: "70M" is not an integer'


def test_not_json_on_a_legacy_topic() -> None:
    with pytest.raises(EnvelopeError) as caught:
        legacy.decode_any(b"backup done", TOPIC)
    assert str(caught.value) == "envelope: not JSON (Expecting value at line 1 column 1)"


def test_other_topics_need_an_envelope() -> None:
    with pytest.raises(EnvelopeError) as caught:
        legacy.decode_any(json.dumps(PAYLOADS["kompose/vault/security/failed"]), "kompose/vault/security/failed")
    assert str(caught.value) == "envelope.id: missing; an envelope has the fields id, topic, version, time, source, data"
