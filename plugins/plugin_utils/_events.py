# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The event engine's rules as the events stack renders them, checked on the controller.

The rules' language, their validation and the seed's three default flows live in the engine's own
package (``events/kompose_events`` in the collection, stdlib only): this module imports it from
there, so the controller checks a rule with the same code the engine runs, before anything is
written. ``rules`` picks the default rules the inventory keeps (each only where what it needs is
there, else it is left out with the reason) and validates the inventory's own rules strictly.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import uuid
from collections.abc import Mapping

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog

# events/ beside plugins/ in the collection (the checkout, or an installed collection)
EVENTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "events")


class EventsConfigError(ValueError):
    """A rule or a setting of the events stack that cannot work; the message names the key and the value."""


def core():
    """The engine's modules ``rules`` and ``schemas`` (imported from events/ on first use)."""
    if not os.path.isdir(os.path.join(EVENTS_DIR, "kompose_events")):
        raise EventsConfigError("the event engine's package is missing from the collection (%s)" % EVENTS_DIR)
    if EVENTS_DIR not in sys.path:
        sys.path.insert(0, EVENTS_DIR)
    return importlib.import_module("kompose_events.rules"), importlib.import_module("kompose_events.schemas")


def variables_of(value):
    """The names of every ``{$var: name}`` reference in a rule's action (sorted)."""
    found = set()
    if isinstance(value, Mapping):
        if isinstance(value.get("$var"), str):
            found.add(value["$var"])
        for item in value.values():
            found |= set(variables_of(item))
    elif isinstance(value, list):
        for item in value:
            found |= set(variables_of(item))
    return sorted(found)


def _missing(rule, services, credentials, variables, applications, relay):
    """Why a default rule cannot work on this site (None: it can)."""
    action = rule["do"]
    kind = action["kind"]
    if kind == "http" and action["service"] not in services:
        return "its service %s is not enabled (or not in kompose_services.events.calls)" % action["service"]
    if kind == "http" and action.get("credential") and action["credential"] not in credentials:
        return "its credential %s is not in events_credentials" % action["credential"]
    if kind == "gotify" and ("gotify" not in services or action["application"] not in applications):
        return "Gotify (the messaging stack's gotify) is not enabled"
    if kind == "mail" and not relay:
        return "there is no mail relay (kompose_smtp_host is empty)"
    unset = [name for name in variables_of(action) if variables.get(name) in (None, "")]
    if unset:
        return "%s %s not set" % (" and ".join("events_variables.%s" % name for name in unset), "are" if len(unset) > 1 else "is")
    return None


def rules(default_names, own, services, credentials=(), variables=None, applications=(), relay=True):
    """``{rules, left_out}``: the default rules kept and the inventory's own rules, validated.

    ``default_names``: ``events_default_rules``; ``own``: ``events_rules``; ``services``: the
    services the engine may call (its catalog ``calls`` that are enabled, and ``gotify``);
    ``credentials``: the names of ``events_credentials``; ``variables``: ``events_variables``;
    ``applications``: the engine's Gotify applications; ``relay``: whether there is a mail relay.
    A default rule whose service, credential or variable is missing is left out (``left_out``:
    ``[{name, why}]``); an own rule that names something missing fails, naming the key and value.
    """
    rules_module, schemas = core()
    variables = dict(variables or {})
    services = sorted(set(services))
    defaults = {rule["name"]: rule for rule in rules_module.DEFAULT_RULES}
    if not isinstance(default_names, list):
        raise EventsConfigError("events_default_rules: %r is not a list of rule names" % (default_names,))
    kept, left_out = [], []
    for index, name in enumerate(default_names):
        if name not in defaults:
            raise EventsConfigError("events_default_rules[%d]: %r is not a default rule (%s)"
                                    % (index, name, ", ".join(sorted(defaults))))
        why = _missing(defaults[name], services, credentials, variables, applications, relay)
        if why:
            left_out.append({"name": name, "why": why})
        else:
            kept.append(defaults[name])
    if not isinstance(own, list):
        raise EventsConfigError("events_rules: %r is not a list of rules" % (own,))
    for index, rule in enumerate(own):
        if isinstance(rule, Mapping) and isinstance(rule.get("do"), Mapping) and rule["do"].get("kind") == "mail" and not relay:
            raise EventsConfigError("events_rules[%d].do.kind: 'mail', but there is no mail relay (kompose_smtp_host is empty)" % index)
    names = [rule["name"] for rule in kept]
    for index, rule in enumerate(own):
        if isinstance(rule, Mapping) and rule.get("name") in names:
            raise EventsConfigError("events_rules[%d].name: %r is also a default rule: leave it out of events_default_rules"
                                    % (index, rule["name"]))
    everything = kept + list(own)
    set_variables = sorted(name for name, value in variables.items() if value not in (None, ""))
    try:
        rules_module.validate(everything, schemas.known_topics(), services, known_credentials=list(credentials),
                              known_variables=set_variables, known_applications=list(applications))
    except rules_module.RuleError as exc:
        raise EventsConfigError(_own_place(str(exc), len(kept))) from None
    return {"rules": everything, "left_out": left_out}


