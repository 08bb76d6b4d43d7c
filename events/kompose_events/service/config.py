"""The runtime's config file: JSON rendered by Ansible, validated whole before anything starts.

The file holds no secret. A secret is an environment variable the file names (``password_env``,
``token_env``, ``env``); ``validate`` checks that each one is set and not empty, and every error
names the key path and the value (for a secret: the variable's name, never its value)::

    automation.password_env: "EVENTS_MQTT_AUTOMATION" is not set in the environment (or empty)

Top-level keys (``mqtt``, ``automation`` and ``rules`` are required; the others have defaults):

- ``listen``: ``{host, port[, networks]}`` of the HTTP server (``/metrics``, ``/healthz``, webhooks);
  with ``networks`` (IPv4 CIDRs), it listens only on the container's addresses in those networks
  and on 127.0.0.1 (its health check), so a network it shares with an app it calls does not expose it;
- ``mqtt``: ``{host, port, keepalive}`` of the broker;
- ``automation``: the rules' MQTT login ``{client_id, username, password_env, subscribe}``, or
  null for a process that only runs sources (a source beside its app: then ``rules`` is empty);
- ``redis``: ``{host, port, username, password_env, prefix}`` or null (memory: no durability);
- ``services``: service name -> base address (``http://messaging_gotify:80``);
- ``credentials``: name -> ``{header, prefix, env}`` for an http action's ``credential``;
- ``gotify``: application name -> ``{token_env}`` (its token, sent as ``X-Gotify-Key``);
- ``smtp``: ``{host, port, from, starttls, username, password_env}`` or null (no mail rule then);
- ``variables``: the values of the rules' ``$var`` references;
- ``rules``: as ``rules.validate`` accepts them;
- ``retry``: ``{base_seconds, cap_seconds, max_attempts, open_after}`` (``delivery.RetryPolicy``);
- ``http_timeout``: seconds for one call to a target (HTTP and SMTP);
- ``sources``: ``[{name, kind, mqtt: {client_id, username, password_env}, ...}]``, kinds
  ``vaultwarden-log`` (``path``, ``interval``, ``threshold``, ``window_seconds``),
  ``alertmanager-webhook`` (``path``: the URL path it is posted to), the database sources
  ``linkwarden-db``, ``umami-db`` and ``letterspace-db`` (``database: {host, port, dbname, user,
  password_env}``, ``interval`` 5, ``settle_seconds`` 5, ``batch`` 100; ``linkwarden-db``:
  ``stats`` true; ``umami-db``: ``websites`` [] (website ids; empty: all); ``letterspace-db``:
  ``article_url`` null (a URL template with ``{id}``; null: no ``article/published``)) and
  ``health-probe`` (``targets: [{check, url, service}]``, ``interval`` 60, ``timeout`` 5).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import rules as rules_module
from .. import schemas
from ..delivery import RetryPolicy
from ..envelope import SOURCE_NAME
from ..errors import EventsError, RuleError, show
from ..topics import filter_error, matches

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
DATABASE_KINDS = ("linkwarden-db", "umami-db", "letterspace-db")
SOURCE_KINDS = ("vaultwarden-log", "alertmanager-webhook", *DATABASE_KINDS, "health-probe")
RESERVED_PATHS = ("/metrics", "/healthz")


class ConfigError(EventsError):
    """A config file the runtime cannot use; the message names the key path and the value."""


@dataclass(frozen=True)
class MqttLogin:
    """One MQTT client's identity: its client id, user and the variable holding its password."""

    client_id: str
    username: str | None
    password_env: str | None


@dataclass(frozen=True)
class RedisSettings:
    host: str
    port: int
    username: str | None
    password_env: str | None
    prefix: str


@dataclass(frozen=True)
class Credential:
    """A secret added to an http action as ``<header>: <prefix><value of env>``."""

    header: str
    prefix: str
    env: str


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    starttls: bool
    username: str | None
    password_env: str | None


@dataclass(frozen=True)
class DatabaseSettings:
    """Where a database source connects, as which (read-only) login; the password is in ``password_env``."""

    host: str
    port: int
    dbname: str
    user: str
    password_env: str


