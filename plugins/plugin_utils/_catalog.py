# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service catalog: the seed's wiring diagram as data, and every view derived from it.

``resolve`` merges the inventory's overrides over the built-in catalog, keeps the services of the
enabled stacks, validates every cross-reference and returns one resolved entry per service. The
``*_users``/``*_databases``/``secret_specs`` views turn it into what the roles provision, so a
service is wired by its catalog entry alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SERVICE_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# registry[:port]/path[:tag][@sha256:digest], lower-case path components (the Docker reference grammar)
IMAGE_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
ENTRY_KEYS = frozenset((
    "stack", "enabled", "description", "container", "port", "image", "host", "middleware",
    "postgres", "redis", "mqtt", "metrics", "secrets", "smtp", "oidc",
))


class CatalogError(ValueError):
    pass


def _plain(value):
    """A plain copy of mappings and lists (Ansible passes lazy containers that are slow to deep-copy)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _merge(base, override):
    out = _plain(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = _plain(value)
    return out


def _check_topic(service, key, topic):
    """MQTT topic filter: '#' only last and alone in its level, '+' alone in its level."""
    levels = topic.split("/") if isinstance(topic, str) and topic else None
    ok = levels is not None and all(
        ("#" not in level or (level == "#" and i == len(levels) - 1)) and ("+" not in level or level == "+")
        for i, level in enumerate(levels)
    ) and not any(c.isspace() for c in topic)
    if not ok:
        raise CatalogError("kompose_services.%s.mqtt.%s: %r is not a valid MQTT topic filter" % (service, key, topic))


def validate_domain(domain):
    if not isinstance(domain, str) or not DOMAIN_RE.match(domain):
        raise CatalogError("kompose_domain: %r is not a DNS domain name (lower-case labels joined by dots, "
                           "for example 'pivoine.art')" % (domain,))


def _validate_entry(name, entry, known_stacks, middlewares):
    where = "kompose_services.%s" % name
    if not SERVICE_RE.match(name):
        raise CatalogError("%s: service name %r must match %s" % (where, name, SERVICE_RE.pattern))
    if not isinstance(entry, dict):
        raise CatalogError("%s: expected a mapping, got %r" % (where, entry))
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        raise CatalogError("%s: unknown key(s) %s (known: %s)" % (where, ", ".join(sorted(unknown)), ", ".join(sorted(ENTRY_KEYS))))
    if not isinstance(entry.get("enabled", True), bool):
        raise CatalogError("%s.enabled: %r is not a boolean" % (where, entry["enabled"]))
    if entry.get("stack") not in known_stacks:
        raise CatalogError("%s.stack: %r is not a known stack (%s)" % (where, entry.get("stack"), ", ".join(known_stacks)))
    host = entry.get("host")
    if host is not None and not (isinstance(host, str) and (LABEL_RE.match(host) or DOMAIN_RE.match(host))):
        raise CatalogError("%s.host: %r is neither a DNS label nor a domain name" % (where, host))
    if entry.get("middleware") is not None and middlewares is not None and entry["middleware"] not in middlewares:
        raise CatalogError("%s.middleware: %r is not a defined middleware (%s)" % (where, entry["middleware"], ", ".join(sorted(middlewares))))
    port = entry.get("port")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536):
        raise CatalogError("%s.port: %r is not a TCP port" % (where, port))
    for key in ("publish", "subscribe"):
        for topic in (entry.get("mqtt") or {}).get(key, []):
            _check_topic(name, key, topic)


def resolve(catalog, stacks, domain, images=None, overrides=None, known_stacks=None, middlewares=None):
    """Return {service: entry} for the enabled stacks, with overrides merged and references checked."""
    validate_domain(domain)
    known_stacks = list(known_stacks or sorted({entry.get("stack") for entry in catalog.values()}))
    if not isinstance(stacks, list) or not stacks:
        raise CatalogError("kompose_stacks: %r must be a non-empty list of stacks (%s)" % (stacks, ", ".join(known_stacks)))
    for stack in stacks:
        if stack not in known_stacks:
            raise CatalogError("kompose_stacks: %r is not a known stack (%s)" % (stack, ", ".join(known_stacks)))
    overrides = overrides or {}
    if not isinstance(overrides, dict):
        raise CatalogError("kompose_services: expected a mapping of service name to overrides, got %r" % (overrides,))
    images = images or {}

    resolved = {}
    for name in list(catalog) + [n for n in overrides if n not in catalog]:
        entry = _merge(catalog.get(name, {}), overrides.get(name) or {})
        _validate_entry(name, entry, known_stacks, middlewares)
        if entry["stack"] not in stacks or not entry.get("enabled", True):
            continue
        entry["name"] = name
        if entry.get("host"):
            entry["fqdn"] = entry["host"] if "." in entry["host"] else "%s.%s" % (entry["host"], domain)
        if entry.get("container"):
            image = images.get(name) or entry.get("image")
            if not image:
                raise CatalogError("kompose_images.%s: no image for service %r (stack %s)" % (name, name, entry["stack"]))
            if not isinstance(image, str) or not IMAGE_RE.match(image):
                raise CatalogError("kompose_images.%s: %r is not a valid image reference (name[:tag][@sha256:digest])" % (name, image))
            entry["image"] = image
        resolved[name] = entry
    return resolved


def secret_specs(catalog):
    """Every secret the enabled services need: '<service>-<purpose>' and '<store>-<user>'."""
    specs = []
    for name, entry in sorted(catalog.items()):
        for purpose, spec in sorted((entry.get("secrets") or {}).items()):
            specs.append(dict(spec or {}, name="%s-%s" % (name, purpose)))
    for users in (postgres_databases, redis_users, mqtt_users):
        specs.extend({"name": user["secret"]} for user in users(catalog))
    return specs


def postgres_databases(catalog, secrets=None):
    """One database per service that uses PostgreSQL, owned by a login role of the same name.

    With ``secrets`` (name -> value), returns entries ready for the ``postgres_database`` module's
    ``databases`` option: name, owner, extensions and the owner's password.
    """
    out = []
    for name, entry in sorted(catalog.items()):
        spec = entry.get("postgres")
        if spec is not None:
            database = spec.get("database", name)
            owner = spec.get("owner", database)
            item = {"service": name, "name": database, "owner": owner,
                    "extensions": list(spec.get("extensions", [])), "secret": "postgres-%s" % owner}
            if secrets is not None:
                if item["secret"] not in secrets:
                    raise CatalogError("secret %r of service %r is missing" % (item["secret"], name))
                item = {"name": database, "owner": owner, "extensions": item["extensions"], "password": secrets[item["secret"]]}
            out.append(item)
    return out


def redis_users(catalog):
    """One ACL user per service that uses Redis, limited to its own key patterns and channels."""
    out = []
    for name, entry in sorted(catalog.items()):
        spec = entry.get("redis")
        if spec is not None:
            user = spec.get("user", name)
            out.append({"service": name, "name": user,
                        "keys": list(spec.get("keys", ["%s:*" % name])),
                        "channels": list(spec.get("channels", [])),
                        "commands": list(spec.get("commands", ["+@all", "-@dangerous"])),
                        "secret": "redis-%s" % user})
    return out


def mqtt_users(catalog):
    """One Mosquitto user per service that publishes or subscribes."""
    out = []
    for name, entry in sorted(catalog.items()):
        spec = entry.get("mqtt")
        if spec is not None:
            user = spec.get("user", name)
            out.append({"service": name, "name": user,
                        "publish": list(spec.get("publish", [])), "subscribe": list(spec.get("subscribe", [])),
                        "secret": "mqtt-%s" % user})
    return out