def _own_place(message, offset):
    """The validator's ``rules[<i>]`` as the inventory's ``events_rules[<i - offset>]`` (or the default's name)."""
    if message.startswith("rules["):
        index = int(message[len("rules["):message.index("]")])
        rest = message[message.index("]") + 1:]
        if index >= offset:
            return "events_rules[%d]%s" % (index - offset, rest)
        return "events_default_rules (rule %d)%s" % (index, rest)
    return message


# The engine's Alertmanager webhook (roles/watch points a receiver there when the source is enabled).
ALERTMANAGER_PATH = "/hooks/alertmanager"
# The sources that read an app's data run beside the app, from the engine's image: catalog service
# -> (source name, kind, the app whose data it reads). A database source reads the app's database
# through its own login role (its catalog postgres.owner), which may SELECT only the columns of
# its mapping (COLUMN_SOURCES: the module of events/kompose_events/sources whose COLUMNS it reads;
# granted by the postgres_column_grants module once the app's migrations made the tables). The
# Alertmanager webhook and the health probe (no app data) run in the engine.
SIDECARS = {
    "vault_events": ("vaultwarden", "vaultwarden-log", "vaultwarden"),
    "link_events": ("linkwarden", "linkwarden-db", "linkwarden"),
    "news_events": ("letterspace", "letterspace-db", "letterspace"),
    "track_events": ("umami", "umami-db", "umami"),
}
COLUMN_SOURCES = {"linkwarden-db": "linkwarden", "letterspace-db": "letterspace", "umami-db": "umami"}
SETTINGS = ("default_rules", "rules", "variables", "credentials", "mail_from", "smtp_host", "smtp_port",
            "retry", "http_timeout", "vaultwarden", "networks", "polling", "probe", "sources")
# The website the default rule bookmark-added-to-umami counts its events in: the umami stack's
# after_up makes it with this id (a UUID derived from Umami's host name) unless
# events_variables.umami_website_id names another one.
UMAMI_WEBSITE_NAME = "Kompose events"
UMAMI_WEBSITE_NAMESPACE = uuid.UUID("6f1c6d1e-8a53-5b0e-9a8e-4b6f6b0e7a11")


def umami_website(catalog):
    """``{id, name, domain}`` of the website the engine's Umami events go to (None without Umami)."""
    if "umami" not in catalog or not catalog["umami"].get("fqdn"):
        return None
    domain = catalog["umami"]["fqdn"]
    return {"id": str(uuid.uuid5(UMAMI_WEBSITE_NAMESPACE, "kompose-events:" + domain)), "name": UMAMI_WEBSITE_NAME, "domain": domain}


def source_columns(kind):
    """The columns (table -> [column]) a database source of ``kind`` reads, from its mapping."""
    core()
    module = importlib.import_module("kompose_events.sources." + COLUMN_SOURCES[kind])
    return {table: list(columns) for table, columns in module.COLUMNS.items()}


def column_grants(catalog):
    """What the ``postgres_column_grants`` module grants: ``[{database, role, tables}]``, one per
    enabled database source beside its app (its login role may read those columns only)."""
    out = []
    for service, spec in SIDECARS.items():
        kind, app = spec[1], spec[2]
        if kind not in COLUMN_SOURCES or service not in catalog or app not in catalog:
            continue
        out.append({"database": _catalog.postgres_names(app, catalog[app]["postgres"])[0],
                    "role": _catalog.postgres_names(service, catalog[service]["postgres"])[1],
                    "tables": source_columns(kind)})
    return out


def _env_name(prefix, name):
    return prefix + re.sub(r"[^A-Z0-9]", "_", name.upper())


def _base(catalog, service, redis_users, prefix, networks):
    """What every process of the engine's image reads: where it listens (only on ``networks``, its own
    and those of the services that call it, never one it shares with an app it calls), the broker, its
    Redis user."""
    user = redis_users[service]
    return {
        "listen": {"host": "0.0.0.0", "port": catalog[service]["port"], "networks": list(networks.get(service) or [])},
        "mqtt": {"host": catalog["mqtt"]["container"], "port": catalog["mqtt"]["port"], "keepalive": 30},
        "redis": {"host": catalog["redis"]["container"], "port": catalog["redis"]["port"],
                  "username": user["name"], "password_env": "EVENTS_REDIS", "prefix": prefix},
    }