@dataclass(frozen=True)
class ProbeTarget:
    """One URL the health probe GETs; ``check`` names it in the events."""

    check: str
    url: str
    service: str | None = None


@dataclass(frozen=True)
class SourceSettings:
    """A source: ``kind`` says which of the optional fields it uses."""

    name: str
    kind: str
    mqtt: MqttLogin
    path: str = ""
    interval: float = 1.0
    threshold: int = 10
    window_seconds: float = 300.0
    # the database sources
    database: DatabaseSettings | None = None
    settle_seconds: int = 5
    batch: int = 100
    stats: bool = True  # linkwarden-db
    websites: tuple[str, ...] = ()  # umami-db
    article_url: str | None = None  # letterspace-db
    # health-probe
    targets: tuple[ProbeTarget, ...] = ()
    timeout: float = 5.0


@dataclass(frozen=True)
class Config:
    listen_host: str
    listen_port: int
    listen_networks: tuple[str, ...]
    mqtt_host: str
    mqtt_port: int
    keepalive: int
    automation: MqttLogin | None
    subscribe: tuple[str, ...]
    redis: RedisSettings | None
    services: dict[str, str]
    credentials: dict[str, Credential]
    gotify: dict[str, str]  # application -> name of the variable holding its token
    smtp: SmtpSettings | None
    variables: dict[str, Any]
    rules: list[dict[str, Any]]
    retry: RetryPolicy
    http_timeout: float
    sources: tuple[SourceSettings, ...] = field(default_factory=tuple)

    def secret_names(self) -> list[str]:
        """Every environment variable the config names (what the container must be given)."""
        logins = [self.automation, *(source.mqtt for source in self.sources)]
        names = [login.password_env for login in logins if login is not None]
        names += [source.database.password_env for source in self.sources if source.database is not None]
        names += [self.redis.password_env if self.redis else None, self.smtp.password_env if self.smtp else None]
        names += [credential.env for credential in self.credentials.values()]
        names += list(self.gotify.values())
        return sorted({name for name in names if name})


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
    """The validated config; ConfigError (or RuleError for a rule) naming the first problem.

    ``check_env=False`` skips the check that the named variables are set (to check a file
    outside the container); their names are still checked.
    """
    env = _Env(environ, check_env)
    top = _section(
        raw,
        "config",
        required=("mqtt", "automation", "rules"),
        optional={
            "listen": {"host": "0.0.0.0", "port": 9100},
            "redis": None,
            "services": {},
            "credentials": {},
            "gotify": {},
            "smtp": None,
            "variables": {},
            "retry": {},
            "http_timeout": 5,
            "sources": [],
        },
        root=True,
    )
    # in the order of the file's keys, so the first problem reported is the first one in the file
    listen = _section(top["listen"], "listen", required=("host", "port"), optional={"networks": []})
    listen_host = _string(listen["host"], "listen.host")
    listen_port = _int(listen["port"], "listen.port", 0, 65535)
    listen_networks = _networks(listen["networks"], "listen.networks")
    broker = _section(top["mqtt"], "mqtt", required=("host",), optional={"port": 1883, "keepalive": 30})
    mqtt_host = _string(broker["host"], "mqtt.host")
    mqtt_port = _int(broker["port"], "mqtt.port", 1, 65535)
    keepalive = _int(broker["keepalive"], "mqtt.keepalive", 5, 65535)
    login, subscribe = _automation(top["automation"], env)
    redis = _redis(top["redis"], env)
    services = _services(top["services"])
    credentials = _credentials(top["credentials"], env)
    gotify = _gotify(top["gotify"], env, services)
    smtp = _smtp(top["smtp"], env)
    variables = _mapping(top["variables"], "variables")
    retry = _retry(top["retry"])
    http_timeout = _number(top["http_timeout"], "http_timeout", 0, 300)
    sources = _sources(top["sources"], env)
    config = Config(
        listen_host=listen_host,
        listen_port=listen_port,
        listen_networks=listen_networks,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        keepalive=keepalive,
        automation=login,
        subscribe=subscribe,
        redis=redis,
        services=services,
        credentials=credentials,
        gotify=gotify,
        smtp=smtp,
        variables=variables,
        rules=top["rules"],
        retry=retry,
        http_timeout=http_timeout,
        sources=sources,
    )
    _check_client_ids(config)
    _check_rules(config)
    return config


