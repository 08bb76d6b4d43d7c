"""Topic schemas: every topic of the spec, versioned, with errors naming topic, field and value."""

from __future__ import annotations

import copy
import json

import pytest
from payloads import PAYLOADS

from kompose_events import schemas
from kompose_events.errors import SchemaError

SPEC_TOPICS = [
    "kompose/analytics/event",
    "kompose/analytics/pageview",
    "kompose/linkwarden/bookmark/added",
    "kompose/linkwarden/bookmark/updated",
    "kompose/linkwarden/stats/daily",
    "kompose/news/article/published",
    "kompose/news/newsletter/sent",
    "kompose/system/backup/completed",
    "kompose/system/health/check",
    "kompose/vault/security/failed",
]
# the management portal's audit log, one topic per action (kmps/kmps_portal/app.py's actions)
AUDIT_TOPICS = ["kompose/system/audit/" + action for action in (
    "service-restart", "user-add-group", "user-disable", "user-enable", "user-invite", "user-logout",
    "user-remove-group", "user-reset-password", "user-send-invitation")]


def test_every_topic_of_the_spec_has_a_schema() -> None:
    assert schemas.known_topics() == sorted(SPEC_TOPICS + AUDIT_TOPICS)
    assert all(schemas.current_version(topic) == 1 for topic in SPEC_TOPICS + AUDIT_TOPICS)


def test_an_audit_event_as_the_portal_publishes_it() -> None:
    data = {"audit_id": 12, "actor": "admin", "action": "user-disable", "target": "alice (5b0c)", "result": "ok", "detail": ""}
    schemas.validate("kompose/system/audit/user-disable", data)
    for wrong, message in (
        ({**data, "action": "user-enable"}, "data.action"),
        ({**data, "result": "started"}, "data.result"),
        ({**data, "audit_id": 0}, "data.audit_id"),
    ):
        with pytest.raises(SchemaError, match=message):
            schemas.validate("kompose/system/audit/user-disable", wrong)


@pytest.mark.parametrize("topic", SPEC_TOPICS)
def test_sample_payloads_are_valid(topic: str) -> None:
    schemas.validate(topic, PAYLOADS[topic])
    assert list(schemas.problems(schemas.schema_for(topic), PAYLOADS[topic], "data")) == []


@pytest.mark.parametrize("topic", SPEC_TOPICS)
def test_json_schema_documents(topic: str) -> None:
    document = schemas.json_schema(topic)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == f"urn:kompose:event:{topic}:v1"
    assert document["type"] == "object" and document["additionalProperties"] is False
    assert set(document["required"]) <= set(document["properties"])
    json.dumps(document)  # plain JSON, usable by any JSON Schema tool


def test_bookmark_spec_fields() -> None:
    for topic in ("kompose/linkwarden/bookmark/added", "kompose/linkwarden/bookmark/updated"):
        assert schemas.field_paths(topic) == {"data.id", "data.url", "data.title", "data.tags", "data.collection"}
    assert schemas.field_paths("kompose/vault/security/failed") == {
        "data.reason", "data.email", "data.ip", "data.attempts", "data.locked",
    }


def test_backup_payload_with_restic_snapshot() -> None:
    payload = {**PAYLOADS["kompose/system/backup/completed"], "restic": "4f2a9c1b"}
    schemas.validate("kompose/system/backup/completed", payload)


def _invalid(topic: str, change: dict, drop: str | None = None) -> dict:
    payload = copy.deepcopy(PAYLOADS[topic])
    payload.update(change)
    if drop:
        del payload[drop]
    return payload


