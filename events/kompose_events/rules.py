"""Automation rules as data: "on topic T (with conditions) do an action built from the event".

A rule::

    {"name": "bookmark-to-umami",                   # unique; used in metrics and dedup keys
     "on": "kompose/linkwarden/bookmark/added",     # a topic, or an MQTT filter with + and #
     "where": {"data.tags": ["ansible", "infra"]},  # optional: every condition must hold
     "do": {"kind": "http", ...}}                   # http | publish | gotify | mail

``where``: ``{<field path>: <value or list of values>}``; a list means "any of these"; when the
event's field is itself a list (tags), one of its elements must match. Booleans only equal
booleans (``true`` is not ``1``).

Actions are templates. Any value in ``do`` may be a reference, replaced when the action is built:

- ``{"$event": "data.tags"}``: that field of the event (``id``, ``topic``, ``time``, ``source``,
  ``version``, ``data``, ``data.<field>``, list items by number: ``data.tags.0``); options
  ``"default": <value>`` (used when the field is absent or null), ``"join": ", "`` (a list as
  one string), ``"wrap": "name"`` (a list of values as ``[{"name": value}, ...]``);
- ``{"$var": "umami_website_id"}``: a setting the engine provides (from the catalog/inventory);
- ``{"$format": "{data.attempts} failures from {data.ip}"}``: a string with field paths in
  braces (``{{`` and ``}}`` for literal braces; null shows as ``-``, lists joined with ``, ``).

That is the whole language: paths and three options, no expressions, no eval, no Jinja, so a
rule from an inventory cannot run code in the engine. Credentials are never written in rules: an
http action names a ``credential`` (a secret the engine holds) and the engine adds it.

``validate(...)`` checks rules before anything is written and names ``rules[<i>].<key>`` and the
value in every error: an unknown topic, a bad filter, an unknown service, kind, key, credential,
variable or Gotify application, a missing key, a field path the topic does not have.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import envelope, schemas
from .envelope import Envelope
from .errors import RuleError, TemplateError, show
from .topics import filter_error, matches, topic_error

RULE_KEYS = ("name", "on", "where", "do", "description")
REQUIRED_RULE_KEYS = ("name", "on", "do")
# kind -> (required keys, optional keys) of its "do", besides "kind"
ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "http": (("service", "method", "path"), ("headers", "query", "body", "credential", "ok_status")),
    "publish": (("topic", "data"), ()),
    "gotify": (("application", "title", "message"), ("priority",)),
    "mail": (("to", "subject", "body"), ()),
}
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
RULE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
WRAP_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENVELOPE_FIELDS = ("id", "topic", "version", "time", "source", "data")
REFERENCES = {"$event": ("$event", "default", "join", "wrap"), "$var": ("$var",), "$format": ("$format",)}
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
# headers that carry credentials: set by the engine from do.credential, never by a rule
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie", "x-gotify-key", "x-api-key")
EVENT_ID_HEADER = "X-Kompose-Event-Id"
GOTIFY_SERVICE = "gotify"
# the source name of events a publish action produces (the automation's MQTT user writes them)
PUBLISH_SOURCE = "automation"

# A browser-like User-Agent: Umami silently drops requests whose User-Agent its isbot check calls
# a bot (HTTP 200 {"beep": "boop"}, nothing stored), e.g. "kompose-automation/1.0" or got's default.
BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 kompose-events"

# The settings the default rules use; the engine provides them (from the catalog and inventory).
DEFAULT_VARIABLES: dict[str, str] = {
    "umami_website_id": "the Umami website (UUID) the automation's events are recorded on",
    "umami_hostname": "the host name reported to Umami with those events (e.g. links.<domain>)",
    "linkwarden_published_collection_id": (
        "the id of Linkwarden's collection \"Published\" (events_variables; create the collection once in "
        "Linkwarden): a POST with collection {name} would create a new collection on every call"
    ),
    "security_mail_to": "the address (or list of addresses) security notifications are mailed to",
}

# The spec's three example flows (issue 20), as data.
DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "bookmark-added-to-umami",
        "description": "A new bookmark is counted in Umami as the event bookmark_added.",
        "on": "kompose/linkwarden/bookmark/added",
        "do": {
            "kind": "http",
            "service": "umami",
            "method": "POST",
            "path": "/api/send",
            "headers": {"User-Agent": BROWSER_USER_AGENT},
            "body": {
                "type": "event",
                "payload": {
                    "website": {"$var": "umami_website_id"},
                    "hostname": {"$var": "umami_hostname"},
                    "url": "/bookmarks",
                    "name": "bookmark_added",
                    "data": {
                        "collection": {"$event": "data.collection"},
                        "tags": {"$event": "data.tags", "join": ","},
                    },
                },
            },
        },
    },
    {
        "name": "article-published-to-linkwarden",
        "description": "A published article is bookmarked in Linkwarden's collection Published, with its tags.",
        "on": "kompose/news/article/published",
        "do": {
            "kind": "http",
            "service": "linkwarden",
            "method": "POST",
            "path": "/api/v1/links",
            "credential": "linkwarden-token",
            # with preventDuplicateLinks Linkwarden answers 409 for a link it has: already done
            "ok_status": [409],
            "body": {
                "type": "url",
                "url": {"$event": "data.url"},
                "name": {"$event": "data.title"},
                "description": {"$format": "Published article {data.id}"},
                "tags": {"$event": "data.tags", "wrap": "name"},
                "collection": {"id": {"$var": "linkwarden_published_collection_id"}},
            },
        },
    },
    {
        "name": "vault-failure-to-gotify",
        "description": (
            "Repeated failed logins in Vaultwarden (the threshold reached) notify Gotify's security application."
        ),
        "on": "kompose/vault/security/failed",
        "where": {"data.locked": True},
        "do": {
            "kind": "gotify",
            "application": "security",
            "title": {"$format": "Vaultwarden: {data.attempts} failed logins ({data.reason})"},
            "message": {"$format": "{data.attempts} failed {data.reason} attempts for {data.email} from {data.ip}."},
            "priority": 8,
        },
    },
    {
        "name": "vault-failure-to-mail",
        "description": "The same failures, as an e-mail through the site's relay.",
        "on": "kompose/vault/security/failed",
        "where": {"data.locked": True},
        "do": {
            "kind": "mail",
            "to": {"$var": "security_mail_to"},
            "subject": {"$format": "[kompose] {data.attempts} failed Vaultwarden logins from {data.ip}"},
            "body": {
                "$format": (
                    "Vaultwarden logged {data.attempts} failed {data.reason} attempts for {data.email} "
                    "from {data.ip}; the last at {time}.\nEvent {id}."
                )
            },
        },
    },
]


# ---------------------------------------------------------------------------------------------
# validation


@dataclass(frozen=True)
class _Scope:
    """What a rule's references may name: the topics its ``on`` matches, the known variables."""

    where: str
    topics: tuple[str, ...]
    variables: frozenset[str] | None


