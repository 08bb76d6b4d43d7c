"""The portal's config file: JSON rendered by Ansible, validated whole before anything starts.

The file holds no secret. A secret is an environment variable the file names (``secret_env``,
``password_env``, ``csrf_secret_env``); ``validate`` checks that each one is set and not empty, and
every error names the key path and the value (for a secret: the variable's name, never its
value)::

    keycloak.secret_env: "KMPS_KEYCLOAK_SECRET" is not set in the environment (or empty)

Keys (``keycloak``, ``docker``, ``alertmanager``, ``prometheus``, ``database``, ``csrf_secret_env``
and ``site`` are required; the others have defaults):

- ``listen``: ``{host, port}`` of the HTTP server (default ``0.0.0.0:8080``);
- ``keycloak``: ``{url, realm, client_id, secret_env[, public_url, action_lifespan]}``: ``url`` is
  Keycloak's address on the portal's network (admin API and token endpoint), ``public_url`` the
  address users' browsers know (the account console link; default ``url``), ``realm`` the realm
  the portal manages - never ``master`` -, ``client_id``/``secret_env`` its confidential client
  with a service account (client-credentials grant), ``action_lifespan`` the seconds an
  invitation or reset link stays valid (null: the realm's setting);
- ``docker``: ``{url}``: the Docker socket proxy (plain HTTP; see ``docker.py`` for its allow-list);
- ``alertmanager``: ``{url}``; ``prometheus``: ``{url[, backup_metric, backup_size_metric,
  cert_metric, backup_max_age_seconds, cert_warn_days]}``: the metric names the overview reads
  (defaults ``kompose_backup_last_success_timestamp_seconds``, ``kompose_backup_last_size_bytes``,
  ``probe_ssl_earliest_cert_expiry``; ``backup_size_metric`` may be null), the age after which the
  last backup is shown as too old (default 93600 s, the collection's BackupTooOld threshold) and
  the days under which a certificate is shown as expiring (default 14);
- ``database``: ``{host, dbname, user, password_env[, port, sslmode]}``: the portal's own ``kmps``
  database (its owner: the portal creates and migrates its schema);
- ``mqtt``: ``{host, username, password_env[, port, client_id, topic_prefix]}`` or null (no
  publication; the database row stays the record): audit events go to
  ``<topic_prefix>/<action>`` (default prefix ``kompose/system/audit``);
- ``trusted_proxies``: the addresses (IPv4 or IPv6, no networks) whose requests may carry an
  identity - Traefik's on the portal's network; a request from any other address is refused (401)
  whatever headers it sends. Empty (the default): every peer is believed, as when the network
  alone keeps others out;
- ``admin_group``: the Keycloak group whose members manage (default ``admins``; with or without
  the leading ``/`` of a group path);
- ``csrf_secret_env``: the variable holding the key of the forms' tokens (at least 32 characters);
  ``csrf_max_age``: seconds a form stays valid (default 28800);
- ``http_timeout``: seconds for one call to Keycloak or Docker (default 10); ``overview_timeout``:
  seconds the overview waits for Docker, Alertmanager and Prometheus (default 2: the page stays
  fast, a slow source is reported on it); ``restart_timeout``: the seconds Docker gives a
  container to stop before it kills it (``t=``, default 10);
- ``site``: the catalog's view: ``{domain, stacks: [name, ...], services: {name: {stack,
  container[, fqdn]}}}``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError, show

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
CONTAINER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
REALM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
TOPIC_LEVEL = re.compile(r"^[A-Za-z0-9_.-]+$")
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
MIN_CSRF_SECRET = 32


@dataclass(frozen=True)
class KeycloakSettings:
    url: str
    public_url: str
    realm: str
    client_id: str
    secret_env: str
    action_lifespan: int | None


@dataclass(frozen=True)
class PrometheusSettings:
    url: str
    backup_metric: str
    backup_size_metric: str | None
    cert_metric: str
    backup_max_age_seconds: int
    cert_warn_days: int


@dataclass(frozen=True)
class DatabaseSettings:
    """The ``kmps`` database; the password is in ``password_env``."""

    host: str
    port: int
    dbname: str
    user: str
    password_env: str
    sslmode: str


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    client_id: str
    username: str
    password_env: str
    topic_prefix: str


@dataclass(frozen=True)
class ServiceEntry:
    """One service of the catalog as the overview shows it."""

    name: str
    stack: str
    container: str
    fqdn: str | None


@dataclass(frozen=True)
class Site:
    domain: str
    stacks: tuple[str, ...]
    services: tuple[ServiceEntry, ...]

    def by_container(self) -> dict[str, ServiceEntry]:
        return {service.container: service for service in self.services}


@dataclass(frozen=True)
class Config:
    listen_host: str
    listen_port: int
    keycloak: KeycloakSettings
    docker_url: str
    alertmanager_url: str
    prometheus: PrometheusSettings
    database: DatabaseSettings
    mqtt: MqttSettings | None
    admin_group: str
    csrf_secret_env: str
    csrf_max_age: int
    http_timeout: float
    overview_timeout: float
    restart_timeout: int
    site: Site
    trusted_proxies: tuple[str, ...] = ()

    def secret_names(self) -> list[str]:
        """Every environment variable the config names (what the container must be given)."""
        names = [self.keycloak.secret_env, self.database.password_env, self.csrf_secret_env]
        if self.mqtt is not None:
            names.append(self.mqtt.password_env)
        return sorted(set(names))


def load(path: str) -> Any:
    """The file's JSON; ConfigError when it cannot be read or parsed."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None


