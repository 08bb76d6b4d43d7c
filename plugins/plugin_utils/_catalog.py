# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service catalog: the seed's wiring diagram as data, and every view derived from it.

``resolve`` merges the inventory's overrides over the built-in catalog, validates every key a
consumer uses, keeps the services of the enabled stacks (checking the stack registry's
requirements), and checks what the enabled services share: the core servers they need, and names
that must be unique (containers, users, databases, secrets). The ``*_users``/``*_databases``/
``secret_specs``/``routes``/``oidc_clients`` views turn it into what the roles provision, so a
service is wired by its catalog entry alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _custom, _hardening
from ansible_collections.pivoine.kompose.plugins.plugin_utils._secrets import KINDS as SECRET_KINDS
from ansible_collections.pivoine.kompose.plugins.plugin_utils._secrets import NAME_RE as SECRET_NAME_RE

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SERVICE_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# registry[:port]/path[:tag][@sha256:digest], lower-case path components (the Docker reference grammar)
IMAGE_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
# lands unquoted in compose YAML and is the service's DNS name on the kompose network
CONTAINER_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
# Redis ACL and Mosquitto user names: one token in users.acl / acl / passwd (no ':', space or newline)
USER_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# unquoted PostgreSQL identifiers (database, role names); extension names may also hold '-' (uuid-ossp)
SQL_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
EXTENSION_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,62}$")
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
PURPOSE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
TARGET_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?:[0-9]{1,5}$")
PATH_RE = re.compile(r"^/[A-Za-z0-9/_.~-]*$")
ENTRY_KEYS = frozenset((
    "stack", "enabled", "description", "container", "port", "image", "host", "middleware",
    "postgres", "redis", "mqtt", "metrics", "secrets", "smtp", "oidc", "paths", "health",
    "gotify", "volumes", "needs", "calls", "egress", "isolated", "hardening", "tcp", "depends_on",
    # a custom stack's service (_custom.py): how to run its container
    "run",
))
VOLUME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
PATH_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
PREFIX_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")
POSTGRES_KEYS = ("database", "owner", "extensions", "roles", "reads")
REDIS_KEYS = ("user", "keys", "channels", "commands")
MQTT_KEYS = ("user", "publish", "subscribe")
METRICS_KEYS = ("target", "port", "path", "scheme")
HEALTH_KEYS = ("path", "port")
OIDC_KEYS = ("client_id", "secret", "redirect_paths", "service_account")
# a Keycloak role name: no whitespace, not empty
ROLE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$")
SECRET_KEYS = ("kind", "length", "rotates")
# entry key -> (the service that provides it, what it is); every such service is in the core stack
SERVERS = (("postgres", "the PostgreSQL server"), ("redis", "the Redis server"), ("mqtt", "the MQTT broker"))
# the services that sign users in: behind an SSO middleware they would redirect to themselves
SIGN_IN_SERVICES = ("keycloak", "oauth2_proxy")
# Traefik's forward-auth endpoint, which every SSO middleware asks
SSO_SERVICE = "oauth2_proxy"
# Every middleware of roles/kompose/vars/main/proxy.yml (__kompose_middlewares) by how much it restricts
# who gets through, the least first. A path inside another path of the same service must use a middleware
# that ranks higher (or the same one), and path routers are prioritised by it: the most protective one
# matching a request wins. A middleware missing here is refused (tests check the two lists agree).
POLICY_RANKS = (
    ("security-headers", "compression", "public"),  # anyone
    ("rate-limit", "public-limited"),  # anyone, rate-limited
    ("ip-allowlist",),  # the internal networks
    ("kompose-sso", "sso-secure"),  # signed-in users
    ("sso-secure-limited",),  # signed-in users, rate-limited
    ("kompose-sso-admin",),  # the admin group
    ("sso-internal-only",),  # the internal networks and the admin group
    ("deny-all",),  # nobody
)
POLICY_RANK = {middleware: rank for rank, names in enumerate(POLICY_RANKS) for middleware in names}
# Traefik router priorities (the highest matching one wins; 0 would mean "by rule length"): a host's own
# router lowest, its path routers by POLICY_RANK then by their longest path, OAuth2 Proxy's /oauth2/ highest.
HOST_PRIORITY = 1
RANK_PRIORITY = 1000
OAUTH2_PRIORITY = RANK_PRIORITY * (len(POLICY_RANKS) + 1)


class CatalogError(ValueError):
    pass


# plain copies of Ansible's lazy containers, and mappings merged key by key
_plain, _merge = _custom.plain, _custom.merge


def _merge_entry(name, base, override):
    """An override merged over a catalog entry: mappings key by key, ``paths`` path by path (by ``name``).

    A path of the override with the name of a catalog path is merged over it (its other keys kept), a new
    name is added; ``enabled: false`` removes that path. So adding a path never drops another one (an
    admin path's protection), and removing one is written down by name.
    """
    out = _merge(base, override)
    if isinstance(base.get("paths"), list) and isinstance(override.get("paths"), list):
        out["paths"] = _merge_paths(base["paths"], override["paths"])
    if isinstance(out.get("paths"), list):
        out["paths"] = _enabled_paths(name, out["paths"])
    return out


def _merge_paths(base, override):
    """The catalog's paths with the override's merged over them by name; new names come last."""
    out = _plain(base)
    names = [path.get("name") if isinstance(path, Mapping) else None for path in out]
    for item in override:
        name = item.get("name") if isinstance(item, Mapping) else None
        if name is not None and name in names:
            index = names.index(name)
            out[index] = _merge(out[index], item)
        else:
            out.append(_plain(item))
            names.append(name)
    return out


def _enabled_paths(service, paths):
    """``paths`` without those switched off (``enabled: false``), and without the ``enabled`` key."""
    out = []
    for index, path in enumerate(paths):
        enabled = path.get("enabled", True) if isinstance(path, Mapping) else True
        if not isinstance(enabled, bool):
            raise CatalogError("kompose_services.%s.paths[%d].enabled: %r is not a boolean (false removes the path %r)"
                               % (service, index, enabled, path.get("name")))
        if not isinstance(path, Mapping):
            out.append(path)  # _check_paths refuses it, naming it
        elif enabled:
            out.append({key: value for key, value in path.items() if key != "enabled"})
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
    if not isinstance(domain, str) or not DOMAIN_RE.fullmatch(domain):
        raise CatalogError("kompose_domain: %r is not a DNS domain name (lower-case labels joined by dots, "
                           "for example 'pivoine.art')" % (domain,))


def _matches(regex, value):
    return isinstance(value, str) and regex.fullmatch(value) is not None


def _check_mapping(where, value, keys, expected=None):
    if not isinstance(value, dict):
        raise CatalogError("%s: expected %s, got %r" % (where, expected or "a mapping with %s" % "/".join(keys), value))
    unknown = set(value) - set(keys)
    if unknown:
        raise CatalogError("%s: unknown key(s) %s (known: %s)" % (where, ", ".join(sorted(map(str, unknown))), ", ".join(sorted(keys))))


def _check_list(where, value, valid, what):
    """A list whose every item is a string ``valid`` accepts; ``what`` names an item in the message."""
    if not isinstance(value, list):
        raise CatalogError("%s: expected a list, got %r" % (where, value))
    for item in value:
        if not (isinstance(item, str) and valid(item)):
            raise CatalogError("%s: %r is not %s" % (where, item, what))