def validate(
    rules: Any,
    known_topics: Iterable[str],
    known_services: Iterable[str],
    *,
    known_credentials: Iterable[str] | None = None,
    known_variables: Iterable[str] | None = None,
    known_applications: Iterable[str] | None = None,
) -> None:
    """Raise RuleError naming ``rules[<i>].<key>`` and the value for the first problem found.

    ``known_topics``: topics with a schema (``schemas.known_topics()``); ``known_services``: the
    enabled services of the catalog. The other sets are checked only when given (None: unknown
    to the caller, e.g. when secrets are not loaded yet).
    """
    topics = sorted(set(known_topics))
    services = sorted(set(known_services))
    credentials = None if known_credentials is None else sorted(set(known_credentials))
    variables = None if known_variables is None else frozenset(known_variables)
    applications = None if known_applications is None else sorted(set(known_applications))
    if not isinstance(rules, list):
        raise RuleError(f"rules: {show(rules)} is not a list of rules")
    names: dict[str, int] = {}
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        _check_rule_keys(rule, where)
        name = rule["name"]
        if not isinstance(name, str) or not RULE_NAME.match(name):
            raise RuleError(
                f"{where}.name: {show(name)} is not a rule name (lower-case letters, digits, '_' and '-', "
                "up to 63 characters)"
            )
        if name in names:
            raise RuleError(f"{where}.name: {show(name)} is already the name of rules[{names[name]}]")
        names[name] = index
        matched = _check_on(rule["on"], where, topics)
        scope = _Scope(where, matched, variables)
        _check_where(rule.get("where", {}), scope)
        _check_action(rule["do"], scope, services, credentials, applications, rule["on"], topics)


