"""One versioned payload schema per topic of the spec, and a small validator for them.

The schemas are written in a subset of JSON Schema (draft 2020-12): ``type`` (a name or a list),
``properties``, ``required``, ``additionalProperties: false``, ``items``, ``enum``, ``minimum``,
``minLength``, ``maxLength``, ``pattern`` and ``format`` (``date``, ``date-time``, ``uri``, ``ip``,
``uuid``). Being a true subset, ``json_schema(topic)`` is a standard document that other tools and
the README can use, while the engine needs no jsonschema dependency: the validator below knows
exactly these keywords and refuses a schema that uses any other (so a typo in a schema cannot
silently disable a check).

Versioning: ``SCHEMAS[topic][version]``. An envelope carries the version its payload follows; a
change that breaks consumers adds a version (both are accepted while consumers move over) rather
than editing one in place.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from .errors import SchemaError, show
from .times import parse_time

NULLABLE_STRING = {"type": ["string", "null"]}
TAGS = {"type": "array", "items": {"type": "string", "minLength": 1}, "description": "tag names"}
COUNT = {"type": "integer", "minimum": 0}

BOOKMARK_V1 = {
    "type": "object",
    "description": "A link in Linkwarden (table Link), read through a column-limited read-only login.",
    "properties": {
        "id": {"type": "integer", "minimum": 1, "description": "Linkwarden's link id"},
        # Linkwarden's url is nullable (uploaded PDFs and images have none) and not checked by
        # Linkwarden beyond its own form: no format here, so no stored row can stop the source.
        "url": {**NULLABLE_STRING, "description": "the bookmarked address; null for an uploaded file"},
        "title": {"type": "string", "description": "the link's name (may be empty)"},
        "tags": TAGS,
        "collection": {"type": "string", "description": "the name of the link's collection"},
    },
    "required": ["id", "url", "title", "tags", "collection"],
    "additionalProperties": False,
}

SCHEMAS: dict[str, dict[int, dict[str, Any]]] = {
    "kompose/linkwarden/bookmark/added": {1: BOOKMARK_V1},
    "kompose/linkwarden/bookmark/updated": {1: BOOKMARK_V1},
    "kompose/linkwarden/stats/daily": {
        1: {
            "type": "object",
            "description": "Linkwarden's totals, once a day (the first measurement of a date wins).",
            "properties": {
                "date": {"type": "string", "format": "date", "description": "the UTC date measured"},
                "links": COUNT,
                "collections": COUNT,
                "users": COUNT,
            },
            "required": ["date", "links", "collections", "users"],
            "additionalProperties": False,
        }
    },
    "kompose/news/article/published": {
        1: {
            "type": "object",
            "description": "An article (a LetterSpace campaign) that was published.",
            "properties": {
                "id": {"type": ["string", "integer"], "description": "the article's id in its app"},
                "title": {"type": "string", "minLength": 1},
                "url": {"type": "string", "format": "uri", "description": "where the article can be read"},
                "category": {**NULLABLE_STRING, "description": "null when the app has none"},
                "tags": TAGS,
            },
            "required": ["id", "title", "url", "category", "tags"],
            "additionalProperties": False,
        }
    },
    "kompose/news/newsletter/sent": {
        1: {
            "type": "object",
            "description": "A newsletter (a completed LetterSpace campaign) that was sent.",
            "properties": {
                "id": {"type": ["string", "integer"]},
                "subject": {"type": "string"},
                "recipients": COUNT,
                "sent_at": {"type": "string", "format": "date-time"},
            },
            "required": ["id", "subject", "recipients", "sent_at"],
            "additionalProperties": False,
        }
    },
    "kompose/analytics/pageview": {
        1: {
            "type": "object",
            "description": "A page view Umami recorded.",
            "properties": {
                "website": {"type": "string", "format": "uuid", "description": "Umami's website id"},
                "hostname": NULLABLE_STRING,
                "path": {"type": "string", "description": "the URL path, without the query"},
                "title": NULLABLE_STRING,
                "referrer": {**NULLABLE_STRING, "description": "the referring domain"},
            },
            "required": ["website", "path"],
            "additionalProperties": False,
        }
    },
    "kompose/analytics/event": {
        1: {
            "type": "object",
            "description": "A custom event Umami recorded.",
            "properties": {
                "website": {"type": "string", "format": "uuid"},
                "hostname": NULLABLE_STRING,
                "path": {"type": "string"},
                # Umami limits an event's name to 50 characters
                "name": {"type": "string", "minLength": 1, "maxLength": 50},
                "data": {"type": "object", "description": "the event's properties as Umami stored them"},
            },
            "required": ["website", "name"],
            "additionalProperties": False,
        }
    },
    "kompose/vault/security/failed": {
        1: {
            "type": "object",
            "description": (
                "A failed authentication Vaultwarden logged, with the failures counted for the same "
                "e-mail (or, without one, the same address) in the source's sliding window."
            ),
            "properties": {
                "reason": {
                    "enum": ["password", "access_code", "totp", "api_key", "admin_token"],
                    "description": "what failed (the same reasons as the failed_logins_total counter)",
                },
                "email": {**NULLABLE_STRING, "description": "the user name tried; null for totp and admin_token"},
                "ip": {"type": "string", "format": "ip"},
                "attempts": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "failures in the window, this one included",
                },
                "locked": {
                    "type": "boolean",
                    "description": "attempts reached the source's threshold (Vaultwarden itself locks nothing)",
                },
            },
            "required": ["reason", "email", "ip", "attempts", "locked"],
            "additionalProperties": False,
        }
    },
    "kompose/system/health/check": {
        1: {
            "type": "object",
            "description": "The result of a health check (a periodic probe, or an Alertmanager alert).",
            "properties": {
                "check": {"type": "string", "minLength": 1, "description": "what was checked (probe or alert name)"},
                "status": {"enum": ["pass", "warn", "fail"]},
                "service": {**NULLABLE_STRING, "description": "the catalog service concerned, if any"},
                "summary": NULLABLE_STRING,
            },
            "required": ["check", "status"],
            "additionalProperties": False,
        }
    },
    "kompose/system/backup/completed": {
        # exactly what roles/day2/tasks/backup_run.yml publishes (keep both in step)
        1: {
            "type": "object",
            "description": "A complete backup set was written (published by playbooks/backup.yml).",
            "properties": {
                "host": {"type": "string", "minLength": 1, "description": "the inventory host"},
                "set": {"type": "string", "pattern": r"^[0-9]{8}T[0-9]{6}Z$", "description": "the set's UTC name"},
                "path": {"type": "string", "minLength": 1},
                "size": COUNT,
                "files": COUNT,
                "restic": {"type": "string", "description": "the restic snapshot id, with an off-host copy"},
            },
            "required": ["host", "set", "path", "size", "files"],
            "additionalProperties": False,
        }
    },
}

# The portal's audit log (kmps/kmps_portal/audit.py publishes them, one topic per action; keep both in
# step): each write, once it ended, with its row in the portal's database.
AUDIT_ACTIONS = (
    "user-invite", "user-enable", "user-disable", "user-reset-password", "user-send-invitation",
    "user-add-group", "user-remove-group", "user-logout", "service-restart",
)


def audit_schema(action: str) -> dict:
    """The schema of ``kompose/system/audit/<action>``, version 1."""
    return {
        "type": "object",
        "description": "A write done in the management portal (KMPS), once it ended: who, what, on what, how it went.",
        "properties": {
            "audit_id": {"type": "integer", "minimum": 1, "description": "the row in the portal's audit log"},
            "actor": {"type": "string", "minLength": 1, "description": "the signed-in user (OAuth2 Proxy's name)"},
            "action": {"enum": [action]},
            "target": {"type": "string", "description": "the user or the container acted on"},
            "result": {"enum": ["ok", "failed", "partial"]},
            "detail": {"type": "string", "description": "what failed or was left undone, else empty"},
        },
        "required": ["audit_id", "actor", "action", "target", "result", "detail"],
        "additionalProperties": False,
    }


SCHEMAS.update({"kompose/system/audit/" + action: {1: audit_schema(action)} for action in AUDIT_ACTIONS})

KNOWN_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "enum", "minimum",
        "minLength", "maxLength", "pattern", "format", "description",
    }
)
TYPE_NAMES = ("string", "integer", "number", "boolean", "array", "object", "null")


def known_topics() -> list[str]:
    """Every topic that has a schema, sorted."""
    return sorted(SCHEMAS)


def current_version(topic: str) -> int:
    """The newest schema version of ``topic`` (what sources publish)."""
    return max(_versions(topic))


def schema_for(topic: str, version: int | None = None) -> dict[str, Any]:
    """The schema of ``topic`` at ``version`` (default: the newest); SchemaError if there is none."""
    versions = _versions(topic)
    if version is None:
        version = max(versions)
    if isinstance(version, bool) or version not in versions:
        raise SchemaError(
            f"{topic}: version {show(version)} has no schema (known: {', '.join(map(str, sorted(versions)))})"
        )
    return versions[version]


def validate(topic: str, data: Any, version: int | None = None) -> None:
    """Raise SchemaError naming the topic, the field and the value if ``data`` does not match."""
    if version is None:
        version = current_version(topic)
    schema = schema_for(topic, version)
    for path, value, reason in problems(schema, data, "data"):
        raise SchemaError(f"{topic} v{version}: {path}: {value} {reason}")


def problems(schema: dict[str, Any], value: Any, path: str) -> Iterator[tuple[str, str, str]]:
    """Every mismatch as (field path, shown value, reason), depth first, in field order."""
    unknown = set(schema) - KNOWN_KEYWORDS
    if unknown:
        raise SchemaError(f"{path}: the schema uses unsupported keywords {sorted(unknown)}")
    if "enum" in schema and value not in schema["enum"]:
        yield path, show(value), "is not one of " + ", ".join(show(item) for item in schema["enum"])
        return
    if "type" in schema:
        expected = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, name) for name in expected):
            yield path, show(value), "is not " + " or ".join(_article(name) for name in expected)
            return
    if isinstance(value, str):
        yield from _string_problems(schema, value, path)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            yield path, show(value), f"is below the minimum {schema['minimum']}"
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from problems(schema["items"], item, f"{path}[{index}]")
    elif isinstance(value, dict):
        yield from _object_problems(schema, value, path)


def field_paths(topic: str, version: int | None = None) -> set[str]:
    """The payload's field paths (``data.tags``, ...), for checking references in rules."""
    schema = schema_for(topic, version)
    return {f"data.{name}" for name in schema.get("properties", {})}