def _source(name, kind, user, env):
    return {"name": name, "kind": kind,
            "mqtt": {"client_id": "kompose-events-%s" % name, "username": user["name"], "password_env": env}}


def _check_credentials(credentials):
    if not isinstance(credentials, Mapping):
        raise EventsConfigError("events_credentials: %r is not a mapping of name to {header, prefix, value}" % (type(credentials).__name__,))
    for name, credential in credentials.items():
        if not isinstance(credential, Mapping) or not isinstance(credential.get("header"), str) or not credential.get("value"):
            raise EventsConfigError("events_credentials.%s: needs a header and a value (and optionally a prefix)" % name)
        extra = sorted(set(credential) - {"header", "prefix", "value"})
        if extra:
            raise EventsConfigError("events_credentials.%s.%s: not a key of a credential (header, prefix, value)" % (name, extra[0]))
        value = credential["value"]
        # it goes single-quoted into the 0600 env file (Compose reads it literally): never shown here
        if not isinstance(value, str) or "'" in value or "\n" in value or "\r" in value or value.endswith("\\"):
            raise EventsConfigError("events_credentials.%s.value: must be a string of one line without a single quote, "
                                    "not ending in a backslash (the value is not shown)" % name)


def config(catalog, settings):
    """What the engine's processes read, from the catalog and the role's settings.

    ``settings``: the events role's variables without their ``events_`` prefix (``SETTINGS``), with
    ``vaultwarden: {path, interval, threshold, window_seconds}``, ``networks: {service: [subnet]}``
    (the subnets each process serves HTTP on), ``polling: {interval, settle_seconds, batch}`` (every
    database source), ``sources: {source name: {key: value}}`` (a source's own keys, e.g. umami's
    ``websites``) and ``probe: {interval, timeout}`` (the engine's health probe of the services its
    rules call: the catalog identity ``events_probe``). Returns ``{config, secrets,
    credentials, left_out, sidecars}``: the engine's config.json (no secret in it: each secret is
    named by the environment variable that holds it); ``secrets``, env variable -> the site secret
    that goes there; ``credentials``, env variable -> the name in ``events_credentials`` whose value
    goes there; ``left_out``, the default rules left out with why; ``sidecars``, catalog service ->
    ``{config, secrets}`` for each source that runs beside its app (``SIDECARS``).
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise EventsConfigError("settings: unknown keys %s" % ", ".join(unknown))
    engine = catalog["events"]
    users = {user["service"]: user for user in _catalog.mqtt_users(catalog)}
    redis_users = {user["service"]: user for user in _catalog.redis_users(catalog)}
    calls = [name for name in engine.get("calls") or [] if name in catalog]
    services = {name: "http://%s:%s" % (catalog[name]["container"], catalog[name]["port"]) for name in calls}
    if "gotify" in catalog:
        services["gotify"] = "http://%s:%s" % (catalog["gotify"]["container"], catalog["gotify"]["port"])
    applications = list(engine.get("gotify") or [])
    credentials = settings["credentials"] or {}
    _check_credentials(credentials)
    website = umami_website(catalog)
    variables = {"umami_hostname": website["domain"] if website else "", "umami_website_id": website["id"] if website else ""}
    # the inventory's values over the derived ones (an empty value keeps the derived one)
    variables.update({name: value for name, value in (settings["variables"] or {}).items()
                      if value not in (None, "") or name not in variables})
    relay = bool(settings["smtp_host"])
    chosen = rules(settings["default_rules"], settings["rules"], list(services), credentials=list(credentials),
                   variables=variables, applications=applications, relay=relay)
    topics = importlib.import_module("kompose_events.topics")
    allowed = users["events"]["publish"]
    for index, rule in enumerate(settings["rules"]):
        topic = rule["do"].get("topic") if rule["do"]["kind"] == "publish" else None
        if topic is not None and not any(topics.matches(pattern, topic) for pattern in allowed):
            raise EventsConfigError("events_rules[%d].do.topic: %r is not a topic the engine's broker user may publish (%s): "
                                    "add it to kompose_services.events.mqtt.publish" % (index, topic, ", ".join(allowed)))

    secrets = {"EVENTS_MQTT_AUTOMATION": users["events"]["secret"], "EVENTS_REDIS": redis_users["events"]["secret"]}
    secrets.update({_env_name("EVENTS_GOTIFY_", name): "gotify-token-%s" % name for name in applications})
    sources = []
    if "events_alertmanager" in catalog:
        secrets["EVENTS_MQTT_ALERTMANAGER"] = users["events_alertmanager"]["secret"]
        sources.append(dict(_source("alertmanager", "alertmanager-webhook", users["events_alertmanager"], "EVENTS_MQTT_ALERTMANAGER"),
                            path=ALERTMANAGER_PATH))
    probe = settings.get("probe") or {}
    targets = [{"check": "events-target-%s" % name, "service": name,
                "url": services[name] + catalog[name]["health"].get("path", "/")}
               for name in sorted(services) if isinstance(catalog[name].get("health"), Mapping)]
    if "events_probe" in catalog and targets:
        secrets["EVENTS_MQTT_PROBE"] = users["events_probe"]["secret"]
        sources.append(dict(_source("probe", "health-probe", users["events_probe"], "EVENTS_MQTT_PROBE"), targets=targets, **probe))
    env_credentials = {_env_name("EVENTS_CRED_", name): name for name in credentials}
    networks = settings.get("networks") or {}
    out = _base(catalog, "events", redis_users, "events:", networks)
    out.update({
        "automation": {"client_id": "kompose-events", "username": users["events"]["name"],
                       "password_env": "EVENTS_MQTT_AUTOMATION", "subscribe": users["events"]["subscribe"]},
        "services": services,
        "credentials": {name: {"header": credentials[name]["header"], "prefix": credentials[name].get("prefix", ""), "env": env}
                        for env, name in env_credentials.items()},
        "gotify": {name: {"token_env": _env_name("EVENTS_GOTIFY_", name)} for name in applications},
        "smtp": {"host": settings["smtp_host"], "port": int(settings["smtp_port"]), "from": settings["mail_from"],
                 "starttls": False, "username": None, "password_env": None} if relay else None,
        "variables": variables,
        "rules": chosen["rules"],
        "retry": settings["retry"],
        "http_timeout": settings["http_timeout"],
        "sources": sources,
    })
    sidecars = {}
    for service, (name, kind, app) in SIDECARS.items():
        if service not in catalog:
            continue
        sidecar = _base(catalog, service, redis_users, "events:%s:" % name, networks)
        source = _source(name, kind, users[service], "EVENTS_MQTT")
        sidecar_secrets = {"EVENTS_MQTT": users[service]["secret"], "EVENTS_REDIS": redis_users[service]["secret"]}
        if kind in COLUMN_SOURCES:
            owner = _catalog.postgres_names(service, catalog[service]["postgres"])[1]
            source["database"] = {"host": catalog["postgres"]["container"], "port": catalog["postgres"]["port"],
                                  "dbname": _catalog.postgres_names(app, catalog[app]["postgres"])[0],
                                  "user": owner, "password_env": "EVENTS_DB"}
            source.update(settings.get("polling") or {})
            sidecar_secrets["EVENTS_DB"] = "postgres-%s" % owner
        source.update(settings[name] if name == "vaultwarden" else (settings.get("sources") or {}).get(name) or {})
        if kind == "letterspace-db" and not source.get("article_url") and catalog[app].get("fqdn"):
            # LetterSpace serves no public page of a campaign: by default its page in the dashboard
            source["article_url"] = "https://%s/dashboard/campaigns/{id}" % catalog[app]["fqdn"]
        sidecar.update({"automation": None, "services": {}, "credentials": {}, "gotify": {}, "smtp": None, "variables": {},
                        "rules": [], "retry": settings["retry"], "http_timeout": settings["http_timeout"], "sources": [source]})
        sidecars[service] = {"config": sidecar, "secrets": sidecar_secrets}
    return {"config": out, "secrets": secrets, "credentials": env_credentials, "left_out": chosen["left_out"], "sidecars": sidecars}


def subnets(networks):
    """Service -> the subnets of the networks it is a member of (the planned networks' ``members``),
    where the engine's processes serve HTTP (``settings.networks`` of ``config``)."""
    out = {}
    for network in networks or []:
        for member in network.get("members") or []:
            out.setdefault(member, []).append(network["subnet"])
    return out


def sidecar_files(sidecars, secrets):
    """Service -> the two files of each source beside its app, under its stack's ``events/``: its
    config.json and its 0600 env file (``NAME='secret'``, the secrets its config names)."""
    out = {}
    for service, sidecar in sorted(sidecars.items()):
        missing = sorted(name for name in sidecar["secrets"].values() if name not in secrets)
        if missing:
            raise EventsConfigError("secret %s of service %s is missing" % (missing[0], service))
        env = "".join("%s='%s'\n" % (variable, secrets[name]) for variable, name in sidecar["secrets"].items())
        out[service] = [
            {"path": "events/config.json", "content": json.dumps(sidecar["config"], indent=2) + "\n"},
            {"path": "events/events.env", "mode": "0600", "secret": True,
             "secret_content": "# Managed by pivoine.kompose. The %s source's secrets (mode 0600), named in config.json.\n%s"
                               % (service, env)},
        ]
    return out