def _word(item):
    return bool(item) and not any(c.isspace() for c in item)


def _postgres_names(name, spec):
    """(database, owner) of a ``postgres`` entry: database defaults to the service name (None: a login
    role only), the owner to the database (or to the service name for a login role)."""
    database = spec.get("database", name)
    owner = spec["owner"] if "owner" in spec else (database if database is not None else name)
    return database, owner


def postgres_names(name, spec):
    """(database, owner) of service ``name``'s ``postgres`` entry (see ``_postgres_names``)."""
    return _postgres_names(name, spec)


def _check_postgres(name, where, spec):
    _check_mapping(where, spec, POSTGRES_KEYS)
    database, owner = _postgres_names(name, spec)
    sql_name = "a valid PostgreSQL name (lower-case letters, digits, _; not starting with a digit; at most 63)"
    if database is not None and not _matches(SQL_NAME_RE, database):
        raise CatalogError("%s.database: %r is not %s" % (where, database, sql_name))
    if not _matches(SQL_NAME_RE, owner):
        raise CatalogError("%s.owner: %r is not %s" % (where, owner, sql_name))
    if owner.startswith("pg_") or owner == "public":
        raise CatalogError("%s.owner: %r is a reserved PostgreSQL role name (public, pg_*)" % (where, owner))
    if "roles" in spec:
        _check_list(where + ".roles", spec["roles"], SQL_NAME_RE.fullmatch, sql_name)
        if owner in spec["roles"]:
            raise CatalogError("%s.roles: %r is the owner role itself" % (where, owner))
    if "reads" in spec:
        _check_list(where + ".reads", spec["reads"], SERVICE_RE.fullmatch, "a service name")
    if "extensions" in spec:
        _check_list(where + ".extensions", spec["extensions"], EXTENSION_RE.fullmatch,
                    "a valid PostgreSQL extension name (lower-case letters, digits, _ -)")
        if database is None and spec["extensions"]:
            raise CatalogError("%s.extensions: %r needs a database (postgres.database is null: a login role only)"
                               % (where, spec["extensions"]))


def _check_redis(name, where, spec):
    _check_mapping(where, spec, REDIS_KEYS)
    user = spec.get("user", name)
    if not _matches(USER_RE, user) or user == "default":
        raise CatalogError("%s.user: %r is not a valid Redis user name (letters, digits, _ . -; not 'default')" % (where, user))
    for key, what in (("keys", "key pattern"), ("channels", "channel pattern"), ("commands", "command rule")):
        if key in spec:
            _check_list("%s.%s" % (where, key), spec[key], _word, "a Redis %s (non-empty, no whitespace)" % what)


def _check_mqtt(name, where, spec):
    _check_mapping(where, spec, MQTT_KEYS)
    user = spec.get("user", name)
    if not _matches(USER_RE, user):
        raise CatalogError("%s.user: %r is not a valid MQTT user name (letters, digits, _ . -)" % (where, user))
    for key in ("publish", "subscribe"):
        topics = spec.get(key, [])
        if not isinstance(topics, list):
            raise CatalogError("%s.%s: expected a list of topic filters, got %r" % (where, key, topics))
        for topic in topics:
            _check_topic(name, key, topic)


def _check_metrics(where, spec):
    _check_mapping(where, spec, METRICS_KEYS)
    target = spec.get("target")
    if target is not None and not (_matches(TARGET_RE, target) and 0 < int(target.rsplit(":", 1)[1]) < 65536):
        raise CatalogError("%s.target: %r is not host:port" % (where, target))
    port = spec.get("port")
    if "port" in spec and (target is not None or isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise CatalogError("%s.port: %r is not a port number (1-65535), or is set beside a target" % (where, port))
    if "path" in spec and not _matches(PATH_RE, spec["path"]):
        raise CatalogError("%s.path: %r is not an absolute URL path" % (where, spec["path"]))
    if "scheme" in spec and spec["scheme"] not in ("http", "https"):
        raise CatalogError("%s.scheme: %r is neither http nor https" % (where, spec["scheme"]))


def _check_health(where, spec):
    """{path, port}: the service's own health endpoint, probed over HTTP inside the network."""
    _check_mapping(where, spec, HEALTH_KEYS)
    if not _matches(PATH_RE, spec.get("path")):
        raise CatalogError("%s.path: %r is not an absolute URL path" % (where, spec.get("path")))
    port = spec.get("port")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536):
        raise CatalogError("%s.port: %r is not a TCP port" % (where, port))


def _check_oidc(where, spec):
    if isinstance(spec, bool):
        return
    _check_mapping(where, spec, OIDC_KEYS, "true, false or a mapping with %s" % "/".join(OIDC_KEYS))
    if "client_id" in spec and not _matches(CLIENT_ID_RE, spec["client_id"]):
        raise CatalogError("%s.client_id: %r is not a valid OIDC client id (letters, digits, _ . -)" % (where, spec["client_id"]))
    if "secret" in spec and not _matches(PURPOSE_RE, spec["secret"]):
        raise CatalogError("%s.secret: %r is not a secret purpose (lower-case letters, digits, _ -)" % (where, spec["secret"]))
    if "redirect_paths" in spec:
        _check_list(where + ".redirect_paths", spec["redirect_paths"], lambda path: path.startswith("/") and _word(path),
                    "an absolute path (starting with /, no whitespace)")
    if "service_account" in spec:
        roles = spec["service_account"]
        if not isinstance(roles, dict) or not roles:
            raise CatalogError("%s.service_account: expected a mapping of role-holding client id to a list of its roles "
                               "(e.g. {realm-management: [view-users]}), got %r" % (where, roles))
        for holder, names in roles.items():
            if not _matches(CLIENT_ID_RE, holder):
                raise CatalogError("%s.service_account: %r is not a client id (letters, digits, _ . -)" % (where, holder))
            _check_list("%s.service_account.%s" % (where, holder), names, lambda role: _matches(ROLE_RE, role), "a role name")


def _check_secrets(where, secrets):
    if not isinstance(secrets, dict):
        raise CatalogError("%s: expected a mapping of purpose to null or {kind, length}, got %r" % (where, secrets))
    for purpose, spec in secrets.items():
        if not _matches(PURPOSE_RE, purpose):
            raise CatalogError("%s: %r is not a secret purpose (lower-case letters, digits, _ -)" % (where, purpose))
        at = "%s.%s" % (where, purpose)
        if spec is None:
            continue
        _check_mapping(at, spec, SECRET_KEYS, "null or a mapping with kind/length/rotates")
        if "rotates" in spec and not isinstance(spec["rotates"], bool):
            raise CatalogError("%s.rotates: %r is not a boolean" % (at, spec["rotates"]))
        if "kind" in spec and spec["kind"] not in SECRET_KINDS:
            raise CatalogError("%s.kind: %r is not one of %s" % (at, spec["kind"], ", ".join(sorted(SECRET_KINDS))))
        length = spec.get("length")
        if length is not None and (not isinstance(length, int) or isinstance(length, bool) or not 16 <= length <= 1024):
            raise CatalogError("%s.length: %r is not a whole number from 16 to 1024" % (at, length))