def _check_rule_keys(rule: Any, where: str) -> None:
    if not isinstance(rule, dict):
        raise RuleError(f"{where}: {show(rule)} is not a mapping with {', '.join(REQUIRED_RULE_KEYS)}")
    if True in rule and "on" not in rule:
        # YAML 1.1 (PyYAML, hence Ansible's inventory) reads a bare on: as the boolean true
        raise RuleError(f'{where}: has the key true instead of on (YAML reads a bare on as a boolean); write "on":')
    for key in REQUIRED_RULE_KEYS:
        if key not in rule:
            raise RuleError(f"{where}.{key}: missing; a rule needs {', '.join(REQUIRED_RULE_KEYS)}")
    for key in rule:
        if key not in RULE_KEYS:
            raise RuleError(f"{where}.{key}: {show(rule[key])} is not a rule key (keys: {', '.join(RULE_KEYS)})")
    if "description" in rule and not isinstance(rule["description"], str):
        raise RuleError(f"{where}.description: {show(rule['description'])} is not a string")


def _check_on(value: Any, where: str, topics: list[str]) -> tuple[str, ...]:
    problem = filter_error(value)
    if problem:
        raise RuleError(f"{where}.on: {show(value)} {problem}")
    matched = tuple(topic for topic in topics if matches(value, topic))
    if not matched:
        raise RuleError(f"{where}.on: {show(value)} matches no known topic (known: {', '.join(topics)})")
    return matched


def _check_where(conditions: Any, scope: _Scope) -> None:
    if not isinstance(conditions, dict):
        raise RuleError(f"{scope.where}.where: {show(conditions)} is not a mapping of field path to value(s)")
    for path, expected in conditions.items():
        at = f"{scope.where}.where.{path}"
        _check_path(path, at, scope, strict=False)
        values = expected if isinstance(expected, list) else [expected]
        if isinstance(expected, list) and not expected:
            raise RuleError(f"{at}: [] matches nothing; give a value or a non-empty list of values")
        for value in values:
            if isinstance(value, (dict, list)):
                raise RuleError(f"{at}: {show(value)} is not a plain value (a string, number, boolean or null)")


def _check_action(
    action: Any,
    scope: _Scope,
    services: list[str],
    credentials: list[str] | None,
    applications: list[str] | None,
    on: str,
    topics: list[str],
) -> None:
    at = f"{scope.where}.do"
    if not isinstance(action, dict):
        raise RuleError(f"{at}: {show(action)} is not a mapping with a kind ({', '.join(ACTIONS)})")
    kind = action.get("kind")
    if "kind" not in action:
        raise RuleError(f"{at}.kind: missing; the kinds are {', '.join(ACTIONS)}")
    if kind not in ACTIONS:
        raise RuleError(f"{at}.kind: {show(kind)} is not a kind of action (kinds: {', '.join(ACTIONS)})")
    required, optional = ACTIONS[kind]
    for key in required:
        if key not in action:
            raise RuleError(f"{at}.{key}: missing; a {kind} action needs {', '.join(required)}")
    for key in action:
        if key != "kind" and key not in required and key not in optional:
            allowed = ", ".join(("kind", *required, *optional))
            raise RuleError(f"{at}.{key}: {show(action[key])} is not a key of a {kind} action (keys: {allowed})")
    for key, value in action.items():
        if key != "kind":
            _check_template(value, f"{at}.{key}", scope)
    if kind == "http":
        _check_http(action, at, services, credentials)
    elif kind == "publish":
        _check_publish(action, at, on, topics)
    elif kind == "gotify":
        if GOTIFY_SERVICE not in services:
            raise RuleError(f"{at}.kind: \"gotify\" needs the service gotify, which is not enabled")
        _check_literal_name(action["application"], f"{at}.application", applications, "Gotify application")
        priority = action.get("priority", 5)
        if not _is_reference(priority) and not _is_priority(priority):
            raise RuleError(f"{at}.priority: {show(priority)} is not a Gotify priority (an integer 0 to 10)")
    elif kind == "mail":
        _check_mail_to(action["to"], f"{at}.to")


