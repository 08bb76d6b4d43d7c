"""Rules as data: validation errors naming rules[i].key and value, matching, every default payload."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from payloads import PAYLOADS

from kompose_events import envelope, rules, schemas
from kompose_events.errors import RuleError, SchemaError, TemplateError

TOPICS = schemas.known_topics()
SERVICES = ["gotify", "linkwarden", "mailhog", "umami"]
VARIABLES = {
    "umami_website_id": "3f2c1a9e-7b4d-4c1e-9a0b-2d6f8e1c5a47",
    "umami_hostname": "links.example.org",
    "linkwarden_published_collection_id": 7,
    "security_mail_to": "admin@example.org",
}
KNOWN = {
    "known_credentials": ["linkwarden-token"],
    "known_variables": list(VARIABLES),
    "known_applications": ["security", "alertmanager"],
}


def _event(topic: str, data: dict[str, Any] | None = None, key: str = "k1") -> envelope.Envelope:
    return envelope.make("test", key, topic, data if data is not None else PAYLOADS[topic], "2026-12-07T10:00:00.123Z")


def _rule(name: str) -> dict[str, Any]:
    return copy.deepcopy(next(rule for rule in rules.DEFAULT_RULES if rule["name"] == name))


def test_default_rules_are_valid() -> None:
    rules.validate(rules.DEFAULT_RULES, TOPICS, SERVICES, **KNOWN)
    assert [rule["name"] for rule in rules.DEFAULT_RULES] == [
        "bookmark-added-to-umami",
        "article-published-to-linkwarden",
        "vault-failure-to-gotify",
        "vault-failure-to-mail",
    ]
    assert set(rules.DEFAULT_VARIABLES) == set(VARIABLES)


def test_bookmark_added_becomes_an_umami_event() -> None:
    event = _event("kompose/linkwarden/bookmark/added")
    action = rules.build_action(_rule("bookmark-added-to-umami"), event, VARIABLES)
    assert action == {
        "kind": "http",
        "service": "umami",
        "method": "POST",
        "path": "/api/send",
        "headers": {"User-Agent": rules.BROWSER_USER_AGENT, "X-Kompose-Event-Id": event.id},
        "query": {},
        "body": {
            "type": "event",
            "payload": {
                "website": "3f2c1a9e-7b4d-4c1e-9a0b-2d6f8e1c5a47",
                "hostname": "links.example.org",
                "url": "/bookmarks",
                "name": "bookmark_added",
                "data": {"collection": "Reading", "tags": "ansible,selfhost"},
            },
        },
        "credential": None,
        "ok_status": [],
    }
    # Umami drops bot-like user agents; the default must look like a browser
    assert action["headers"]["User-Agent"].startswith("Mozilla/5.0")


def test_article_published_becomes_a_linkwarden_link_in_published() -> None:
    event = _event("kompose/news/article/published")
    action = rules.build_action(_rule("article-published-to-linkwarden"), event, VARIABLES)
    assert action == {
        "kind": "http",
        "service": "linkwarden",
        "method": "POST",
        "path": "/api/v1/links",
        "headers": {"X-Kompose-Event-Id": event.id},
        "query": {},
        "body": {
            "type": "url",
            "url": "https://news.example.org/a/kompose-0-2",
            "name": "Kompose 0.2 released",
            "description": "Published article clx8m2k0f0001",
            "tags": [{"name": "release"}, {"name": "kompose"}],
            # by id: a POST with collection {name} creates a new collection each time
            "collection": {"id": 7},
        },
        "credential": "linkwarden-token",
        "ok_status": [409],
    }


def test_vault_failure_becomes_a_gotify_message_and_a_mail() -> None:
    event = _event("kompose/vault/security/failed")
    gotify = rules.build_action(_rule("vault-failure-to-gotify"), event, VARIABLES)
    assert gotify == {
        "kind": "gotify",
        "application": "security",
        "body": {
            "title": "Vaultwarden: 10 failed logins (password)",
            "message": "10 failed password attempts for eve@example.org from 172.16.0.5.",
            "priority": 8,
        },
    }
    mail = rules.build_action(_rule("vault-failure-to-mail"), event, VARIABLES)
    assert mail == {
        "kind": "mail",
        "to": ["admin@example.org"],
        "subject": "[kompose] 10 failed Vaultwarden logins from 172.16.0.5",
        "body": (
            "Vaultwarden logged 10 failed password attempts for eve@example.org from 172.16.0.5; "
            f"the last at 2026-12-07T10:00:00.123Z.\nEvent {event.id}."
        ),
        "headers": {"X-Kompose-Event-Id": event.id},
    }


def test_vault_rules_fire_only_once_the_threshold_is_reached() -> None:
    locked = _event("kompose/vault/security/failed")
    single = _event("kompose/vault/security/failed", {**PAYLOADS["kompose/vault/security/failed"], "attempts": 1, "locked": False})
    assert [r["name"] for r in rules.rules_for(rules.DEFAULT_RULES, locked)] == [
        "vault-failure-to-gotify",
        "vault-failure-to-mail",
    ]
    assert rules.rules_for(rules.DEFAULT_RULES, single) == []


def test_gotify_message_without_email_shows_a_dash() -> None:
    data = {"reason": "admin_token", "email": None, "ip": "::1", "attempts": 10, "locked": True}
    action = rules.build_action(_rule("vault-failure-to-gotify"), _event("kompose/vault/security/failed", data), VARIABLES)
    assert action["body"]["message"] == "10 failed admin_token attempts for - from ::1."


# ---------------------------------------------------------------------------------------------
# matching


def test_match_on_filters_and_conditions() -> None:
    rule = {"name": "r", "on": "kompose/linkwarden/#", "where": {"data.tags": ["infra", "ansible"]}, "do": {}}
    assert rules.match(rule, _event("kompose/linkwarden/bookmark/added"))  # a tag is in the list
    assert not rules.match(rule, _event("kompose/linkwarden/bookmark/added", {**PAYLOADS["kompose/linkwarden/bookmark/added"], "tags": []}))
    assert not rules.match(rule, _event("kompose/linkwarden/stats/daily"))  # no tags field: no match
    assert not rules.match(rule, _event("kompose/news/article/published"))  # another topic


def test_match_compares_booleans_strictly() -> None:
    rule = {"name": "r", "on": "kompose/vault/security/failed", "where": {"data.attempts": True}, "do": {}}
    data = {**PAYLOADS["kompose/vault/security/failed"], "attempts": 1}
    assert not rules.match(rule, _event("kompose/vault/security/failed", data))  # 1 is not true
    rule["where"] = {"data.reason": "password", "source": "test"}
    assert rules.match(rule, _event("kompose/vault/security/failed", data))


def test_lookup_paths() -> None:
    data = _event("kompose/linkwarden/bookmark/added").to_dict()
    assert rules.lookup(data, "data.tags.1") == (True, "selfhost")
    assert rules.lookup(data, "data.tags.5") == (False, None)
    assert rules.lookup(data, "data.nope") == (False, None)
    assert rules.lookup(data, "topic") == (True, "kompose/linkwarden/bookmark/added")


# ---------------------------------------------------------------------------------------------
# templates


def test_references_and_options() -> None:
    event = _event("kompose/linkwarden/bookmark/added", {**PAYLOADS["kompose/linkwarden/bookmark/added"], "url": None})
    template = {
        "url": {"$event": "data.url", "default": "about:blank"},
        "tags": {"$event": "data.tags", "join": " | "},
        "names": {"$event": "data.tags", "wrap": "name"},
        "first": {"$event": "data.tags.0"},
        "site": {"$var": "umami_hostname"},
        "line": {"$format": "{{literal}} {data.title} {data.url} {data.tags} {version}"},
        "list": [{"$event": "id"}, 3, None],
    }
    assert rules.render(template, event, VARIABLES) == {
        "url": "about:blank",
        "tags": "ansible | selfhost",
        "names": [{"name": "ansible"}, {"name": "selfhost"}],
        "first": "ansible",
        "site": "links.example.org",
        "line": "{literal} Self-hosting with Ansible - ansible, selfhost 1",
        "list": [event.id, 3, None],
    }


def test_render_errors() -> None:
    event = _event("kompose/linkwarden/bookmark/added")
    with pytest.raises(TemplateError) as caught:
        rules.render({"$event": "data.missing"}, event, {}, "rule r: do.body")
    assert str(caught.value) == f"rule r: do.body: data.missing is absent from event {event.id} and has no default"
    with pytest.raises(TemplateError) as caught:
        rules.render({"$var": "umami_website_id"}, event, {}, "rule r: do.body.website")
    assert str(caught.value) == 'rule r: do.body.website: the variable "umami_website_id" is not set (set: none)'


def test_no_code_runs_from_a_template() -> None:
    event = _event("kompose/linkwarden/bookmark/added")
    with pytest.raises(TemplateError) as caught:
        rules.render({"$format": "{__import__('os').system('id')}"}, event, {})
    assert "is absent from event" in str(caught.value)
    bad = _on("kompose/linkwarden/bookmark/added", {**_mail("s"), "body": {"$format": "{data.__class__}"}})
    with pytest.raises(RuleError) as caught:
        rules.validate(bad, TOPICS, SERVICES)
    assert str(caught.value) == (
        'rules[0].do.body.$format: "data.__class__" is not a field of kompose/linkwarden/bookmark/added '
        "(fields: data.collection, data.id, data.tags, data.title, data.url)"
    )


def test_publish_action_makes_a_deterministic_event() -> None:
    rule = {
        "name": "bookmark-health",
        "on": "kompose/linkwarden/bookmark/added",
        "do": {
            "kind": "publish",
            "topic": "kompose/system/health/check",
            "data": {"check": {"$format": "bookmark {data.id}"}, "status": "pass"},
        },
    }
    rules.validate([rule], TOPICS, SERVICES)
    event = _event("kompose/linkwarden/bookmark/added")
    first = rules.build_action(rule, event, {})
    again = rules.build_action(rule, event, {})
    produced = first["envelope"]
    assert first["topic"] == "kompose/system/health/check"
    assert produced.source == "automation" and produced.time == event.time
    assert produced.data == {"check": "bookmark 101", "status": "pass"}
    assert produced.id == envelope.event_id("automation", f"bookmark-health:{event.id}") == again["envelope"].id


def test_publish_payload_is_checked_against_its_schema() -> None:
    action = {"kind": "publish", "topic": "kompose/system/health/check", "data": {"check": "x", "status": "green"}}
    [rule] = _on("kompose/linkwarden/bookmark/added", action)
    with pytest.raises(SchemaError) as caught:
        rules.build_action(rule, _event("kompose/linkwarden/bookmark/added"), {})
    assert str(caught.value) == 'kompose/system/health/check v1: data.status: "green" is not one of "pass", "warn", "fail"'


# ---------------------------------------------------------------------------------------------
# validation errors


def _http(**change: Any) -> dict[str, Any]:
    rule = {
        "name": "r",
        "on": "kompose/linkwarden/bookmark/added",
        "do": {"kind": "http", "service": "umami", "method": "POST", "path": "/api/send", "body": {}},
    }
    for key, value in change.items():
        target = rule["do"] if key.startswith("do_") else rule
        name = key[3:] if key.startswith("do_") else key
        if value is ...:
            del target[name]
        else:
            target[name] = value
    return rule


LINK_FIELDS = "data.collection, data.id, data.tags, data.title, data.url"
HTTP_KEYS = "kind, service, method, path, headers, query, body, credential, ok_status"
VARIABLE_NAMES = "linkwarden_published_collection_id, security_mail_to, umami_hostname, umami_website_id"


def _on(topic_filter: str, action: dict[str, Any], name: str = "x") -> list[dict[str, Any]]:
    return [{"name": name, "on": topic_filter, "do": action}]


def _mail(subject: Any, to: Any = "a@b.c") -> dict[str, Any]:
    return {"kind": "mail", "to": to, "subject": subject, "body": "b"}


BAD_RULES = [
    ({"rules": "bookmark-added-to-umami"}, 'rules: "bookmark-added-to-umami" is not a list of rules'),
    ([["on", "do"]], 'rules[0]: ["on", "do"] is not a mapping with name, on, do'),
    ([_http(on=...)], "rules[0].on: missing; a rule needs name, on, do"),
    ([_http(when="always")], 'rules[0].when: "always" is not a rule key (keys: name, on, where, do, description)'),
    (
        [_http(name="Bookmark to Umami")],
        'rules[0].name: "Bookmark to Umami" is not a rule name '
        "(lower-case letters, digits, '_' and '-', up to 63 characters)",
    ),
    ([_http(), _http()], 'rules[1].name: "r" is already the name of rules[0]'),
    (
        [_http(on="kompose/#/added")],
        "rules[0].on: \"kompose/#/added\" has '#' before the last level; '#' may only be the whole last level",
    ),
    (
        [_http(on="kompose/linkwarden/bookmark/removed")],
        'rules[0].on: "kompose/linkwarden/bookmark/removed" matches no known topic (known: ' + ", ".join(TOPICS) + ")",
    ),
    ([_http(do="umami")], 'rules[0].do: "umami" is not a mapping with a kind (http, publish, gotify, mail)'),
    ([_http(do_kind=...)], "rules[0].do.kind: missing; the kinds are http, publish, gotify, mail"),
    (
        [_http(do_kind="webhook")],
        'rules[0].do.kind: "webhook" is not a kind of action (kinds: http, publish, gotify, mail)',
    ),
    ([_http(do_path=...)], "rules[0].do.path: missing; a http action needs service, method, path"),
    (
        [_http(do_url="http://evil")],
        f'rules[0].do.url: "http://evil" is not a key of a http action (keys: {HTTP_KEYS})',
    ),
    (
        [_http(do_service="umamii")],
        'rules[0].do.service: "umamii" is not a known service (known: gotify, linkwarden, mailhog, umami)',
    ),
    (
        [_http(do_method="FETCH")],
        'rules[0].do.method: "FETCH" is not an HTTP method (GET, POST, PUT, PATCH, DELETE)',
    ),
    (
        [_http(do_path="https://evil.example/x")],
        'rules[0].do.path: "https://evil.example/x" is not a path on the service '
        "(starting with /; the service's address comes from the catalog)",
    ),
    (
        [_http(do_headers={"Authorization": "Bearer abc"})],
        "rules[0].do.headers.Authorization: credentials come from do.credential (a secret), not from a header",
    ),
    (
        [_http(do_credential="umami-password")],
        'rules[0].do.credential: "umami-password" is not a known credential (known: linkwarden-token)',
    ),
    ([_http(do_ok_status=["409"])], 'rules[0].do.ok_status: ["409"] is not a list of HTTP status codes'),
    (
        [_http(where={"data.folder": "x"})],
        f'rules[0].where.data.folder: "data.folder" is not a field of kompose/linkwarden/bookmark/added (fields: {LINK_FIELDS})',
    ),
    (
        [_http(where={"data.tags": []})],
        "rules[0].where.data.tags: [] matches nothing; give a value or a non-empty list of values",
    ),
    (
        [_http(where={"data.tags": {"in": ["a"]}})],
        'rules[0].where.data.tags: {"in": ["a"]} is not a plain value (a string, number, boolean or null)',
    ),
    ([_http(where="locked")], 'rules[0].where: "locked" is not a mapping of field path to value(s)'),
    ([_http(do_body={"$eval": "1+1"})], "rules[0].do.body.$eval: not a reference (references: $event, $var, $format)"),
    (
        [_http(do_body={"x": {"$event": "data.titel"}})],
        f'rules[0].do.body.x.$event: "data.titel" is not a field of kompose/linkwarden/bookmark/added (fields: {LINK_FIELDS})',
    ),
    (
        [_http(do_body={"x": {"$event": "payload.title"}})],
        'rules[0].do.body.x.$event: "payload.title" is not a field of an event '
        "(fields: id, topic, version, time, source, data, data.<field>)",
    ),
    (
        [_http(do_body={"x": {"$event": "data.tags", "join": ",", "wrap": "name"}})],
        "rules[0].do.body.x: join and wrap exclude each other; choose one",
    ),
    (
        [_http(do_body={"x": {"$event": "data.tags", "sep": ","}})],
        'rules[0].do.body.x.sep: "," is not an option of $event ($event, default, join, wrap)',
    ),
    (
        [_http(do_body={"x": {"$var": "umami_site"}})],
        f'rules[0].do.body.x.$var: "umami_site" is not a known variable (known: {VARIABLE_NAMES})',
    ),
    (
        [_http(do_body={"x": {"$format": "count: {data.id"}})],
        "rules[0].do.body.x.$format: \"count: {data.id\" has a lone '{'; write {{ for a literal one",
    ),
    ([_http(do_body={"x": {"$format": "{}"}})], 'rules[0].do.body.x.$format: "" is not a field path (e.g. data.tags)'),
    (
        _on("kompose/system/health/check", {"kind": "publish", "topic": "kompose/system/health/check", "data": {}}),
        'rules[0].do.topic: "kompose/system/health/check" is matched by this rule\'s own on '
        '"kompose/system/health/check": it would loop',
    ),
    (
        _on("kompose/vault/#", {"kind": "publish", "topic": "kompose/automation/done", "data": {}}),
        'rules[0].do.topic: "kompose/automation/done" has no schema (known topics: ' + ", ".join(TOPICS) + ")",
    ),
    (
        _on("kompose/vault/#", {"kind": "publish", "topic": "kompose/system/+", "data": {}}),
        'rules[0].do.topic: "kompose/system/+" has a wildcard; a topic to publish on must be concrete',
    ),
    (
        _on("kompose/vault/#", {"kind": "gotify", "application": "secrity", "title": "t", "message": "m"}),
        'rules[0].do.application: "secrity" is not a known Gotify application (known: alertmanager, security)',
    ),
    (
        _on("kompose/vault/#", {"kind": "gotify", "application": "security", "title": "t", "message": "m", "priority": 11}),
        "rules[0].do.priority: 11 is not a Gotify priority (an integer 0 to 10)",
    ),
    (
        _on("kompose/vault/#", _mail("s", to="admin")),
        'rules[0].do.to: "admin" is not an address or a list of addresses',
    ),
    (
        # analytics' hostname may be absent: using it needs a default
        _on("kompose/analytics/pageview", _mail({"$format": "{data.hostname}"})),
        'rules[0].do.subject.$format: "data.hostname" may be absent from kompose/analytics/pageview; '
        "give the reference a default",
    ),
    (
        # a filter over several topics: a field must exist in every one of them
        _on("kompose/linkwarden/#", _mail({"$format": "{data.title}"})),
        'rules[0].do.subject.$format: "data.title" is not a field of kompose/linkwarden/stats/daily '
        "(fields: data.collections, data.date, data.links, data.users)",
    ),
]


@pytest.mark.parametrize("bad, message", BAD_RULES)
def test_a_bad_rule_names_key_and_value(bad: Any, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        rules.validate(bad if not isinstance(bad, dict) else bad["rules"], TOPICS, SERVICES, **KNOWN)
    assert str(caught.value) == message


def test_gotify_needs_the_gotify_service() -> None:
    rule = _rule("vault-failure-to-gotify")
    with pytest.raises(RuleError) as caught:
        rules.validate([rule], TOPICS, ["umami"])
    assert str(caught.value) == 'rules[0].do.kind: "gotify" needs the service gotify, which is not enabled'


def test_unknown_sets_are_not_checked_when_not_given() -> None:
    # before the secrets are loaded the caller may not know the credentials or variables yet
    rules.validate(rules.DEFAULT_RULES, TOPICS, SERVICES)


def test_the_index_names_the_bad_rule_among_good_ones() -> None:
    bad = _http(do_service="analytics")
    with pytest.raises(RuleError) as caught:
        rules.validate([*copy.deepcopy(rules.DEFAULT_RULES), bad], TOPICS, SERVICES, **KNOWN)
    assert str(caught.value).startswith('rules[4].do.service: "analytics" is not a known service')


def test_a_condition_on_a_field_no_matched_topic_has() -> None:
    rule = _http(on="kompose/linkwarden/#", where={"data.folder": "x"})
    with pytest.raises(RuleError) as caught:
        rules.validate([rule], TOPICS, SERVICES)
    assert str(caught.value) == (
        'rules[0].where.data.folder: "data.folder" is not a field of any topic this rule matches '
        "(kompose/linkwarden/bookmark/added, kompose/linkwarden/bookmark/updated, kompose/linkwarden/stats/daily)"
    )
    # a field one of them has is fine: the condition simply does not match the others
    rules.validate([_http(on="kompose/linkwarden/#", where={"data.tags": "x"}, do_body={})], TOPICS, SERVICES)


def test_a_bare_yaml_on_key_is_explained() -> None:
    # what PyYAML (and so an Ansible inventory) makes of "on: kompose/..." without quotes
    rule = {"name": "r", True: "kompose/linkwarden/bookmark/added", "do": _http()["do"]}
    with pytest.raises(RuleError) as caught:
        rules.validate([rule], TOPICS, SERVICES)
    assert str(caught.value) == (
        'rules[0]: has the key true instead of on (YAML reads a bare on as a boolean); write "on":'
    )