def _check_hardening(where, spec):
    """{cap_add, read_only, tmpfs, memory, pids, user}: what the container may do (_hardening.py)."""
    try:
        _hardening.check(where, spec)
    except _hardening.HardeningError as exc:
        raise CatalogError(str(exc)) from None


def _validate_entry(name, entry, known_stacks, middlewares):
    """Everything about one entry that does not depend on other services (checked enabled or not)."""
    where = "kompose_services.%s" % name
    if not isinstance(name, str) or not SERVICE_RE.fullmatch(name):
        raise CatalogError("%s: service name %r must match %s" % (where, name, SERVICE_RE.pattern))
    if not isinstance(entry, dict):
        raise CatalogError("%s: expected a mapping, got %r" % (where, entry))
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        raise CatalogError("%s: unknown key(s) %s (known: %s)" % (where, ", ".join(sorted(map(str, unknown))), ", ".join(sorted(ENTRY_KEYS))))
    if not isinstance(entry.get("enabled", True), bool):
        raise CatalogError("%s.enabled: %r is not a boolean" % (where, entry["enabled"]))
    if entry.get("stack") not in known_stacks:
        raise CatalogError("%s.stack: %r is not a known stack (%s)" % (where, entry.get("stack"), ", ".join(known_stacks)))
    host = entry.get("host")
    if host is not None and not (isinstance(host, str) and (LABEL_RE.fullmatch(host) or DOMAIN_RE.fullmatch(host))):
        raise CatalogError("%s.host: %r is neither a DNS label nor a domain name" % (where, host))
    middleware = entry.get("middleware")
    if middleware is not None and not isinstance(middleware, str):
        raise CatalogError("%s.middleware: %r is not a middleware name" % (where, middleware))
    if middleware is not None and middlewares is not None and middleware not in middlewares:
        raise CatalogError("%s.middleware: %r is not a defined middleware (%s)" % (where, middleware, ", ".join(sorted(middlewares))))
    port = entry.get("port")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536):
        raise CatalogError("%s.port: %r is not a TCP port" % (where, port))
    container = entry.get("container")
    if container is not None and not _matches(CONTAINER_RE, container):
        raise CatalogError("%s.container: %r is not a valid container name (letters, digits, _ . -)" % (where, container))
    if entry.get("description") is not None and not isinstance(entry["description"], str):
        raise CatalogError("%s.description: %r is not a string" % (where, entry["description"]))
    if entry.get("smtp") is not None and not isinstance(entry["smtp"], bool):
        raise CatalogError("%s.smtp: %r is not a boolean" % (where, entry["smtp"]))
    for key, check in (("postgres", _check_postgres), ("redis", _check_redis), ("mqtt", _check_mqtt)):
        if entry.get(key) is not None:
            check(name, "%s.%s" % (where, key), entry[key])
    for key, check in (("metrics", _check_metrics), ("health", _check_health), ("oidc", _check_oidc), ("secrets", _check_secrets),
                       ("hardening", _check_hardening)):
        if entry.get(key) is not None:
            check("%s.%s" % (where, key), entry[key])
    if entry.get("paths") is not None:
        _check_paths("%s.paths" % where, entry["paths"], middlewares)
    if entry.get("gotify") is not None:
        _check_list(where + ".gotify", entry["gotify"], PATH_NAME_RE.fullmatch,
                    "a Gotify application name (lower-case letters, digits, -)")
    if entry.get("volumes") is not None:
        _check_list(where + ".volumes", entry["volumes"], VOLUME_RE.fullmatch,
                    "a compose volume name of the service (lower-case letters, digits, _ . -)")
    if entry.get("needs") is not None:
        _check_list(where + ".needs", entry["needs"], SERVICE_RE.fullmatch, "a service name")
    if entry.get("calls") is not None:
        _check_list(where + ".calls", entry["calls"], SERVICE_RE.fullmatch, "a service name")
    if entry.get("depends_on") is not None:
        _check_list(where + ".depends_on", entry["depends_on"], SERVICE_RE.fullmatch, "a service name")
    for flag in ("egress", "isolated"):
        if entry.get(flag) is not None and not isinstance(entry[flag], bool):
            raise CatalogError("%s.%s: %r is not a boolean" % (where, flag, entry[flag]))
    tcp = entry.get("tcp")
    if tcp is not None and (not isinstance(tcp, int) or isinstance(tcp, bool) or not 0 < tcp < 65536 or tcp in (80, 443, 8080)):
        raise CatalogError("%s.tcp: %r is not a TCP port for its TLS entry point (not 80, 443 or 8080: Traefik's own)"
                           % (where, tcp))
    if tcp is not None and (entry.get("paths") or entry.get("oidc") or entry.get("middleware")):
        raise CatalogError("%s.tcp: %r, but a TCP route has no paths, middleware or OIDC client (HTTP only)" % (where, tcp))
    if entry.get("oidc"):
        purpose = entry["oidc"].get("secret", "oidc") if isinstance(entry["oidc"], Mapping) else "oidc"
        if purpose not in (entry.get("secrets") or {}):
            raise CatalogError("%s.oidc: the client secret is the secret %r, which is not declared: add %s.secrets.%s "
                               "(for example `secrets: {%s: {}}`)" % (where, purpose, where, purpose, purpose))


def policy_rank(middleware, where):
    """POLICY_RANK of a middleware; ``where`` names the key that chose it."""
    if middleware not in POLICY_RANK:
        raise CatalogError("%s: %r has no rank in the access policy order (_catalog.POLICY_RANKS: %s); add it there"
                           % (where, middleware, ", ".join(sorted(POLICY_RANK))))
    return POLICY_RANK[middleware]


def _inside(matcher, other):
    """Whether every request ``matcher`` ((kind, value): a prefix or an exact path) takes, ``other`` takes too."""
    kind, value = matcher
    other_kind, other_value = other
    if other_kind == "prefixes":
        return value.startswith(other_value)  # Traefik's PathPrefix compares characters, not segments
    return kind == "exact" and value == other_value


def _check_overlaps(where, paths):
    """A prefix or path inside another one of the service's paths (or equal to it) with another middleware
    must rank higher: otherwise a public path would open part of a protected one."""
    matchers = [(index, path["middleware"], (kind, value))
                for index, path in enumerate(paths) for kind in ("prefixes", "exact") for value in path.get(kind, [])]
    for index, middleware, matcher in matchers:
        for other_index, other_middleware, other in matchers:
            if other_index == index or other_middleware == middleware or not _inside(matcher, other):
                continue
            rank = policy_rank(middleware, "%s[%d].middleware" % (where, index))
            if rank <= policy_rank(other_middleware, "%s[%d].middleware" % (where, other_index)):
                raise CatalogError(
                    "%s[%d].%s: %r (middleware %r) is inside %s[%d].%s %r (middleware %r) but not more protective: "
                    "a path inside another one needs the same middleware or one that protects more (%s)"
                    % (where, index, matcher[0], matcher[1], middleware, where, other_index, other[0], other[1],
                       other_middleware, " < ".join("/".join(names) for names in POLICY_RANKS)))