# ---------------------------------------------------------------------------------------------
# sections


def _automation(raw: Any, env: _Env) -> tuple[MqttLogin | None, tuple[str, ...]]:
    if raw is None:
        return None, ()
    section = _section(
        raw,
        "automation",
        required=("client_id", "subscribe"),
        optional={"username": None, "password_env": None},
    )
    return _login(section, "automation", env), _subscriptions(section["subscribe"], "automation.subscribe")


def _redis(raw: Any, env: _Env) -> RedisSettings | None:
    if raw is None:
        return None
    section = _section(
        raw,
        "redis",
        required=("host",),
        optional={"port": 6379, "username": None, "password_env": None, "prefix": "events:"},
    )
    return RedisSettings(
        host=_string(section["host"], "redis.host"),
        port=_int(section["port"], "redis.port", 1, 65535),
        username=_optional_string(section["username"], "redis.username"),
        password_env=env.name(section["password_env"], "redis.password_env", optional=True),
        prefix=_string(section["prefix"], "redis.prefix"),
    )


def _services(raw: Any) -> dict[str, str]:
    services = {}
    for name, address in _mapping(raw, "services").items():
        at = f"services.{name}"
        parts = urlsplit(address) if isinstance(address, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ConfigError(f"{at}: {show(address)} is not a base address (http://host:port, optionally a path)")
        try:
            parts.port  # noqa: B018 (raises ValueError for a bad port)
        except ValueError:
            raise ConfigError(f"{at}: {show(address)} has an invalid port") from None
        services[name] = address.rstrip("/")
    return services


def _credentials(raw: Any, env: _Env) -> dict[str, Credential]:
    credentials = {}
    for name, item in _mapping(raw, "credentials").items():
        at = f"credentials.{name}"
        section = _section(item, at, required=("header", "env"), optional={"prefix": ""})
        header = section["header"]
        if not isinstance(header, str) or not HEADER_NAME.match(header):
            raise ConfigError(f"{at}.header: {show(header)} is not an HTTP header name")
        prefix = section["prefix"]
        if not isinstance(prefix, str):
            raise ConfigError(f"{at}.prefix: {show(prefix)} is not a string")
        credentials[name] = Credential(header, prefix, env.name(section["env"], f"{at}.env"))
    return credentials


def _gotify(raw: Any, env: _Env, services: dict[str, str]) -> dict[str, str]:
    applications = {}
    for name, item in _mapping(raw, "gotify").items():
        at = f"gotify.{name}"
        section = _section(item, at, required=("token_env",))
        applications[name] = env.name(section["token_env"], f"{at}.token_env")
    if applications and rules_module.GOTIFY_SERVICE not in services:
        raise ConfigError(
            f"gotify: {show(sorted(applications))} are Gotify applications, but services has no "
            f"{rules_module.GOTIFY_SERVICE} address to send them to"
        )
    return applications


def _smtp(raw: Any, env: _Env) -> SmtpSettings | None:
    if raw is None:
        return None
    section = _section(
        raw,
        "smtp",
        required=("host", "from"),
        optional={"port": 25, "starttls": False, "username": None, "password_env": None},
    )
    sender = section["from"]
    if not isinstance(sender, str) or "@" not in sender or "\n" in sender or "\r" in sender:
        raise ConfigError(f"smtp.from: {show(sender)} is not a mail address")
    username = _optional_string(section["username"], "smtp.username")
    password_env = env.name(section["password_env"], "smtp.password_env", optional=True)
    if (username is None) != (password_env is None):
        raise ConfigError(
            f"smtp.username: {show(username)} with password_env {show(password_env)}; give both or neither"
        )
    return SmtpSettings(
        host=_string(section["host"], "smtp.host"),
        port=_int(section["port"], "smtp.port", 1, 65535),
        sender=sender,
        starttls=_bool(section["starttls"], "smtp.starttls"),
        username=username,
        password_env=password_env,
    )


def _retry(raw: Any) -> RetryPolicy:
    defaults = RetryPolicy()
    section = _section(
        raw,
        "retry",
        optional={
            "base_seconds": defaults.base_seconds,
            "cap_seconds": defaults.cap_seconds,
            "max_attempts": defaults.max_attempts,
            "open_after": defaults.open_after,
        },
    )
    base = _number(section["base_seconds"], "retry.base_seconds", 0, 3600)
    cap = _number(section["cap_seconds"], "retry.cap_seconds", 0, 86400)
    if cap < base:
        raise ConfigError(f"retry.cap_seconds: {show(section['cap_seconds'])} is below base_seconds {show(base)}")
    max_attempts = section["max_attempts"]
    if max_attempts is not None:
        max_attempts = _int(max_attempts, "retry.max_attempts", 1, 1000)
    open_after = section["open_after"]
    if open_after is not None:
        open_after = _int(open_after, "retry.open_after", 1, 1000)
    return RetryPolicy(base_seconds=base, cap_seconds=cap, max_attempts=max_attempts, open_after=open_after)


def _sources(raw: Any, env: _Env) -> tuple[SourceSettings, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"sources: {show(raw)} is not a list of sources")
    sources: list[SourceSettings] = []
    names: dict[str, int] = {}
    paths: dict[str, int] = {}
    for index, item in enumerate(raw):
        at = f"sources[{index}]"
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind not in SOURCE_KINDS:
            if not isinstance(item, dict) or "kind" not in item:
                raise ConfigError(f"{at}.kind: missing; the kinds are {', '.join(SOURCE_KINDS)}")
            raise ConfigError(f"{at}.kind: {show(kind)} is not a kind of source ({', '.join(SOURCE_KINDS)})")
        required, optional = _SOURCE_KEYS[kind]
        section = _section(item, at, required=("name", "kind", "mqtt", *required), optional=optional)
        name = section["name"]
        if not isinstance(name, str) or not SOURCE_NAME.match(name):
            raise ConfigError(
                f"{at}.name: {show(name)} is not a source name (lower-case letters, digits, '.', '_', '-')"
            )
        if name in names:
            raise ConfigError(f"{at}.name: {show(name)} is already the name of sources[{names[name]}]")
        names[name] = index
        login = _section(
            section["mqtt"], f"{at}.mqtt", required=("client_id",), optional={"username": None, "password_env": None}
        )
        common = {"name": name, "kind": kind, "mqtt": _login(login, f"{at}.mqtt", env)}
        if kind == "vaultwarden-log":
            path = section["path"]
            if not isinstance(path, str) or not path.startswith("/"):
                raise ConfigError(f"{at}.path: {show(path)} is not an absolute file path")
            sources.append(
                SourceSettings(
                    **common,
                    path=path,
                    interval=_number(section["interval"], f"{at}.interval", 0, 3600),
                    threshold=_int(section["threshold"], f"{at}.threshold", 1, 1000000),
                    window_seconds=_number(section["window_seconds"], f"{at}.window_seconds", 0, 86400 * 7),
                )
            )
        elif kind == "alertmanager-webhook":
            path = section["path"]
            if not isinstance(path, str) or not path.startswith("/") or "?" in path or path in RESERVED_PATHS:
                raise ConfigError(
                    f"{at}.path: {show(path)} is not a webhook path (starting with /, not {', '.join(RESERVED_PATHS)})"
                )
            if path in paths:
                raise ConfigError(f"{at}.path: {show(path)} is already the path of sources[{paths[path]}]")
            paths[path] = index
            sources.append(SourceSettings(**common, path=path))
        elif kind == "health-probe":
            sources.append(
                SourceSettings(
                    **common,
                    interval=_number(section["interval"], f"{at}.interval", 0, 86400),
                    timeout=_number(section["timeout"], f"{at}.timeout", 0, 300),
                    targets=_targets(section["targets"], f"{at}.targets"),
                )
            )
        else:
            sources.append(_database_source(section, common, at, env))
    return tuple(sources)


# per kind: the required keys besides name, kind and mqtt, and the optional ones with their defaults
_DATABASE_KEYS = {"interval": 5, "settle_seconds": 5, "batch": 100}
_SOURCE_KEYS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "vaultwarden-log": (("path",), {"interval": 1.0, "threshold": 10, "window_seconds": 300.0}),
    "alertmanager-webhook": (("path",), {}),
    "linkwarden-db": (("database",), {**_DATABASE_KEYS, "stats": True}),
    "umami-db": (("database",), {**_DATABASE_KEYS, "websites": []}),
    "letterspace-db": (("database",), {**_DATABASE_KEYS, "article_url": None}),
    "health-probe": (("targets",), {"interval": 60, "timeout": 5}),
}


