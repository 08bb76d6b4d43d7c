"""Actions against real local targets: an HTTP server on 127.0.0.1 and a tiny SMTP responder."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from payloads import PAYLOADS
from service_doubles import FakeMqtt, SmtpResponder, Target

from kompose_events import envelope
from kompose_events.rules import DEFAULT_RULES
from kompose_events.service.actions import ActionRunner, Mailer
from kompose_events.service.config import SmtpSettings

ARTICLE = "kompose/news/article/published"
VAULT = "kompose/vault/security/failed"
VARIABLES = {
    "umami_website_id": "3f2c1a9e-7b4d-4c1e-9a0b-2d6f8e1c5a47",
    "umami_hostname": "links.example.org",
    "linkwarden_published_collection_id": 7,
    "security_mail_to": ["admin@example.org", "ops@example.org"],
}
RULES = {rule["name"]: rule for rule in DEFAULT_RULES}


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.close()


def _runner(
    target: Target | None = None, mailer: Mailer | None = None, publisher: Any = None, timeout: float = 2
) -> ActionRunner:
    url = target.url if target is not None else "http://127.0.0.1:1"
    return ActionRunner(
        services={"linkwarden": url, "umami": url + "/umami", "gotify": url},
        variables=VARIABLES,
        credentials={"linkwarden-token": ("Authorization", "Bearer linkwarden-secret")},
        gotify_tokens={"security": "gotify-secret"},
        mailer=mailer,
        publisher=publisher,
        timeout=timeout,
    )


def _article() -> envelope.Envelope:
    return envelope.make("letterspace", "campaign:2", ARTICLE, PAYLOADS[ARTICLE], "2026-12-07T10:00:00.000Z")


def _vault() -> envelope.Envelope:
    data = {**PAYLOADS[VAULT], "attempts": 10, "locked": True}
    return envelope.make("vaultwarden", "1:ab", VAULT, data, "2026-12-07T10:00:00.000Z")


def test_http_sends_body_headers_credential_and_event_id(target: Target) -> None:
    event = _article()
    outcome = _runner(target).run(RULES["article-published-to-linkwarden"], event)
    assert outcome.result == "done"
    [request] = target.requests
    assert (request["method"], request["path"]) == ("POST", "/api/v1/links")
    assert request["headers"]["Authorization"] == "Bearer linkwarden-secret"
    assert request["headers"]["X-Kompose-Event-Id"] == event.id
    assert request["headers"]["Content-Type"] == "application/json"
    body = json.loads(request["body"])
    assert body["collection"] == {"id": 7} and body["tags"] == [{"name": "release"}, {"name": "kompose"}]


def test_http_query_and_service_base_path(target: Target) -> None:
    rule = {
        "name": "q",
        "on": ARTICLE,
        "do": {
            "kind": "http",
            "service": "umami",
            "method": "GET",
            "path": "/ping",
            "query": {"id": {"$event": "data.id"}, "tags": {"$event": "data.tags"}, "draft": False},
        },
    }
    assert _runner(target).run(rule, _article()).result == "done"
    assert target.paths() == ["/umami/ping?id=clx8m2k0f0001&tags=release&tags=kompose&draft=false"]


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (201, "done"),
        (409, "done"),
        (500, "retry"),
        (503, "retry"),
        (429, "retry"),
        (400, "fail"),
        (401, "fail"),
        (302, "fail"),
    ],
)
def test_http_status_classification(target: Target, status: int, result: str) -> None:
    target.answers["/api/v1/links"] = [status]
    outcome = _runner(target).run(RULES["article-published-to-linkwarden"], _article())
    assert outcome.result == result
    if result != "done":
        assert outcome.error == f"HTTP {status} from linkwarden POST /api/v1/links"
        assert "secret" not in outcome.error
    assert len(target.requests) == 1  # a redirect is not followed


def test_http_unreachable_or_slow_target_is_retried(target: Target) -> None:
    runner = _runner(target, timeout=0.05)
    runner.services = {**runner.services, "linkwarden": "http://127.0.0.1:1"}
    outcome = runner.run(RULES["article-published-to-linkwarden"], _article())
    assert outcome.result == "retry" and outcome.error.startswith("linkwarden POST /api/v1/links: ")
    runner.services = {**runner.services, "linkwarden": target.url}
    target.delays["/api/v1/links"] = 0.3
    outcome = runner.run(RULES["article-published-to-linkwarden"], _article())
    assert outcome.result == "retry" and "timed out" in outcome.error


def test_a_template_error_is_a_permanent_failure(target: Target) -> None:
    runner = _runner(target)
    runner.variables = {}
    outcome = runner.run(RULES["article-published-to-linkwarden"], _article())
    assert outcome.result == "fail"
    assert 'the variable "linkwarden_published_collection_id" is not set' in outcome.error
    assert target.requests == []


def test_gotify_posts_the_message_with_the_application_token(target: Target) -> None:
    outcome = _runner(target).run(RULES["vault-failure-to-gotify"], _vault())
    assert outcome.result == "done"
    [request] = target.requests
    assert (request["method"], request["path"]) == ("POST", "/message")
    assert request["headers"]["X-Gotify-Key"] == "gotify-secret"
    assert request["headers"]["X-Kompose-Event-Id"] == _vault().id
    body = json.loads(request["body"])
    assert body["priority"] == 8 and body["title"] == "Vaultwarden: 10 failed logins (password)"


def test_mail_through_the_relay() -> None:
    relay = SmtpResponder()
    try:
        settings = SmtpSettings("127.0.0.1", relay.port, "events@example.org", False, None, None)
        runner = _runner(None, mailer=Mailer(settings))
        event = _vault()
        assert runner.run(RULES["vault-failure-to-mail"], event).result == "done"
        [message] = relay.messages
        assert message["from"] == "mail FROM:<events@example.org>"
        assert message["to"] == ["rcpt TO:<admin@example.org>", "rcpt TO:<ops@example.org>"]
        mail = email.message_from_string(message["data"], policy=email.policy.default)
        assert mail["Subject"] == "[kompose] 10 failed Vaultwarden logins from 172.16.0.5"
        assert mail["From"] == "events@example.org" and mail["To"] == "admin@example.org, ops@example.org"
        assert mail["X-Kompose-Event-Id"] == event.id
        assert mail["Message-ID"] == f"<{event.id}.vault-failure-to-mail@kompose-events>"
        assert mail.get_content().startswith("Vaultwarden logged 10 failed password attempts for eve@example.org")
    finally:
        relay.close()


@pytest.mark.parametrize(("reply", "result"), [(b"550 no such user", "fail"), (b"451 try later", "retry")])
def test_mail_refused_recipients(reply: bytes, result: str) -> None:
    relay = SmtpResponder(rcpt_reply=reply)
    try:
        settings = SmtpSettings("127.0.0.1", relay.port, "events@example.org", False, None, None)
        runner = _runner(None, mailer=Mailer(settings))
        outcome = runner.run(RULES["vault-failure-to-mail"], _vault())
        assert outcome.result == result and "recipients refused" in outcome.error
    finally:
        relay.close()


def test_mail_relay_down_is_retried() -> None:
    settings = SmtpSettings("127.0.0.1", 1, "events@example.org", False, None, None)
    runner = _runner(None, mailer=Mailer(settings), timeout=0.5)
    outcome = runner.run(RULES["vault-failure-to-mail"], _vault())
    assert outcome.result == "retry" and outcome.error.startswith("smtp 127.0.0.1:1: ")


def test_publish_waits_for_the_broker() -> None:
    rule = {
        "name": "article-to-health",
        "on": ARTICLE,
        "do": {
            "kind": "publish",
            "topic": "kompose/system/health/check",
            "data": {"check": "article", "status": "pass", "summary": {"$event": "data.title"}},
        },
    }
    client = FakeMqtt()
    runner = _runner(None, publisher=client)
    assert runner.run(rule, _article()).result == "done"
    [(topic, payload)] = client.published
    produced = envelope.decode(payload, topic)
    assert produced.source == "automation" and produced.data["summary"] == "Kompose 0.2 released"
    client.connected = False
    outcome = runner.run(rule, _article())
    assert (outcome.result, outcome.error) == (
        "retry",
        "publish kompose/system/health/check: mqtt automation: not connected",
    )