def _check_paths(where, paths, middlewares):
    """Per-path access policy: [{name, prefixes, exact, middleware}], each a router of its own on the host.

    ``prefixes`` match path prefixes, ``exact`` whole paths (the query string aside); at least one is given.
    A path inside another one needs a more protective middleware (_check_overlaps).
    """
    if not isinstance(paths, list):
        raise CatalogError("%s: expected a list of {name, prefixes, exact, middleware}, got %r" % (where, paths))
    names = set()
    for index, path in enumerate(paths):
        here = "%s[%d]" % (where, index)
        if not isinstance(path, Mapping) or not {"name", "middleware"} <= set(path) <= {"name", "prefixes", "exact", "middleware"} \
                or not ({"prefixes", "exact"} & set(path)):
            raise CatalogError("%s: expected a mapping with name, middleware and prefixes and/or exact, got %r" % (here, path))
        if not _matches(PATH_NAME_RE, path["name"]) or path["name"] in names:
            raise CatalogError("%s.name: %r is not a unique path name (lower-case letters, digits, -)" % (here, path["name"]))
        names.add(path["name"])
        for key, what in (("prefixes", "URL path prefixes"), ("exact", "URL paths")):
            values = path.get(key, [])
            if not isinstance(values, list) or (key in path and not values) or not all(_matches(PREFIX_RE, p) for p in values):
                raise CatalogError("%s.%s: %r is not a non-empty list of %s (starting with /)" % (here, key, values, what))
        if not isinstance(path["middleware"], str) or (middlewares is not None and path["middleware"] not in middlewares):
            raise CatalogError("%s.middleware: %r is not a defined middleware (%s)" % (here, path["middleware"], ", ".join(sorted(middlewares or []))))
    _check_overlaps(where, paths)


def _stack_registry(catalog, registry):
    """{stack: [required stacks]} in the registry's order (without one: the catalog's stacks, sorted)."""
    if registry is None:
        return {stack: [] for stack in sorted({entry.get("stack") for entry in catalog.values()
                                               if isinstance(entry, Mapping) and isinstance(entry.get("stack"), str)})}
    if not isinstance(registry, (list, tuple)):
        raise CatalogError("stack registry: expected a list of {name, requires}, got %r" % (registry,))
    out = {}
    for item in registry:
        name = item.get("name") if isinstance(item, Mapping) else None
        requires = item.get("requires") or [] if isinstance(item, Mapping) else None
        if not isinstance(name, str) or not isinstance(requires, (list, tuple)) or not all(isinstance(r, str) for r in requires):
            raise CatalogError("stack registry: %r is not a mapping with a name and a list of required stacks" % (item,))
        if name in out:
            raise CatalogError("stack registry: stack %r is listed twice" % (name,))
        out[name] = list(requires)
    for name, requires in out.items():
        for required in requires:
            if required not in out:
                raise CatalogError("stack registry: stack %r requires %r, which is not a known stack (%s)"
                                   % (name, required, ", ".join(out)))
    return out


def _check_needs(resolved, entries):
    """What an enabled service cannot work without: a host for its routes and its client, the services it
    names in ``needs`` (a sidecar its app, an exporter its server), OAuth2 Proxy its Keycloak client."""
    for name, entry in sorted(resolved.items()):
        where = "kompose_services.%s" % name
        for key, what in (("oidc", "its Keycloak client redirects there"), ("paths", "its path routers are on it"),
                          ("tcp", "its TLS certificate and route are for it")):
            if entry.get(key) and not entry.get("host"):
                raise CatalogError("%s.host: %r, but the service needs a host name (%s.%s: %s)"
                                   % (where, entry.get("host"), where, key, what))
        for called in entry.get("calls") or []:
            if called not in entries:
                raise CatalogError("%s.calls: %r is not a service of the catalog (%s)" % (where, called, ", ".join(sorted(entries))))
        for needed in entry.get("needs") or []:
            if needed not in resolved:
                stack = (entries.get(needed) or {}).get("stack")
                raise CatalogError("%s.needs: %r%s is not enabled: enable it, or switch %s off with %s.enabled: false"
                                   % (where, needed, " (of the %s stack)" % stack if stack else "", name, where))
    if SSO_SERVICE in resolved and not resolved[SSO_SERVICE].get("oidc"):
        raise CatalogError("kompose_services.%s.oidc: %r, but OAuth2 Proxy signs users in with a Keycloak client of "
                           "its own: set it (true or {client_id, secret, redirect_paths})"
                           % (SSO_SERVICE, resolved[SSO_SERVICE].get("oidc")))


def check_given_secrets(secrets):
    """Secrets an inventory gives (``kompose_secrets``) go into env files, single-quoted (Compose reads them
    literally), and config files: each must be a non-empty string of one line without a single quote, and not
    end in a backslash (Compose would read ``\\'`` as an escaped quote). Errors name the secret, never its value."""
    if secrets is None:
        return
    if not isinstance(secrets, Mapping):
        raise CatalogError("kompose_secrets: expected a mapping of secret name to value, got %s" % type(secrets).__name__)
    for name, value in sorted(secrets.items(), key=lambda item: str(item[0])):
        if not isinstance(value, str) or not value or any(char in value for char in "'\r\n") or value.endswith("\\"):
            raise CatalogError("kompose_secrets[%r]: a given secret must be a non-empty string of one line without a "
                               "single quote, not ending in a backslash (it is written single-quoted into env files, "
                               "where Compose reads it literally); the value is not shown" % (name,))


def _check_depends_on(resolved, entries):
    """``depends_on``: services of the same stack, with a container, that Compose starts first and waits for
    until they are healthy (a dependency that is not enabled is left out); no service waits for itself,
    directly or through others. Keeps only the enabled ones in each entry."""
    for name, entry in sorted(resolved.items()):
        where = "kompose_services.%s.depends_on" % name
        for dependency in entry.get("depends_on") or []:
            other = entries.get(dependency)
            if other is None:
                raise CatalogError("%s: %r is not a service of the catalog (%s)" % (where, dependency, ", ".join(sorted(entries))))
            if other.get("stack") != entry["stack"]:
                raise CatalogError("%s: %r is in the %s stack, but Compose waits only for a service of the same stack (%s)"
                                   % (where, dependency, other.get("stack"), entry["stack"]))
            if not other.get("container") or not entry.get("container"):
                raise CatalogError("%s: %r, but only a container waits for a container (%s has none)"
                                   % (where, dependency, name if not entry.get("container") else dependency))
        if entry.get("depends_on") is not None:
            entry["depends_on"] = [dependency for dependency in entry["depends_on"] if dependency in resolved]
    cycle = _wait_cycle(resolved)
    if cycle:
        raise CatalogError("kompose_services.%s.depends_on: the services wait for each other (%s)"
                           % (cycle[0], " -> ".join(cycle)))


def _wait_cycle(resolved):
    """A chain of ``depends_on`` that comes back to its start ([a, b, a]), or None."""
    state = {}  # name -> "open" while its dependencies are visited, then "done"

    def visit(chain):
        state[chain[-1]] = "open"
        for dependency in resolved[chain[-1]].get("depends_on") or []:
            if state.get(dependency) == "open":
                return chain[chain.index(dependency):] + [dependency]
            found = None if dependency in state else visit(chain + [dependency])
            if found:
                return found
        state[chain[-1]] = "done"
        return None

    for name in sorted(resolved):
        found = None if name in state else visit([name])
        if found:
            return found
    return None