def load_config(path: str, environ: Mapping[str, str], check_env: bool = True) -> Config:
    """Read and validate the config file at ``path``."""
    return validate(load(path), environ, check_env)


def validate(raw: Any, environ: Mapping[str, str], check_env: bool = True) -> Config:
    """The validated config; ConfigError naming the first problem (key path and value).

    ``check_env=False`` skips the check that the named variables are set (to check a file
    outside the container); their names are still checked.
    """
    env = _Env(environ, check_env)
    top = _section(
        raw,
        "config",
        required=("keycloak", "docker", "alertmanager", "prometheus", "database", "csrf_secret_env", "site"),
        optional={
            "listen": {"host": "0.0.0.0", "port": 8080},
            "mqtt": None,
            "admin_group": "admins",
            "csrf_max_age": 28800,
            "http_timeout": 10,
            "overview_timeout": 2,
            "restart_timeout": 10,
            "trusted_proxies": [],
        },
        root=True,
    )
    listen = _section(top["listen"], "listen", required=("host", "port"))
    listen_host = _string(listen["host"], "listen.host")
    listen_port = _int(listen["port"], "listen.port", 1, 65535)
    keycloak = _keycloak(top["keycloak"], env)
    docker = _section(top["docker"], "docker", required=("url",))
    alertmanager = _section(top["alertmanager"], "alertmanager", required=("url",))
    prometheus = _prometheus(top["prometheus"])
    database = _database(top["database"], env)
    mqtt = _mqtt(top["mqtt"], env)
    admin_group = _string(top["admin_group"], "admin_group").strip("/")
    if not admin_group:
        raise ConfigError(f"admin_group: {show(top['admin_group'])} names no group")
    csrf_secret_env = env.name(top["csrf_secret_env"], "csrf_secret_env", min_length=MIN_CSRF_SECRET)
    return Config(
        listen_host=listen_host,
        listen_port=listen_port,
        keycloak=keycloak,
        docker_url=_url(docker["url"], "docker.url"),
        alertmanager_url=_url(alertmanager["url"], "alertmanager.url"),
        prometheus=prometheus,
        database=database,
        mqtt=mqtt,
        admin_group=admin_group,
        csrf_secret_env=csrf_secret_env,
        csrf_max_age=_int(top["csrf_max_age"], "csrf_max_age", 60, 7 * 86400),
        http_timeout=_number(top["http_timeout"], "http_timeout", 0, 300),
        overview_timeout=_number(top["overview_timeout"], "overview_timeout", 0, 60),
        restart_timeout=_int(top["restart_timeout"], "restart_timeout", 0, 300),
        site=_site(top["site"]),
        trusted_proxies=_addresses(top["trusted_proxies"], "trusted_proxies"),
    )


# ---------------------------------------------------------------------------------------------
# sections