def _database_source(section: dict[str, Any], common: dict[str, Any], at: str, env: _Env) -> SourceSettings:
    from ..sources.letterspace import url_template_error  # the core's check, so both agree
    from ..sources.umami import canonical_website

    kind = common["kind"]
    database = _section(
        section["database"],
        f"{at}.database",
        required=("host", "dbname", "user", "password_env"),
        optional={"port": 5432},
    )
    settings = DatabaseSettings(
        host=_string(database["host"], f"{at}.database.host"),
        port=_int(database["port"], f"{at}.database.port", 1, 65535),
        dbname=_string(database["dbname"], f"{at}.database.dbname"),
        user=_string(database["user"], f"{at}.database.user"),
        password_env=env.name(database["password_env"], f"{at}.database.password_env") or "",
    )
    extra: dict[str, Any] = {}
    if kind == "linkwarden-db":
        extra["stats"] = _bool(section["stats"], f"{at}.stats")
    elif kind == "umami-db":
        websites = section["websites"]
        if not isinstance(websites, list):
            raise ConfigError(f"{at}.websites: {show(websites)} is not a list of website ids (UUIDs)")
        canonical = []
        for number, website in enumerate(websites):
            value = canonical_website(website)
            if value is None:
                raise ConfigError(f"{at}.websites[{number}]: {show(website)} is not a website id (a UUID)")
            canonical.append(value)
        extra["websites"] = tuple(canonical)
    else:
        article_url = section["article_url"]
        if article_url is not None:
            problem = url_template_error(article_url)
            if problem:
                raise ConfigError(f"{at}.article_url: {show(article_url)} {problem}")
        extra["article_url"] = article_url
    return SourceSettings(
        **common,
        database=settings,
        interval=_number(section["interval"], f"{at}.interval", 0, 3600),
        settle_seconds=_int(section["settle_seconds"], f"{at}.settle_seconds", 0, 3600),
        batch=_int(section["batch"], f"{at}.batch", 1, 10000),
        **extra,
    )