def _check_enabled(resolved, entries):
    """What the enabled services share: the core servers they need, unique names and secret names."""
    _check_needs(resolved, entries)
    _check_depends_on(resolved, entries)
    for name, entry in sorted(resolved.items()):
        for key, server in SERVERS:
            if entry.get(key) is not None and key not in resolved:
                stack = (entries.get(key) or {}).get("stack") or "core"
                raise CatalogError("kompose_services.%s.%s: needs %s (service %r of the %s stack), which is not enabled"
                                   % (name, key, server, key, stack))
    for name, entry in sorted(resolved.items()):
        for read in (entry.get("postgres") or {}).get("reads", []):
            target = resolved.get(read)
            if target is None or target.get("postgres") is None or _postgres_names(read, target["postgres"])[0] is None:
                raise CatalogError("kompose_services.%s.postgres.reads: %r is not an enabled service with a PostgreSQL "
                                   "database" % (name, read))
    for name, entry in sorted(resolved.items()):
        if entry.get("gotify") and "gotify" not in resolved:
            raise CatalogError("kompose_services.%s.gotify: needs Gotify (service 'gotify' of the messaging stack), "
                               "which is not enabled: enable the messaging stack, or switch the service off with "
                               "kompose_services.%s.enabled: false" % (name, name))
    claimed = {}
    # built-in services first: a clash names the custom service (its declaration is the one to change)
    for name, entry in sorted(resolved.items(), key=lambda item: ("run" in item[1], item[0])):
        claims = []
        if entry.get("container") is not None:
            claims.append(("container", entry["container"], "the container"))
        if entry.get("fqdn") is not None:
            # one router per host (a service's other paths are its `paths`)
            claims.append(("host", entry["fqdn"], "the host name"))
        if entry.get("postgres") is not None:
            database, owner = _postgres_names(name, entry["postgres"])
            if database is not None:
                claims.append(("postgres.database", database, "the PostgreSQL database"))
            claims.append(("postgres.owner", owner, "the PostgreSQL owner"))
        if entry.get("redis") is not None:
            claims.append(("redis.user", entry["redis"].get("user", name), "the Redis user"))
        if entry.get("mqtt") is not None:
            claims.append(("mqtt.user", entry["mqtt"].get("user", name), "the MQTT user"))
        for application in entry.get("gotify") or []:
            claims.append(("gotify", application, "the Gotify application"))
        for key, value, what in claims:
            other = claimed.setdefault((key, value), name)
            if other != name:
                raise CatalogError("kompose_services.%s.%s: %r is already %s of service %s" % (name, key, value, what, other))
    used = {}
    for secret, dummy, address, value in _secret_sources(resolved):
        if not SECRET_NAME_RE.fullmatch(secret):
            raise CatalogError("%s: %r needs the secret %r, which is not a valid secret name (lower-case letters, digits, _ . -)"
                               % (address, value, secret))
        if secret in used:
            raise CatalogError("%s: %r needs the secret %r, which %s already uses" % (address, value, secret, used[secret]))
        used[secret] = "%s.%s" % (address, value) if address.endswith(".secrets") else address


def resolve(catalog, stacks, domain, images=None, overrides=None, registry=None, middlewares=None, secrets=None):
    """Return {service: entry} for the enabled stacks, with overrides merged and references checked.

    ``registry`` is the ordered list of stacks, ``{name, requires}``: its names are the known stacks, and an
    enabled stack's required stacks must be enabled too; its custom stacks (``custom: true``, from
    ``kompose_custom_stacks``: _custom.py) are enabled by being declared. ``overrides`` is
    ``kompose_services``, or a list of them (its layers: the group's, then a host's ``kompose_services__*``),
    merged in that order. ``secrets``, the inventory's ``kompose_secrets``, is checked by check_given_secrets.
    An error about a custom service names its declaration (``kompose_custom_stacks.<stack>.services.<name>``).
    """
    where = _custom.origins(registry if isinstance(registry, (list, tuple)) else None)
    # an override of a custom service names kompose_services: checked before errors are relocated
    layers = _override_layers(overrides, where)
    try:
        return _resolve(catalog, stacks, domain, images, layers, registry, middlewares, secrets, where)
    except (CatalogError, _custom.CustomError) as exc:
        raise CatalogError(_custom.relocate(str(exc), where)) from None


def _override_layers(overrides, custom):
    """``kompose_services`` (or its layers) as a list of mappings; a custom service is changed where it is declared."""
    layers = [overrides] if overrides is None or isinstance(overrides, Mapping) else overrides
    if not isinstance(layers, (list, tuple)):
        raise CatalogError("kompose_services: expected a mapping of service name to overrides, got %r" % (overrides,))
    out = []
    for layer in layers:
        layer = layer or {}
        if not isinstance(layer, Mapping):
            raise CatalogError("kompose_services: expected a mapping of service name to overrides, got %r" % (layer,))
        for name in layer:
            if name in custom:
                raise CatalogError("kompose_services.%s: %r is a service of a custom stack: change it where it is declared, "
                                   "%s (or a kompose_custom_stacks__* variable)" % (name, name, custom[name]))
        out.append(layer)
    return out


def _resolve(catalog, stacks, domain, images, layers, registry, middlewares, secrets, custom):
    validate_domain(domain)
    check_given_secrets(secrets)
    if not isinstance(catalog, Mapping):
        raise CatalogError("service catalog: expected a mapping of service name to entry, got %r" % (catalog,))
    known = _stack_registry(catalog, registry)
    known_stacks = list(known)
    if not isinstance(stacks, list) or not stacks:
        raise CatalogError("kompose_stacks: %r must be a non-empty list of stacks (%s)" % (stacks, ", ".join(known_stacks)))
    custom_stacks = [item["name"] for item in registry or [] if isinstance(item, Mapping) and item.get("custom")]
    for stack in stacks:
        if not isinstance(stack, str) or stack not in known:
            raise CatalogError("kompose_stacks: %r is not a known stack (%s)" % (stack, ", ".join(known_stacks)))
        if stack in custom_stacks:
            raise CatalogError("kompose_stacks: %r is a custom stack: it runs because kompose_custom_stacks declares it "
                               "(set its enabled: false to leave it out)" % (stack,))
    stacks = list(stacks) + custom_stacks
    for stack in stacks:
        for required in known[stack]:
            if required not in stacks and stack in custom_stacks:
                raise CatalogError("kompose_custom_stacks.%s: needs the %s stack%s, which is not in kompose_stacks (%s)"
                                   % (stack, required, " (its services keep data in its servers)" if required == "core" else "",
                                      ", ".join(s for s in stacks if s not in custom_stacks)))
            if required not in stacks:
                raise CatalogError("kompose_stacks: stack %r needs %r, which is not enabled" % (stack, required))
    images = images or {}
    if not isinstance(images, Mapping):
        raise CatalogError("kompose_images: expected a mapping of service name to image, got %r" % (images,))
    if middlewares is not None and not (isinstance(middlewares, (list, tuple)) and all(isinstance(m, str) for m in middlewares)):
        raise CatalogError("middlewares: expected a list of middleware names, got %r" % (middlewares,))

    entries = {}
    resolved = {}
    names = list(catalog)
    for layer in layers:
        names += [n for n in layer if n not in names]
    for name in names:
        base = catalog.get(name, {})
        if not isinstance(base, Mapping):
            raise CatalogError("service catalog: entry %r: expected a mapping, got %r" % (name, base))
        entry = _plain(base)
        for layer in layers:
            override = layer.get(name)
            if override is not None and not isinstance(override, Mapping):
                raise CatalogError("kompose_services.%s: expected a mapping, got %r" % (name, override))
            if override is not None:
                entry = _merge_entry(name, entry, override)
        if isinstance(entry.get("paths"), list):
            entry["paths"] = _enabled_paths(name, entry["paths"])
        _validate_entry(name, entry, known_stacks, middlewares)
        if "run" in entry and name not in custom:
            raise CatalogError("kompose_services.%s.run: only a service of a custom stack (kompose_custom_stacks) has one" % name)
        entries[name] = entry
        if entry["stack"] not in stacks or not entry.get("enabled", True):
            continue
        entry["name"] = name
        if entry.get("host"):
            entry["fqdn"] = entry["host"] if "." in entry["host"] else "%s.%s" % (entry["host"], domain)
        if entry.get("container"):
            image = images.get(name) or entry.get("image")
            if not image:
                raise CatalogError("kompose_images.%s: no image for service %r (stack %s)" % (name, name, entry["stack"]))
            if not isinstance(image, str) or not IMAGE_RE.fullmatch(image):
                raise CatalogError("kompose_images.%s: %r is not a valid image reference (name[:tag][@sha256:digest])" % (name, image))
            entry["image"] = image
        resolved[name] = entry
    _check_enabled(resolved, entries)
    _custom.check(resolved)
    return resolved