def json_schema(topic: str, version: int | None = None) -> dict[str, Any]:
    """The schema as a standalone JSON Schema document (for documentation and other tools)."""
    if version is None:
        version = current_version(topic)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:kompose:event:{topic}:v{version}",
        "title": f"{topic} (version {version})",
        **schema_for(topic, version),
    }


def _versions(topic: str) -> dict[int, dict[str, Any]]:
    if not isinstance(topic, str) or topic not in SCHEMAS:
        raise SchemaError(f"{show(topic)}: unknown topic (known: {', '.join(known_topics())})")
    return SCHEMAS[topic]


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    expected = {"string": str, "boolean": bool, "array": list, "object": dict, "null": type(None)}
    if name not in expected:
        raise SchemaError(f"the schema names the unknown type {name!r} (known: {', '.join(TYPE_NAMES)})")
    return isinstance(value, expected[name])


def _article(name: str) -> str:
    return {"null": "null", "integer": "an integer", "array": "an array", "object": "an object"}.get(name, f"a {name}")


def _string_problems(schema: dict[str, Any], value: str, path: str) -> Iterator[tuple[str, str, str]]:
    if "minLength" in schema and len(value) < schema["minLength"]:
        yield path, show(value), f"is shorter than {schema['minLength']} character(s)"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        yield path, show(value), f"is longer than {schema['maxLength']} characters"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        yield path, show(value), f"does not match {schema['pattern']}"
    if "format" in schema and not _has_format(value, schema["format"]):
        yield path, show(value), f"is not a valid {schema['format']}"


def _object_problems(schema: dict[str, Any], value: dict[str, Any], path: str) -> Iterator[tuple[str, str, str]]:
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            yield f"{path}.{name}", "(absent)", "is missing; it is required"
    for name, item in value.items():
        if name in properties:
            yield from problems(properties[name], item, f"{path}.{name}")
        elif schema.get("additionalProperties", True) is False:
            fields = ", ".join(properties) or "none"
            yield f"{path}.{name}", show(item), f"is not a field of this payload (fields: {fields})"


def _has_format(value: str, name: str) -> bool:
    checks = {
        "date": _check_date,
        "date-time": parse_time,
        "uri": _check_uri,
        "ip": ipaddress.ip_address,
        "uuid": _check_uuid,
    }
    if name not in checks:
        raise SchemaError(f"the schema names the unknown format {name!r} (known: {', '.join(checks)})")
    try:
        checks[name](value)
    except ValueError:
        return False
    return True


def _check_date(value: str) -> None:
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        raise ValueError(value)
    date.fromisoformat(value)


def _check_uri(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(value)


def _check_uuid(value: str) -> None:
    if str(uuid.UUID(value)) != value.lower():
        raise ValueError(value)