def _targets(raw: Any, at: str) -> tuple[ProbeTarget, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{at}: {show(raw)} is not a non-empty list of targets ({{check, url, service}})")
    targets: list[ProbeTarget] = []
    checks: dict[str, int] = {}
    for index, item in enumerate(raw):
        where = f"{at}[{index}]"
        section = _section(item, where, required=("check", "url"), optional={"service": None})
        check = _string(section["check"], f"{where}.check")
        if check in checks:
            raise ConfigError(f"{where}.check: {show(check)} is already the check of {at}[{checks[check]}]")
        checks[check] = index
        url = section["url"]
        parts = urlsplit(url) if isinstance(url, str) else None
        try:
            bad_port = parts is not None and parts.port is not None and not parts.port
        except ValueError:
            bad_port = True
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username is not None
            or bad_port
            or any(c.isspace() for c in url)
        ):
            raise ConfigError(
                f"{where}.url: {show(url)} is not an http(s) URL (with a host, without a user or password)"
            )
        service = _optional_string(section["service"], f"{where}.service")
        targets.append(ProbeTarget(check=check, url=url, service=service))
    return tuple(targets)


def _login(section: dict[str, Any], at: str, env: _Env) -> MqttLogin:
    client_id = section["client_id"]
    if not isinstance(client_id, str) or not client_id or len(client_id) > 128 or not client_id.isprintable():
        raise ConfigError(f"{at}.client_id: {show(client_id)} is not an MQTT client id")
    return MqttLogin(
        client_id=client_id,
        username=_optional_string(section["username"], f"{at}.username"),
        password_env=env.name(section["password_env"], f"{at}.password_env", optional=True),
    )