def _entries(catalog):
    """The resolved catalog's (name, entry) pairs, sorted by name."""
    if not isinstance(catalog, Mapping) or not all(isinstance(entry, Mapping) for entry in catalog.values()):
        raise CatalogError("expected the resolved catalog (a mapping of service name to entry), got %s" % type(catalog).__name__)
    return sorted(catalog.items())


def _secret_sources(catalog):
    """(secret name, spec, address, value) of every secret the services need, in secret_specs' order."""
    out = []
    for name, entry in _entries(catalog):
        for purpose, spec in sorted((entry.get("secrets") or {}).items()):
            out.append(("%s-%s" % (name, purpose), spec or {}, "kompose_services.%s.secrets" % name, purpose))
    for users, key in ((postgres_databases, "postgres.owner"), (redis_users, "redis.user"), (mqtt_users, "mqtt.user")):
        for user in users(catalog):
            value = user["owner"] if key == "postgres.owner" else user["name"]
            out.append((user["secret"], {}, "kompose_services.%s.%s" % (user["service"], key), value))
    return out


def secret_specs(catalog):
    """Every secret the enabled services need, once: '<service>-<purpose>' and '<store>-<user>'."""
    specs = {}
    for secret, spec, dummy, dummy2 in _secret_sources(catalog):
        specs.setdefault(secret, dict({key: value for key, value in spec.items() if key != "rotates"}, name=secret))
    return list(specs.values())


# The core servers' own administrators: rotated with the server's own mechanism before the store changes.
ADMIN_SECRETS = {"postgres-superuser": "postgres_superuser", "redis-admin": "redis_admin"}


def rotations(catalog):
    """How each secret of the enabled services rotates: secret name -> {kind, service, ...}.

    kind is ``postgres`` (a login role: ``role``, ``database`` it can sign in to), ``postgres_superuser``,
    ``redis`` (``user``), ``redis_admin``, ``mqtt`` (``user``), ``oidc`` (a Keycloak client: ``client_id``),
    ``gotify`` (an application token Gotify issues: ``application``), ``restart`` (``rotates: true`` in the
    catalog: the service reads it on every start) or ``once`` (read only when the service first starts:
    not rotatable by the collection).
    """
    out = {}
    for secret, spec, address, dummy in _secret_sources(catalog):
        service = address.split(".")[1]  # kompose_services.<service>.<key>
        out[secret] = {"kind": "restart" if spec.get("rotates") else "once", "service": service}
    for secret, kind in ADMIN_SECRETS.items():
        if secret in out:
            out[secret]["kind"] = kind
    for item in postgres_databases(catalog):
        out[item["secret"]] = {"kind": "postgres", "service": item["service"], "role": item["owner"],
                               "database": item["name"] or "postgres"}
    for item in redis_users(catalog):
        out[item["secret"]] = {"kind": "redis", "service": item["service"], "user": item["name"]}
    for item in mqtt_users(catalog):
        out[item["secret"]] = {"kind": "mqtt", "service": item["service"], "user": item["name"]}
    for item in oidc_clients(catalog):
        out[item["secret_name"]] = {"kind": "oidc", "service": item["service"], "client_id": item["client"]["clientId"]}
    for item in gotify_applications(catalog):
        out[item["secret"]] = {"kind": "gotify", "service": item["service"], "application": item["name"]}
    return dict(sorted(out.items()))


def postgres_databases(catalog, secrets=None):
    """One database per service that uses PostgreSQL, owned by a login role of its own.

    ``database: null`` is a login role only (``name`` None). ``roles`` are roles the owner is made a member
    of (e.g. ``pg_monitor``); ``reads`` services whose databases the owner may read (each such database
    lists it in ``readers``). Login roles only come first, so that the databases they read can name them.
    With ``secrets`` (name -> value), returns entries ready for the ``postgres_database`` module's
    ``databases`` option: name (absent for a login role only), owner, extensions, owner_roles, readers and
    the owner's password.
    """
    if secrets is not None and not isinstance(secrets, Mapping):
        raise CatalogError("secrets: expected a mapping of secret name to value, got %s" % type(secrets).__name__)
    readers = {}
    for name, entry in _entries(catalog):
        spec = entry.get("postgres")
        for read in (spec or {}).get("reads", []):
            readers.setdefault(read, []).append(_postgres_names(name, spec)[1])
    out = []
    for name, entry in _entries(catalog):
        spec = entry.get("postgres")
        if spec is None:
            continue
        database, owner = _postgres_names(name, spec)
        item = {"service": name, "name": database, "owner": owner, "extensions": list(spec.get("extensions", [])),
                "roles": list(spec.get("roles", [])), "readers": sorted(readers.get(name, [])),
                "secret": "postgres-%s" % owner}
        if secrets is not None:
            if item["secret"] not in secrets:
                raise CatalogError("secret %r of service %r is missing" % (item["secret"], name))
            # a login role only has no database, so neither name, extensions nor readers
            item = dict({"name": database, "extensions": item["extensions"], "readers": item["readers"]}
                        if database is not None else {},
                        owner=owner, owner_roles=item["roles"], password=secrets[item["secret"]])
        out.append(item)
    return sorted(out, key=lambda item: item.get("name") is not None)


def redis_users(catalog, secrets=None):
    """One ACL user per service that uses Redis, limited to its own key patterns and channels.

    With ``secrets`` (name -> value), returns entries ready for the ``redis_acl`` module's
    ``users`` option: name, password, keys, channels, commands.
    """
    out = []
    for name, entry in _entries(catalog):
        spec = entry.get("redis")
        if spec is not None:
            user = spec.get("user", name)
            item = {"service": name, "name": user,
                    "keys": list(spec.get("keys", ["%s:*" % name])),
                    "channels": list(spec.get("channels", [])),
                    "commands": list(spec.get("commands", ["+@all", "-@dangerous"])),
                    "secret": "redis-%s" % user}
            if secrets is not None:
                if not isinstance(secrets, Mapping):
                    raise CatalogError("secrets: expected a mapping of secret name to value, got %s" % type(secrets).__name__)
                if item["secret"] not in secrets:
                    raise CatalogError("secret %r of service %r is missing" % (item["secret"], name))
                item = {key: item[key] for key in ("name", "keys", "channels", "commands")}
                item["password"] = secrets["redis-%s" % user]
            out.append(item)
    return out