def _check_http(action: dict[str, Any], at: str, services: list[str], credentials: list[str] | None) -> None:
    service = action["service"]
    if not isinstance(service, str) or service not in services:
        raise RuleError(f"{at}.service: {show(service)} is not a known service (known: {', '.join(services)})")
    if action["method"] not in HTTP_METHODS:
        raise RuleError(f"{at}.method: {show(action['method'])} is not an HTTP method ({', '.join(HTTP_METHODS)})")
    path = action["path"]
    if not _is_reference(path) and (not isinstance(path, str) or not path.startswith("/") or "//" in path):
        raise RuleError(
            f"{at}.path: {show(path)} is not a path on the service (starting with /; the service's address "
            "comes from the catalog)"
        )
    headers = action.get("headers", {})
    if not isinstance(headers, dict):
        raise RuleError(f"{at}.headers: {show(headers)} is not a mapping of header name to value")
    for name in headers:
        if str(name).lower() in CREDENTIAL_HEADERS:
            raise RuleError(f"{at}.headers.{name}: credentials come from do.credential (a secret), not from a header")
    if "query" in action and not isinstance(action["query"], dict):
        raise RuleError(f"{at}.query: {show(action['query'])} is not a mapping of parameter to value")
    if "credential" in action:
        _check_literal_name(action["credential"], f"{at}.credential", credentials, "credential")
    statuses = action.get("ok_status", [])
    if not isinstance(statuses, list) or any(
        isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599 for code in statuses
    ):
        raise RuleError(f"{at}.ok_status: {show(statuses)} is not a list of HTTP status codes")


def _check_publish(action: dict[str, Any], at: str, on: str, topics: list[str]) -> None:
    topic = action["topic"]
    problem = topic_error(topic)
    if problem:
        raise RuleError(f"{at}.topic: {show(topic)} {problem}")
    if topic not in topics:
        raise RuleError(f"{at}.topic: {show(topic)} has no schema (known topics: {', '.join(topics)})")
    if matches(on, topic):
        raise RuleError(f"{at}.topic: {show(topic)} is matched by this rule's own on {show(on)}: it would loop")
    if not isinstance(action["data"], dict):
        raise RuleError(f"{at}.data: {show(action['data'])} is not a mapping (the payload of {topic})")