def _subscriptions(raw: Any, at: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{at}: {show(raw)} is not a non-empty list of topic filters")
    for index, item in enumerate(raw):
        problem = filter_error(item)
        if problem:
            raise ConfigError(f"{at}[{index}]: {show(item)} {problem}")
    return tuple(raw)


# ---------------------------------------------------------------------------------------------
# checks across sections


def _check_client_ids(config: Config) -> None:
    """The broker drops a client when another connects with its id: every id must be unique."""
    seen = {config.automation.client_id: "automation.client_id"} if config.automation else {}
    for index, source in enumerate(config.sources):
        at = f"sources[{index}].mqtt.client_id"
        if source.mqtt.client_id in seen:
            raise ConfigError(f"{at}: {show(source.mqtt.client_id)} is already used by {seen[source.mqtt.client_id]}")
        seen[source.mqtt.client_id] = at


def _check_rules(config: Config) -> None:
    """The rules as ``rules.validate`` checks them, against what this config provides."""
    if config.automation is None and config.rules != []:
        names = (
            [rule.get("name") if isinstance(rule, dict) else rule for rule in config.rules]
            if isinstance(config.rules, list)
            else config.rules
        )
        raise ConfigError(f"rules: {show(names)} need the automation client, and automation is null")
    topics = schemas.known_topics()
    rules_module.validate(
        config.rules,
        topics,
        config.services,
        known_credentials=config.credentials,
        known_variables=config.variables,
        known_applications=config.gotify,
    )
    for index, rule in enumerate(config.rules):
        at = f"rules[{index}]"
        if rule["do"]["kind"] == "mail" and config.smtp is None:
            raise RuleError(f'{at}.do.kind: "mail" needs the smtp settings, and smtp is null')
        for topic in topics:
            if matches(rule["on"], topic) and not any(matches(item, topic) for item in config.subscribe):
                raise RuleError(
                    f"{at}.on: {show(rule['on'])} matches {topic}, which automation.subscribe "
                    f"{show(list(config.subscribe))} does not receive"
                )


# ---------------------------------------------------------------------------------------------
# small checkers: each names the key path and the value


class _Env:
    """Checks the names of environment variables, and that they are set (unless told not to)."""

    def __init__(self, environ: Mapping[str, str], check: bool) -> None:
        self.environ = environ
        self.check = check

    def name(self, value: Any, at: str, optional: bool = False) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not ENV_NAME.match(value):
            raise ConfigError(f"{at}: {show(value)} is not the name of an environment variable")
        if self.check and not self.environ.get(value):
            raise ConfigError(f"{at}: {show(value)} is not set in the environment (or empty)")
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


def _optional_string(value: Any, at: str) -> str | None:
    return None if value is None else _string(value, at)


def _bool(value: Any, at: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{at}: {show(value)} is not true or false")
    return value


def _int(value: Any, at: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{at}: {show(value)} is not an integer from {low} to {high}")
    return value


def _number(value: Any, at: str, above: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not above < value <= high:
        raise ConfigError(f"{at}: {show(value)} is not a number above {above} and up to {high}")
    return float(value)


def _networks(value: Any, at: str) -> tuple[str, ...]:
    """IPv4 networks in CIDR form (``listen.networks``)."""
    if not isinstance(value, list):
        raise ConfigError(f"{at}: {show(value)} is not a list of IPv4 networks (CIDR)")
    for index, item in enumerate(value):
        try:
            ipaddress.IPv4Network(item)
        except (TypeError, ValueError):
            raise ConfigError(f"{at}[{index}]: {show(item)} is not an IPv4 network (CIDR, e.g. 172.16.0.0/27)") from None
    return tuple(value)