def mqtt_users(catalog):
    """One Mosquitto user per service that publishes or subscribes."""
    out = []
    for name, entry in _entries(catalog):
        spec = entry.get("mqtt")
        if spec is not None:
            user = spec.get("user", name)
            out.append({"service": name, "name": user,
                        "publish": list(spec.get("publish", [])), "subscribe": list(spec.get("subscribe", [])),
                        "secret": "mqtt-%s" % user})
    return out


def routes(catalog, default_middleware, sso_middlewares, internal_services):
    """Traefik routes of the enabled services with a host name and something to forward to, sorted by name.

    Each is {name, fqdn, prefixes, exact, middleware, sso, oauth2, oauth2_priority, service, url, priority}:
    ``middleware`` is the entry's or ``default_middleware``; ``sso`` whether it is one of ``sso_middlewares``;
    ``oauth2`` marks the one route per host that also gets OAuth2 Proxy's ``/oauth2/`` route (when any route
    of the host uses SSO), ``oauth2_priority`` that router's priority (OAUTH2_PRIORITY, else None). A service
    named in ``internal_services`` (service -> Traefik service, e.g. ``api@internal``) is served by Traefik
    itself (``url`` empty), any other is forwarded to ``http://<container>:<port>``. Each entry of the
    service's ``paths`` is one more route, ``<service>-<path name>``, for those path prefixes and exact paths
    on the same host with its own middleware (``prefixes`` and ``exact`` are empty for the host's own route;
    path routes share its service, ``url`` empty).

    ``priority`` is the router's Traefik priority (the highest matching one wins; without it Traefik ranks
    by the length of the rule): HOST_PRIORITY for the host's own route, below its path routes; a path
    route's is RANK_PRIORITY times one more than its middleware's POLICY_RANK, plus the length of its
    longest path (at most RANK_PRIORITY - 1). So of two path routes that match a request the more protective
    one wins, and the longer path among equally protective ones.
    """
    if not isinstance(default_middleware, str) or not default_middleware:
        raise CatalogError("default_middleware: %r is not a middleware name" % (default_middleware,))
    if not isinstance(sso_middlewares, (list, tuple)) or not all(isinstance(m, str) for m in sso_middlewares):
        raise CatalogError("sso_middlewares: expected a list of middleware names, got %r" % (sso_middlewares,))
    if not isinstance(internal_services, Mapping) or not all(isinstance(s, str) for s in internal_services.values()):
        raise CatalogError("internal_services: expected a mapping of service name to Traefik service, got %r" % (internal_services,))
    out = []
    for name, entry in _entries(catalog):
        internal = name in internal_services
        if entry.get("fqdn") is None or entry.get("tcp") or not (
                internal or entry.get("container") is not None and entry.get("port") is not None):
            continue
        middleware = entry.get("middleware") or default_middleware
        service = internal_services[name] if internal else name
        host_routes = [{
            "name": name,
            "fqdn": entry["fqdn"],
            "prefixes": [],
            "exact": [],
            "middleware": middleware,
            "sso": middleware in sso_middlewares,
            "service": service,
            "url": "" if internal else "http://%s:%s" % (entry["container"], entry["port"]),
            "priority": HOST_PRIORITY,
        }]
        for index, path in enumerate(entry.get("paths") or []):
            matched = list(path.get("prefixes", [])) + list(path.get("exact", []))
            rank = policy_rank(path["middleware"], "kompose_services.%s.paths[%d].middleware" % (name, index))
            host_routes.append({"name": "%s-%s" % (name, path["name"]), "fqdn": entry["fqdn"],
                                "prefixes": list(path.get("prefixes", [])), "exact": list(path.get("exact", [])),
                                "middleware": path["middleware"], "sso": path["middleware"] in sso_middlewares,
                                "service": service, "url": "",
                                "priority": RANK_PRIORITY * (rank + 1) + min(max(map(len, matched), default=0), RANK_PRIORITY - 1)})
        for index, route in enumerate(host_routes):
            route["oauth2"] = False
            route["oauth2_priority"] = None
            route["where"] = ("kompose_services.%s.paths[%d].middleware" % (name, index - 1) if index
                              else "kompose_services.%s.middleware" % name if entry.get("middleware")
                              else "proxy_default_middleware (for %s)" % name)
        sso_routes = [route for route in host_routes if route["sso"]]
        if sso_routes:
            sso_routes[0]["oauth2"] = True
            sso_routes[0]["oauth2_priority"] = OAUTH2_PRIORITY
        out.extend(host_routes)
    _check_sso(catalog, out)
    for route in out:
        del route["where"]
    return out


def tcp_routes(catalog):
    """TLS-terminated TCP routes of the enabled services with ``tcp`` (the public port of their entry point),
    a host and a container, sorted by name: {name, fqdn, port, address}. Traefik terminates TLS with the
    host's certificate and forwards the plain stream to ``<container>:<port>`` (e.g. MQTT for devices)."""
    return [{"name": name, "fqdn": entry["fqdn"], "port": entry["tcp"], "address": "%s:%s" % (entry["container"], entry["port"])}
            for name, entry in _entries(catalog)
            if entry.get("tcp") and entry.get("fqdn") and entry.get("container") and entry.get("port")]


def _check_sso(catalog, routes):
    """An SSO middleware asks OAuth2 Proxy, which must run; the sign-in services themselves are never behind one."""
    sso = [route for route in routes if route["sso"]]
    if sso and SSO_SERVICE not in catalog:
        raise CatalogError("%s needs OAuth2 Proxy: add the auth stack to kompose_stacks, or choose a middleware without SSO."
                           % "; ".join("%s: %r" % (route["where"], route["middleware"]) for route in sso))
    loops = [route for route in sso if route["service"] in SIGN_IN_SERVICES]
    if loops:
        raise CatalogError("%s would send the sign-in pages through SSO (a redirect loop): choose a middleware without SSO."
                           % "; ".join("%s: %r" % (route["where"], route["middleware"]) for route in loops))


def gotify_applications(catalog):
    """The Gotify applications the enabled services post as, sorted by service: {service, name, secret}.

    Gotify issues each token itself (the secret store keeps it as ``gotify-token-<name>``), so these are
    not generated secrets.
    """
    return [{"service": name, "name": application, "secret": "gotify-token-%s" % application}
            for name, entry in _entries(catalog) for application in entry.get("gotify") or []]