@pytest.mark.parametrize(
    "topic, payload, message",
    [
        (
            "kompose/linkwarden/bookmark/added",
            _invalid("kompose/linkwarden/bookmark/added", {}, drop="url"),
            "kompose/linkwarden/bookmark/added v1: data.url: (absent) is missing; it is required",
        ),
        (
            "kompose/linkwarden/bookmark/added",
            _invalid("kompose/linkwarden/bookmark/added", {"tags": ["ok", 5]}),
            "kompose/linkwarden/bookmark/added v1: data.tags[1]: 5 is not a string",
        ),
        (
            "kompose/linkwarden/bookmark/added",
            _invalid("kompose/linkwarden/bookmark/added", {"id": "101"}),
            'kompose/linkwarden/bookmark/added v1: data.id: "101" is not an integer',
        ),
        (
            "kompose/linkwarden/bookmark/added",
            _invalid("kompose/linkwarden/bookmark/added", {"textContent": "private"}),
            'kompose/linkwarden/bookmark/added v1: data.textContent: "private" is not a field of this payload '
            "(fields: id, url, title, tags, collection)",
        ),
        (
            "kompose/vault/security/failed",
            _invalid("kompose/vault/security/failed", {"reason": "guess"}),
            'kompose/vault/security/failed v1: data.reason: "guess" is not one of "password", "access_code", '
            '"totp", "api_key", "admin_token"',
        ),
        (
            "kompose/vault/security/failed",
            _invalid("kompose/vault/security/failed", {"ip": "172.16.0.999"}),
            'kompose/vault/security/failed v1: data.ip: "172.16.0.999" is not a valid ip',
        ),
        (
            "kompose/vault/security/failed",
            _invalid("kompose/vault/security/failed", {"attempts": True}),
            "kompose/vault/security/failed v1: data.attempts: true is not an integer",
        ),
        (
            "kompose/vault/security/failed",
            _invalid("kompose/vault/security/failed", {"attempts": 0}),
            "kompose/vault/security/failed v1: data.attempts: 0 is below the minimum 1",
        ),
        (
            "kompose/vault/security/failed",
            _invalid("kompose/vault/security/failed", {"locked": "yes"}),
            'kompose/vault/security/failed v1: data.locked: "yes" is not a boolean',
        ),
        (
            "kompose/linkwarden/stats/daily",
            _invalid("kompose/linkwarden/stats/daily", {"date": "2026-02-30"}),
            'kompose/linkwarden/stats/daily v1: data.date: "2026-02-30" is not a valid date',
        ),
        (
            "kompose/news/article/published",
            _invalid("kompose/news/article/published", {"url": "javascript:alert(1)"}),
            'kompose/news/article/published v1: data.url: "javascript:alert(1)" is not a valid uri',
        ),
        (
            "kompose/news/newsletter/sent",
            _invalid("kompose/news/newsletter/sent", {"sent_at": "yesterday"}),
            'kompose/news/newsletter/sent v1: data.sent_at: "yesterday" is not a valid date-time',
        ),
        (
            "kompose/analytics/pageview",
            _invalid("kompose/analytics/pageview", {"website": "not-a-uuid"}),
            'kompose/analytics/pageview v1: data.website: "not-a-uuid" is not a valid uuid',
        ),
        (
            "kompose/analytics/event",
            _invalid("kompose/analytics/event", {"name": "x" * 51}),
            'kompose/analytics/event v1: data.name: "' + "x" * 51 + '" is longer than 50 characters',
        ),
        (
            "kompose/system/backup/completed",
            _invalid("kompose/system/backup/completed", {"set": "2026-12-07"}),
            'kompose/system/backup/completed v1: data.set: "2026-12-07" does not match ^[0-9]{8}T[0-9]{6}Z$',
        ),
        (
            "kompose/system/health/check",
            _invalid("kompose/system/health/check", {"status": "ok"}),
            'kompose/system/health/check v1: data.status: "ok" is not one of "pass", "warn", "fail"',
        ),
        (
            "kompose/system/health/check",
            ["not", "an", "object"],
            'kompose/system/health/check v1: data: ["not", "an", "object"] is not an object',
        ),
    ],
)
def test_mismatch_names_topic_field_and_value(topic: str, payload: object, message: str) -> None:
    with pytest.raises(SchemaError) as caught:
        schemas.validate(topic, payload)
    assert str(caught.value) == message


def test_unknown_topic_names_the_known_ones() -> None:
    with pytest.raises(SchemaError) as caught:
        schemas.validate("kompose/linkwarden/bookmark/removed", {})
    assert str(caught.value) == '"kompose/linkwarden/bookmark/removed": unknown topic (known: ' + ", ".join(sorted(SPEC_TOPICS + AUDIT_TOPICS)) + ")"


def test_unknown_version() -> None:
    with pytest.raises(SchemaError) as caught:
        schemas.validate("kompose/vault/security/failed", PAYLOADS["kompose/vault/security/failed"], 2)
    assert str(caught.value) == "kompose/vault/security/failed: version 2 has no schema (known: 1)"


def test_a_long_value_is_shortened_in_the_message() -> None:
    payload = _invalid("kompose/linkwarden/bookmark/added", {"id": "9" * 500})
    with pytest.raises(SchemaError) as caught:
        schemas.validate("kompose/linkwarden/bookmark/added", payload)
    assert str(caught.value) == 'kompose/linkwarden/bookmark/added v1: data.id: "' + "9" * 76 + '... is not an integer'


def test_validator_refuses_keywords_it_does_not_know() -> None:
    # a typo in a schema must not silently switch a check off
    with pytest.raises(SchemaError) as caught:
        list(schemas.problems({"type": "string", "minlength": 3}, "ab", "data.x"))
    assert str(caught.value) == "data.x: the schema uses unsupported keywords ['minlength']"


def test_problems_lists_every_mismatch_in_order() -> None:
    payload = {"id": 0, "url": 5, "title": "t", "tags": ["a"], "collection": "c", "extra": 1}
    found = list(schemas.problems(schemas.schema_for("kompose/linkwarden/bookmark/added"), payload, "data"))
    assert found == [
        ("data.id", "0", "is below the minimum 1"),
        ("data.url", "5", "is not a string or null"),
        ("data.extra", "1", "is not a field of this payload (fields: id, url, title, tags, collection)"),
    ]