def _check_literal_name(value: Any, at: str, known: list[str] | None, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise RuleError(f"{at}: {show(value)} is not the name of a {what}")
    if known is not None and value not in known:
        raise RuleError(f"{at}: {show(value)} is not a known {what} (known: {', '.join(known) or 'none'})")


def _check_mail_to(value: Any, at: str) -> None:
    if _is_reference(value):
        return
    addresses = value if isinstance(value, list) else [value]
    if not addresses or any(not isinstance(item, str) or "@" not in item for item in addresses):
        raise RuleError(f"{at}: {show(value)} is not an address or a list of addresses")


def _check_template(value: Any, at: str, scope: _Scope) -> None:
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_template(item, f"{at}[{index}]", scope)
        return
    if not isinstance(value, dict):
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise RuleError(f"{at}: {show(value)} is not JSON data")
        return
    references = [key for key in value if isinstance(key, str) and key.startswith("$")]
    if not references:
        for key, item in value.items():
            if not isinstance(key, str):
                raise RuleError(f"{at}: the key {show(key)} is not a string")
            _check_template(item, f"{at}.{key}", scope)
        return
    kind = references[0]
    if kind not in REFERENCES:
        raise RuleError(f"{at}.{kind}: not a reference (references: {', '.join(REFERENCES)})")
    for key in value:
        if key not in REFERENCES[kind]:
            options = ", ".join(REFERENCES[kind])
            raise RuleError(f"{at}.{key}: {show(value[key])} is not an option of {kind} ({options})")
    if kind == "$event":
        _check_event_reference(value, at, scope)
    elif kind == "$var":
        name = value["$var"]
        if not isinstance(name, str) or not name:
            raise RuleError(f"{at}.$var: {show(name)} is not a variable name")
        if scope.variables is not None and name not in scope.variables:
            known = ", ".join(sorted(scope.variables)) or "none"
            raise RuleError(f"{at}.$var: {show(name)} is not a known variable (known: {known})")
    else:
        _check_format(value["$format"], f"{at}.$format", scope)


def _check_event_reference(value: dict[str, Any], at: str, scope: _Scope) -> None:
    _check_path(value["$event"], f"{at}.$event", scope, strict="default" not in value)
    if "join" in value and "wrap" in value:
        raise RuleError(f"{at}: join and wrap exclude each other; choose one")
    if "join" in value and not isinstance(value["join"], str):
        raise RuleError(f"{at}.join: {show(value['join'])} is not a separator string")
    if "wrap" in value and (not isinstance(value["wrap"], str) or not WRAP_KEY.match(value["wrap"])):
        raise RuleError(f"{at}.wrap: {show(value['wrap'])} is not a key name")
    if "default" in value:
        _check_template(value["default"], f"{at}.default", scope)


def _check_format(text: Any, at: str, scope: _Scope) -> None:
    if not isinstance(text, str):
        raise RuleError(f"{at}: {show(text)} is not a string")
    for found in PLACEHOLDER.finditer(text):
        token = found.group(0)
        if token in ("{{", "}}"):
            continue
        if found.group(1) is None:
            raise RuleError(f"{at}: {show(text)} has a lone {token!r}; write {token * 2} for a literal one")
        _check_path(found.group(1), at, scope, strict=True)


def _check_path(path: Any, at: str, scope: _Scope, strict: bool) -> None:
    """A field path must exist in the matched topics' payloads: in all of them (``strict``) or one."""
    if not isinstance(path, str) or not FIELD_PATH.match(path):
        raise RuleError(f"{at}: {show(path)} is not a field path (e.g. data.tags)")
    parts = path.split(".")
    if parts[0] not in ENVELOPE_FIELDS:
        raise RuleError(
            f"{at}: {show(path)} is not a field of an event (fields: {', '.join(ENVELOPE_FIELDS)}, data.<field>)"
        )
    if parts[0] != "data" or len(parts) == 1:
        return
    field_path = f"data.{parts[1]}"
    if strict:
        for topic in scope.topics:
            schema = schemas.schema_for(topic)
            if parts[1] not in schema.get("properties", {}):
                raise RuleError(f"{at}: {show(path)} is not a field of {topic} (fields: {_fields(topic)})")
            if parts[1] not in schema.get("required", []):
                raise RuleError(f"{at}: {show(path)} may be absent from {topic}; give the reference a default")
    elif not any(field_path in schemas.field_paths(topic) for topic in scope.topics):
        if len(scope.topics) == 1:
            topic = scope.topics[0]
            raise RuleError(f"{at}: {show(path)} is not a field of {topic} (fields: {_fields(topic)})")
        raise RuleError(f"{at}: {show(path)} is not a field of any topic this rule matches ({', '.join(scope.topics)})")


def _fields(topic: str) -> str:
    return ", ".join(sorted(schemas.field_paths(topic)))


def _is_priority(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10


def _is_reference(value: Any) -> bool:
    return isinstance(value, dict) and any(key in REFERENCES for key in value)


# ---------------------------------------------------------------------------------------------
# matching and building


def match(rule: Mapping[str, Any], event: Envelope | Mapping[str, Any]) -> bool:
    """Whether ``rule`` applies to ``event``: its topic matches ``on`` and every ``where`` holds."""
    data = event.to_dict() if isinstance(event, Envelope) else dict(event)
    if not matches(rule["on"], data.get("topic", "")):
        return False
    for path, expected in rule.get("where", {}).items():
        found, value = lookup(data, path)
        if not found:
            return False
        wanted = expected if isinstance(expected, list) else [expected]
        candidates = value if isinstance(value, list) else [value]
        if not any(_same(candidate, item) for candidate in candidates for item in wanted):
            return False
    return True


def lookup(data: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """``(True, value)`` for the field at ``path`` (dots; numbers index lists), ``(False, None)`` if absent."""
    value: Any = data
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def render(template: Any, event: Envelope | Mapping[str, Any], variables: Mapping[str, Any], at: str = "do") -> Any:
    """``template`` with every reference replaced from ``event`` and ``variables``."""
    data = event.to_dict() if isinstance(event, Envelope) else event
    if isinstance(template, list):
        return [render(item, data, variables, f"{at}[{index}]") for index, item in enumerate(template)]
    if not isinstance(template, dict):
        return template
    if "$event" in template:
        return _render_event(template, data, variables, at)
    if "$var" in template:
        name = template["$var"]
        if name not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise TemplateError(f"{at}: the variable {show(name)} is not set (set: {known})")
        return variables[name]
    if "$format" in template:
        return _render_format(template["$format"], data, at)
    return {key: render(item, data, variables, f"{at}.{key}") for key, item in template.items()}


def _render_event(template: dict[str, Any], data: Mapping[str, Any], variables: Mapping[str, Any], at: str) -> Any:
    found, value = lookup(data, template["$event"])
    if not found or value is None:
        if "default" in template:
            return render(template["default"], data, variables, f"{at}.default")
        if not found:
            raise TemplateError(f"{at}: {template['$event']} is absent from event {data.get('id')} and has no default")
    if value is None and ("join" in template or "wrap" in template):
        return "" if "join" in template else []
    if "join" in template:
        items = value if isinstance(value, list) else [value]
        return template["join"].join(_text(item) for item in items)
    if "wrap" in template:
        items = value if isinstance(value, list) else [value]
        return [{template["wrap"]: item} for item in items]
    return value


def _render_format(text: str, data: Mapping[str, Any], at: str) -> str:
    def replace(found: re.Match[str]) -> str:
        token = found.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        if found.group(1) is None:
            raise TemplateError(f"{at}: {show(text)} has a lone {token!r}")
        present, value = lookup(data, found.group(1))
        if not present:
            raise TemplateError(f"{at}: {found.group(1)} is absent from event {data.get('id')}")
        return _text(value)

    return PLACEHOLDER.sub(replace, text)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return bool(actual == expected)


def build_action(rule: Mapping[str, Any], event: Envelope, variables: Mapping[str, Any]) -> dict[str, Any]:
    """The action of ``rule`` for ``event``, every reference resolved, ready for the engine to run.

    - http: ``{kind, service, method, path, headers, query, body, credential, ok_status}``; the
      headers carry the event id (``X-Kompose-Event-Id``) so a target can drop a re-delivery;
    - publish: ``{kind, topic, envelope}``: a new event whose id derives from the rule and the
      triggering event (a re-run publishes the same id);
    - gotify: ``{kind, application, body: {title, message, priority}}`` for ``POST /message``;
    - mail: ``{kind, to: [...], subject, body, headers}`` for the relay.
    """
    name = rule["name"]
    action = rule["do"]
    at = f"rule {name}: do"
    values = {key: render(value, event, variables, f"{at}.{key}") for key, value in action.items() if key != "kind"}
    kind = action["kind"]
    if kind == "http":
        headers = {str(key): _string(value, f"{at}.headers.{key}") for key, value in values.get("headers", {}).items()}
        headers[EVENT_ID_HEADER] = event.id
        path = _string(values["path"], f"{at}.path")
        if not path.startswith("/") or "//" in path:
            raise TemplateError(f"{at}.path: {show(path)} is not a path on the service")
        return {
            "kind": "http",
            "service": values["service"],
            "method": values["method"],
            "path": path,
            "headers": headers,
            "query": values.get("query", {}),
            "body": values.get("body"),
            "credential": values.get("credential"),
            "ok_status": list(values.get("ok_status", [])),
        }
    if kind == "publish":
        produced = envelope.make(PUBLISH_SOURCE, f"{name}:{event.id}", values["topic"], values["data"], event.time)
        return {"kind": "publish", "topic": produced.topic, "envelope": produced}
    if kind == "gotify":
        priority = values.get("priority", 5)
        if not _is_priority(priority):
            raise TemplateError(f"{at}.priority: {show(priority)} is not a Gotify priority (0 to 10)")
        return {
            "kind": "gotify",
            "application": values["application"],
            "body": {
                "title": _string(values["title"], f"{at}.title"),
                "message": _string(values["message"], f"{at}.message"),
                "priority": priority,
            },
        }
    recipients = values["to"] if isinstance(values["to"], list) else [values["to"]]
    for index, address in enumerate(recipients):
        if not isinstance(address, str) or "@" not in address:
            raise TemplateError(f"{at}.to[{index}]: {show(address)} is not a mail address")
    return {
        "kind": "mail",
        "to": recipients,
        "subject": _string(values["subject"], f"{at}.subject").replace("\r", " ").replace("\n", " "),
        "body": _string(values["body"], f"{at}.body"),
        "headers": {EVENT_ID_HEADER: event.id},
    }


def _string(value: Any, at: str) -> str:
    if not isinstance(value, str):
        raise TemplateError(f"{at}: {show(value)} is not a string")
    return value


def rules_for(rules: Iterable[Mapping[str, Any]], event: Envelope) -> list[Mapping[str, Any]]:
    """The rules that apply to ``event``, in their order."""
    return [rule for rule in rules if match(rule, event)]