def oidc_clients(catalog):
    """One confidential Keycloak client per enabled service with ``oidc``, sorted by service name.

    ``oidc: true`` or {client_id, secret, redirect_paths, service_account}: the client id defaults to the
    service name with '-' for '_', the client secret is the secret ``<service>-<secret>`` (default purpose
    ``oidc``), the redirect URIs are ``redirect_paths`` (default ``/*``) under ``https://<fqdn>``; no
    redirect path (``[]``) is a client that signs no user in (no browser flow). ``service_account``
    ({holder client id: [role, ...]}) turns on the client's service account (the client-credentials
    grant) with exactly those client roles. Each is {service, host, secret_name, secret_path, client,
    service_account_roles}, ``client`` a Keycloak client representation without its secret,
    ``service_account_roles`` the roles (``{}`` without a service account).
    """
    out = []
    for name, entry in _entries(catalog):
        oidc = entry.get("oidc")
        if not oidc:
            continue
        oidc = oidc if isinstance(oidc, Mapping) else {}
        client_id = oidc.get("client_id", name.replace("_", "-"))
        purpose = oidc.get("secret", "oidc")
        host = entry.get("fqdn", "")
        base = "https://" + host
        description = entry.get("description")
        redirects = [base + path for path in oidc.get("redirect_paths", ["/*"])]
        roles = {holder: sorted(set(names)) for holder, names in (oidc.get("service_account") or {}).items()}
        out.append({
            "service": name,
            "host": host,
            "secret_name": "%s-%s" % (name, purpose),
            "secret_path": "kompose_services.%s.secrets.%s" % (name, purpose),
            "service_account_roles": roles,
            "client": {
                "clientId": client_id,
                "name": name if description is None else description,
                "enabled": True,
                "protocol": "openid-connect",
                "publicClient": False,
                "clientAuthenticatorType": "client-secret",
                "standardFlowEnabled": bool(redirects),
                "implicitFlowEnabled": False,
                "directAccessGrantsEnabled": False,
                "serviceAccountsEnabled": bool(roles),
                "rootUrl": base,
                "baseUrl": base + "/",
                "redirectUris": redirects,
                "webOrigins": [base] if redirects else [],
                "attributes": {"post.logout.redirect.uris": base + "/*"},
                "protocolMappers": [
                    {"name": "audience", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
                     "consentRequired": False,
                     # every claim switch explicit: Keycloak fills in the ones a new mapper lacks
                     # (userinfo true), and the next reconcile would "change" them back
                     "config": {"included.client.audience": client_id, "id.token.claim": "true",
                                "access.token.claim": "true", "introspection.token.claim": "true",
                                "userinfo.token.claim": "false"}},
                    {"name": "groups", "protocol": "openid-connect", "protocolMapper": "oidc-group-membership-mapper",
                     "consentRequired": False,
                     # multivalued: Keycloak stores it on the mapper when it is left out
                     "config": {"claim.name": "groups", "full.path": "false", "id.token.claim": "true",
                                "access.token.claim": "true", "userinfo.token.claim": "true",
                                "introspection.token.claim": "true", "multivalued": "true"}},
                ],
            },
        })
    return out


def consumers(catalog, server, of=None, running=None):
    """Stack -> the services that use one of the core servers, to stop while it (or what it holds) is
    restored or upgraded and to start again afterwards; services without a container are left out.

    ``server``: ``postgres`` (every service with a database or a login; with ``of``, the service owning
    that database and the services that read it), ``redis`` or ``mqtt`` (every service with an ACL user
    there). ``running``: keep only these services (e.g. the ones whose containers run).
    """
    servers = [pair[0] for pair in SERVERS]
    if server not in servers:
        raise CatalogError("server: %r is not one of %s" % (server, ", ".join(servers)))
    if not isinstance(catalog, Mapping):
        raise CatalogError("expected the resolved catalog (a mapping of service name to entry), got %s" % type(catalog).__name__)
    by_stack = {}
    for name, entry in catalog.items():
        spec = entry.get(server)
        if spec is None or name in servers or "container" not in entry:
            continue
        if of is not None and name != of and of not in (spec or {}).get("reads", []):
            continue
        if running is not None and name not in running:
            continue
        by_stack.setdefault(entry["stack"], []).append(name)
    return by_stack


def compose_dependencies(catalog):
    """Service -> its compose ``depends_on`` (each dependency with ``condition: service_healthy``), for
    every service of a resolved catalog that waits for others of its stack (its entry's ``depends_on``)."""
    return {name: {"depends_on": {dependency: {"condition": "service_healthy"} for dependency in entry["depends_on"]}}
            for name, entry in _entries(catalog) if entry.get("depends_on")}


def start_waves(services, catalog):
    """The order to start ``services`` (stack -> service names) in: a list of {stack, services}, first
    every service that waits for none of the others, then those that wait for the first, and so on.

    ``compose up`` of a service waits until the services it depends on are healthy: started in one call,
    a stack's app and the sidecar that waits for it hold up every stack after them. Started in waves,
    every app starts before any call waits, and they become healthy side by side."""
    if not isinstance(services, Mapping) or not all(
            isinstance(stack, str) and isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names)
            for stack, names in services.items()):
        raise CatalogError("expected stack -> list of service names, got %r" % (services,))
    if not isinstance(catalog, Mapping):
        raise CatalogError("expected the resolved catalog (a mapping of service name to entry), got %s" % type(catalog).__name__)
    wave_of = {}

    def wave(name, seen=()):
        if name not in wave_of:
            if name in seen:
                raise CatalogError("kompose_services.%s.depends_on: the services wait for each other" % name)
            waits = [d for d in (catalog.get(name) or {}).get("depends_on") or [] if d in listed]
            wave_of[name] = 1 + max((wave(d, seen + (name,)) for d in waits), default=-1)
        return wave_of[name]

    listed = {name for names in services.values() for name in names}
    out = []
    for number in range(1 + max((wave(name) for name in listed), default=-1)):
        for stack, names in services.items():
            now = [name for name in names if wave(name) == number]
            if now:
                out.append({"stack": stack, "services": now})
    return out


def volumes(catalog):
    """Service -> the compose volumes holding its data (the entries' ``volumes``): what a backup
    archives, with the service stopped meanwhile. The core servers' data is dumped instead."""
    return {name: list(entry["volumes"]) for name, entry in _entries(catalog) if entry.get("volumes")}


def database(catalog, service):
    """One service's database (or login role) as the core stack's server provisions it, with where to
    reach it: service, name (None for a login role only), owner, extensions, roles, readers, secret
    (``postgres-<owner>``), host and port (the PostgreSQL server's container and port)."""
    for item in postgres_databases(catalog):
        if item["service"] == service:
            server = catalog.get("postgres") or {}
            return dict(item, host=server.get("container"), port=server.get("port"))
    raise CatalogError("kompose_services.%s.postgres: service %r has no PostgreSQL database or login (enabled: %s)"
                       % (service, service, ", ".join(item["service"] for item in postgres_databases(catalog)) or "none"))


def postgres_url(db, password=None, scheme="postgresql", query=None):
    """A connection URL of a ``database`` entry: ``<scheme>://<owner>:<password>@<host>:<port>/<name>``,
    user and password percent-encoded; without a password, no user either (e.g. JDBC, which takes them
    apart); ``query`` is appended after ``?``."""
    if not isinstance(db, Mapping) or not db.get("name") or not db.get("host"):
        raise CatalogError("postgres_url: expected a catalog_database entry with a database and a host, got %r"
                           % (dict(db, password=None) if isinstance(db, Mapping) else db,))
    user = "" if password is None else "%s:%s@" % (quote(db["owner"], safe=""), quote(str(password), safe=""))
    url = "%s://%s%s:%s/%s" % (scheme, user, db["host"], db["port"], db["name"])
    return url + ("?" + query if query else "")