def _addresses(raw: Any, at: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{at}: {show(raw)} is not a list of addresses")
    out = []
    for index, item in enumerate(raw):
        try:
            out.append(str(ipaddress.ip_address(item)))
        except (TypeError, ValueError):
            raise ConfigError(f"{at}[{index}]: {show(item)} is not an IP address") from None
    return tuple(out)


def _keycloak(raw: Any, env: _Env) -> KeycloakSettings:
    section = _section(
        raw,
        "keycloak",
        required=("url", "realm", "client_id", "secret_env"),
        optional={"public_url": None, "action_lifespan": None},
    )
    url = _url(section["url"], "keycloak.url")
    public_url = url if section["public_url"] is None else _url(section["public_url"], "keycloak.public_url")
    realm = section["realm"]
    if not isinstance(realm, str) or not REALM.match(realm):
        raise ConfigError(f"keycloak.realm: {show(realm)} is not a realm name")
    if realm == "master":
        raise ConfigError('keycloak.realm: "master" is the administration realm; the portal manages the site\'s realm only')
    lifespan = section["action_lifespan"]
    if lifespan is not None:
        lifespan = _int(lifespan, "keycloak.action_lifespan", 60, 30 * 86400)
    return KeycloakSettings(
        url=url,
        public_url=public_url,
        realm=realm,
        client_id=_string(section["client_id"], "keycloak.client_id"),
        secret_env=env.name(section["secret_env"], "keycloak.secret_env"),
        action_lifespan=lifespan,
    )


def _prometheus(raw: Any) -> PrometheusSettings:
    section = _section(
        raw,
        "prometheus",
        required=("url",),
        optional={
            "backup_metric": "kompose_backup_last_success_timestamp_seconds",
            "backup_size_metric": "kompose_backup_last_size_bytes",
            "cert_metric": "probe_ssl_earliest_cert_expiry",
            "backup_max_age_seconds": 93600,
            "cert_warn_days": 14,
        },
    )
    size = section["backup_size_metric"]
    return PrometheusSettings(
        url=_url(section["url"], "prometheus.url"),
        backup_metric=_metric(section["backup_metric"], "prometheus.backup_metric"),
        backup_size_metric=None if size is None else _metric(size, "prometheus.backup_size_metric"),
        cert_metric=_metric(section["cert_metric"], "prometheus.cert_metric"),
        backup_max_age_seconds=_int(section["backup_max_age_seconds"], "prometheus.backup_max_age_seconds", 60, 400 * 86400),
        cert_warn_days=_int(section["cert_warn_days"], "prometheus.cert_warn_days", 1, 365),
    )


def _database(raw: Any, env: _Env) -> DatabaseSettings:
    section = _section(
        raw,
        "database",
        required=("host", "dbname", "user", "password_env"),
        optional={"port": 5432, "sslmode": "prefer"},
    )
    sslmode = section["sslmode"]
    if sslmode not in SSLMODES:
        raise ConfigError(f"database.sslmode: {show(sslmode)} is not one of {', '.join(SSLMODES)}")
    return DatabaseSettings(
        host=_string(section["host"], "database.host"),
        port=_int(section["port"], "database.port", 1, 65535),
        dbname=_string(section["dbname"], "database.dbname"),
        user=_string(section["user"], "database.user"),
        password_env=env.name(section["password_env"], "database.password_env"),
        sslmode=sslmode,
    )


def _mqtt(raw: Any, env: _Env) -> MqttSettings | None:
    if raw is None:
        return None
    section = _section(
        raw,
        "mqtt",
        required=("host", "username", "password_env"),
        optional={"port": 1883, "client_id": "kmps", "topic_prefix": "kompose/system/audit"},
    )
    prefix = section["topic_prefix"]
    if not isinstance(prefix, str) or not prefix or not all(TOPIC_LEVEL.match(level) for level in prefix.split("/")):
        raise ConfigError(
            f"mqtt.topic_prefix: {show(prefix)} is not a topic prefix (levels of letters, digits, '_', '.', '-' "
            "joined by '/', no wildcard, no leading or trailing '/')"
        )
    return MqttSettings(
        host=_string(section["host"], "mqtt.host"),
        port=_int(section["port"], "mqtt.port", 1, 65535),
        client_id=_string(section["client_id"], "mqtt.client_id"),
        username=_string(section["username"], "mqtt.username"),
        password_env=env.name(section["password_env"], "mqtt.password_env"),
        topic_prefix=prefix,
    )


def _site(raw: Any) -> Site:
    section = _section(raw, "site", required=("domain", "stacks", "services"))
    domain = section["domain"]
    if not isinstance(domain, str) or not HOSTNAME.match(domain):
        raise ConfigError(f"site.domain: {show(domain)} is not a DNS domain")
    stacks = section["stacks"]
    if not isinstance(stacks, list):
        raise ConfigError(f"site.stacks: {show(stacks)} is not a list of stack names")
    for index, stack in enumerate(stacks):
        if not isinstance(stack, str) or not NAME.match(stack):
            raise ConfigError(f"site.stacks[{index}]: {show(stack)} is not a stack name")
        if stack in stacks[:index]:
            raise ConfigError(f"site.stacks[{index}]: {show(stack)} is listed twice")
    services = []
    containers: dict[str, str] = {}
    for name, item in _mapping(section["services"], "site.services").items():
        at = f"site.services.{name}"
        if not NAME.match(name):
            raise ConfigError(f"{at}: {show(name)} is not a service name")
        entry = _section(item, at, required=("stack", "container"), optional={"fqdn": None})
        if entry["stack"] not in stacks:
            raise ConfigError(f"{at}.stack: {show(entry['stack'])} is not one of site.stacks {show(stacks)}")
        container = entry["container"]
        if not isinstance(container, str) or not CONTAINER.match(container):
            raise ConfigError(f"{at}.container: {show(container)} is not a container name")
        if container in containers:
            raise ConfigError(f"{at}.container: {show(container)} is already the container of {containers[container]}")
        containers[container] = name
        fqdn = entry["fqdn"]
        if fqdn is not None and (not isinstance(fqdn, str) or not HOSTNAME.match(fqdn)):
            raise ConfigError(f"{at}.fqdn: {show(fqdn)} is not a host name")
        services.append(ServiceEntry(name=name, stack=entry["stack"], container=container, fqdn=fqdn))
    return Site(domain=domain, stacks=tuple(stacks), services=tuple(services))


# ---------------------------------------------------------------------------------------------
# small checkers: each names the key path and the value


class _Env:
    """Checks the names of environment variables, and that they are set (unless told not to)."""

    def __init__(self, environ: Mapping[str, str], check: bool) -> None:
        self.environ = environ
        self.check = check

    def name(self, value: Any, at: str, min_length: int = 1) -> str:
        if not isinstance(value, str) or not ENV_NAME.match(value):
            raise ConfigError(f"{at}: {show(value)} is not the name of an environment variable")
        if self.check:
            secret = self.environ.get(value) or ""
            if not secret:
                raise ConfigError(f"{at}: {show(value)} is not set in the environment (or empty)")
            if len(secret) < min_length:
                # the length only, never the value
                raise ConfigError(f"{at}: {show(value)} holds {len(secret)} characters; it needs at least {min_length}")
        return value


def _section(
    raw: Any,
    at: str,
    required: tuple[str, ...] = (),
    optional: dict[str, Any] | None = None,
    root: bool = False,
) -> dict[str, Any]:
    optional = optional or {}
    prefix = "" if root else f"{at}."
    if not isinstance(raw, dict):
        raise ConfigError(f"{at}: {show(raw)} is not a mapping")
    for key in required:
        if key not in raw:
            raise ConfigError(f"{prefix}{key}: missing; {at} needs {', '.join(required)}")
    for key in raw:
        if key not in required and key not in optional:
            known = ", ".join((*required, *optional))
            raise ConfigError(f"{prefix}{key}: {show(raw[key])} is not a key of {at} (keys: {known})")
    return {**optional, **raw}


def _mapping(raw: Any, at: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{at}: {show(raw)} is not a mapping")
    return raw


def _string(value: Any, at: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{at}: {show(value)} is not a non-empty string")
    return value


def _int(value: Any, at: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{at}: {show(value)} is not an integer from {low} to {high}")
    return value


def _number(value: Any, at: str, above: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not above < value <= high:
        raise ConfigError(f"{at}: {show(value)} is not a number above {above} and up to {high}")
    return float(value)


def _metric(value: Any, at: str) -> str:
    """A bare metric name: the overview's query is the name itself, so no PromQL can be injected."""
    if not isinstance(value, str) or not METRIC.match(value):
        raise ConfigError(f"{at}: {show(value)} is not a Prometheus metric name")
    return value


def _url(value: Any, at: str) -> str:
    """A base address ``http(s)://host[:port][/path]``: no query, no credentials (they are secrets)."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{at}: {show(value)} is not a base address (http://host:port, optionally a path)")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{at}: the address holds credentials; a secret belongs in an environment variable")
    try:
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise ConfigError(f"{at}: {show(value)} has an invalid port") from None
    return value.rstrip("/")
