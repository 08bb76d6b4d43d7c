from __future__ import annotations

import copy
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.filter.catalog import FilterModule
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog as c
from ansible_collections.pivoine.kompose.plugins.plugin_utils._filters import wrap

CATALOG = {
    "postgres": {"stack": "core", "container": "core-postgres", "port": 5432, "secrets": {"superuser": {}}},
    "redis": {"stack": "core", "container": "core-redis", "port": 6379},
    "mqtt": {"stack": "core", "container": "core-mqtt", "mqtt": {"user": "healthcheck", "subscribe": ["$SYS/broker/uptime"]}},
    "system": {"stack": "core", "mqtt": {"publish": ["kompose/system/#"]}},
    "linkwarden": {
        "stack": "link", "container": "link_app", "port": 3000, "host": "links", "middleware": "sso-secure",
        "postgres": {"database": "linkwarden"}, "redis": {}, "mqtt": {"publish": ["kompose/linkwarden/#"]},
    },
    "letterpress": {"stack": "news", "container": "news_backend", "host": "news", "postgres": {"database": "letterspace"},
                    "redis": {"keys": ["news:*"], "channels": ["news:*"]}},
}
IMAGES = {"postgres": "postgres:16", "redis": "redis:7", "mqtt": "eclipse-mosquitto:2", "linkwarden": "ghcr.io/linkwarden/linkwarden:v2.9",
          "letterpress": "registry.example.org:5000/team/letterpress@sha256:" + "a" * 64}
KNOWN = ["core", "link", "news"]
REGISTRY = [{"name": "core", "requires": []}, {"name": "link", "requires": ["core"]}, {"name": "news", "requires": ["core"]}]


def resolve(**kwargs):
    args = dict(catalog=CATALOG, stacks=["core"], domain="pivoine.art", images=IMAGES, registry=REGISTRY)
    args.update(kwargs)
    return c.resolve(**args)


def error(**kwargs):
    with pytest.raises(c.CatalogError) as exc:
        resolve(**kwargs)
    return str(exc.value)


def test_only_enabled_stacks_and_derived_fields():
    out = resolve(stacks=["core", "link"])
    assert sorted(out) == ["linkwarden", "mqtt", "postgres", "redis", "system"]
    assert out["linkwarden"]["fqdn"] == "links.pivoine.art"
    assert out["linkwarden"]["image"] == IMAGES["linkwarden"]
    assert out["linkwarden"]["name"] == "linkwarden"
    assert "image" not in out["system"] and "fqdn" not in out["postgres"]


def test_disabled_service_is_left_out():
    out = resolve(stacks=["core", "link"], overrides={"linkwarden": {"enabled": False}, "postgres": {"enabled": False}},
                  images={"mqtt": IMAGES["mqtt"], "redis": IMAGES["redis"]})
    assert sorted(out) == ["mqtt", "redis", "system"]  # no image needed for what is disabled


def test_input_catalog_is_not_mutated():
    before = copy.deepcopy(CATALOG)
    resolve(stacks=KNOWN, overrides={"linkwarden": {"host": "bookmarks"}})
    assert CATALOG == before


def test_overrides_merge_deeply_and_add_services():
    out = resolve(stacks=["core", "link"], overrides={
        "linkwarden": {"host": "id.example.org", "postgres": {"extensions": ["pg_trgm", "uuid-ossp"]}},
        "grocy": {"stack": "link", "container": "grocy", "image": "lscr.io/linuxserver/grocy:4", "host": "food"},
    })
    assert out["linkwarden"]["fqdn"] == "id.example.org"
    assert out["linkwarden"]["postgres"] == {"database": "linkwarden", "extensions": ["pg_trgm", "uuid-ossp"]}
    assert out["grocy"]["fqdn"] == "food.pivoine.art"
    assert out["grocy"]["image"] == "lscr.io/linuxserver/grocy:4"


@pytest.mark.parametrize("kwargs,message", [
    (dict(domain="not a domain"), "kompose_domain: 'not a domain' is not a DNS domain name"),
    (dict(domain="localhost"), "kompose_domain: 'localhost' is not a DNS domain name"),
    (dict(domain="Pivoine.Art"), "kompose_domain: 'Pivoine.Art' is not a DNS domain name"),
    (dict(domain=None), "kompose_domain: None is not a DNS domain name"),
    (dict(stacks=["core", "media"]), "kompose_stacks: 'media' is not a known stack (core, link, news)"),
    (dict(stacks=[]), "kompose_stacks: [] must be a non-empty list"),
    (dict(stacks="core"), "kompose_stacks: 'core' must be a non-empty list"),
    (dict(overrides=["x"]), "kompose_services: expected a mapping"),
    (dict(overrides={"linkwarden": {"host": "bad_host!"}}), "kompose_services.linkwarden.host: 'bad_host!' is neither a DNS label nor a domain name"),
    (dict(overrides={"linkwarden": {"hots": "x"}}), "kompose_services.linkwarden: unknown key(s) hots"),
    (dict(overrides={"new": {"container": "x"}}), "kompose_services.new.stack: None is not a known stack"),
    (dict(overrides={"Bad-Name": {"stack": "core"}}), "kompose_services.Bad-Name: service name 'Bad-Name' must match"),
    (dict(overrides={"postgres": {"port": 70000}}), "kompose_services.postgres.port: 70000 is not a TCP port"),
    (dict(overrides={"postgres": {"enabled": "no"}}), "kompose_services.postgres.enabled: 'no' is not a boolean"),
    (dict(overrides={"system": {"mqtt": {"publish": ["kompose/#/x"]}}}),
     "kompose_services.system.mqtt.publish: 'kompose/#/x' is not a valid MQTT topic filter"),
    (dict(overrides={"system": {"mqtt": {"publish": ["kompose/a+"]}}}), "'kompose/a+' is not a valid MQTT topic filter"),
    (dict(overrides={"system": {"mqtt": {"subscribe": [""]}}}), "'' is not a valid MQTT topic filter"),
    (dict(images={}), "kompose_images.postgres: no image for service 'postgres' (stack core)"),
    (dict(images=dict(IMAGES, postgres="Postgres:16")), "kompose_images.postgres: 'Postgres:16' is not a valid image reference"),
    (dict(images=dict(IMAGES, postgres="postgres:16 --privileged")), "is not a valid image reference"),
    (dict(stacks=["core", "link"], middlewares=["sso-secure-limited"]),
     "kompose_services.linkwarden.middleware: 'sso-secure' is not a defined middleware (sso-secure-limited)"),
    (dict(overrides={"linkwarden": {"volumes": ["Data Volume"]}}),
     "kompose_services.linkwarden.volumes: 'Data Volume' is not a compose volume name of the service"),
])
def test_validation_names_variable_and_value(kwargs, message):
    with pytest.raises(c.CatalogError, match=re.escape(message)):
        resolve(**kwargs)


@pytest.mark.parametrize("image", [
    "postgres", "postgres:16", "docker.io/library/postgres:16.4-bookworm", "localhost:5000/a/b_c__d-e:1",
    "kompose-lab/postgres:15", "ghcr.io/x/y@sha256:" + "0" * 64,
])
def test_valid_images(image):
    assert resolve(images=dict(IMAGES, postgres=image))["postgres"]["image"] == image


# --- the stack registry ---------------------------------------------------------------------------

def test_registry_names_the_known_stacks_in_its_order():
    registry = [{"name": "news", "requires": ["core"]}, {"name": "core"}, {"name": "link", "requires": None}]
    assert error(registry=registry, stacks=["media"]) == "kompose_stacks: 'media' is not a known stack (news, core, link)"
    assert sorted(resolve(registry=registry, stacks=["link", "core"])) == ["linkwarden", "mqtt", "postgres", "redis", "system"]


def test_without_a_registry_the_catalogs_stacks_are_known_and_need_nothing():
    assert error(registry=None, stacks=["media"]) == "kompose_stacks: 'media' is not a known stack (core, link, news)"
    overrides = {"linkwarden": {"postgres": None, "redis": None, "mqtt": None}}
    assert sorted(resolve(registry=None, stacks=["link"], overrides=overrides)) == ["linkwarden"]


@pytest.mark.parametrize("stacks,message", [
    (["link"], "kompose_stacks: stack 'link' needs 'core', which is not enabled"),
    (["news", "link"], "kompose_stacks: stack 'news' needs 'core', which is not enabled"),
])
def test_a_stack_needs_the_stacks_it_requires(stacks, message):
    assert error(stacks=stacks) == message


@pytest.mark.parametrize("registry,message", [
    ("core", "stack registry: expected a list of {name, requires}, got 'core'"),
    (["core"], "stack registry: 'core' is not a mapping with a name and a list of required stacks"),
    ([{"name": "core", "requires": "x"}], "stack registry: {'name': 'core', 'requires': 'x'} is not a mapping with a name and a list of required stacks"),
    ([{"name": "core"}, {"name": "core"}], "stack registry: stack 'core' is listed twice"),
    ([{"name": "core", "requires": ["base"]}], "stack registry: stack 'core' requires 'base', which is not a known stack (core)"),
])
def test_malformed_registry(registry, message):
    assert error(registry=registry) == message


# --- every key a consumer uses ---------------------------------------------------------------------

@pytest.mark.parametrize("overrides,message", [
    ({"postgres": {"container": "x y"}}, "kompose_services.postgres.container: 'x y' is not a valid container name (letters, digits, _ . -)"),
    ({"postgres": {"container": "-x"}}, "kompose_services.postgres.container: '-x' is not a valid container name (letters, digits, _ . -)"),
    ({"postgres": {"container": "x" * 64}}, "kompose_services.postgres.container: '%s' is not a valid container name (letters, digits, _ . -)" % ("x" * 64)),
    ({"postgres": {"container": 5}}, "kompose_services.postgres.container: 5 is not a valid container name (letters, digits, _ . -)"),
    ({"postgres": {"description": ["x"]}}, "kompose_services.postgres.description: ['x'] is not a string"),
    ({"postgres": {"smtp": "yes"}}, "kompose_services.postgres.smtp: 'yes' is not a boolean"),
    ({"postgres": {"middleware": ["a"]}}, "kompose_services.postgres.middleware: ['a'] is not a middleware name"),
    ({"postgres": "x"}, "kompose_services.postgres: expected a mapping, got 'x'"),
    # postgres
    ({"system": {"postgres": "yes"}}, "kompose_services.system.postgres: expected a mapping with database/owner/extensions/roles/reads, got 'yes'"),
    ({"system": {"postgres": {"db": "x"}}}, "kompose_services.system.postgres: unknown key(s) db (known: database, extensions, owner, reads, roles)"),
    ({"system": {"postgres": {"database": "Sys"}}},
     "kompose_services.system.postgres.database: 'Sys' is not a valid PostgreSQL name (lower-case letters, digits, _; not starting with a digit; at most 63)"),
    ({"system": {"postgres": {"owner": "a;drop"}}},
     "kompose_services.system.postgres.owner: 'a;drop' is not a valid PostgreSQL name (lower-case letters, digits, _; not starting with a digit; at most 63)"),
    ({"system": {"postgres": {"database": None, "owner": None}}},
     "kompose_services.system.postgres.owner: None is not a valid PostgreSQL name (lower-case letters, digits, _; not starting with a digit; at most 63)"),
    ({"system": {"postgres": {"owner": "pg_monitor"}}},
     "kompose_services.system.postgres.owner: 'pg_monitor' is a reserved PostgreSQL role name (public, pg_*)"),
    ({"system": {"postgres": {"database": "public"}}}, "kompose_services.system.postgres.owner: 'public' is a reserved PostgreSQL role name (public, pg_*)"),
    ({"system": {"postgres": {"roles": "pg_monitor"}}}, "kompose_services.system.postgres.roles: expected a list, got 'pg_monitor'"),
    ({"system": {"postgres": {"roles": ["pg monitor"]}}},
     "kompose_services.system.postgres.roles: 'pg monitor' is not a valid PostgreSQL name "
     "(lower-case letters, digits, _; not starting with a digit; at most 63)"),
    ({"system": {"postgres": {"roles": ["system"]}}}, "kompose_services.system.postgres.roles: 'system' is the owner role itself"),
    ({"system": {"postgres": {"extensions": ["pg_trgm;"]}}},
     "kompose_services.system.postgres.extensions: 'pg_trgm;' is not a valid PostgreSQL extension name (lower-case letters, digits, _ -)"),
    ({"system": {"postgres": {"database": None, "extensions": ["pg_trgm"]}}},
     "kompose_services.system.postgres.extensions: ['pg_trgm'] needs a database (postgres.database is null: a login role only)"),
    # redis
    ({"system": {"redis": ["x"]}}, "kompose_services.system.redis: expected a mapping with user/keys/channels/commands, got ['x']"),
    ({"system": {"redis": {"key": []}}}, "kompose_services.system.redis: unknown key(s) key (known: channels, commands, keys, user)"),
    ({"system": {"redis": {"user": "default"}}},
     "kompose_services.system.redis.user: 'default' is not a valid Redis user name (letters, digits, _ . -; not 'default')"),
    ({"system": {"redis": {"user": "a b"}}},
     "kompose_services.system.redis.user: 'a b' is not a valid Redis user name (letters, digits, _ . -; not 'default')"),
    ({"system": {"redis": {"user": "x" * 65}}},
     "kompose_services.system.redis.user: '%s' is not a valid Redis user name (letters, digits, _ . -; not 'default')" % ("x" * 65)),
    ({"system": {"redis": {"keys": ["a b"]}}}, "kompose_services.system.redis.keys: 'a b' is not a Redis key pattern (non-empty, no whitespace)"),
    ({"system": {"redis": {"keys": "system:*"}}}, "kompose_services.system.redis.keys: expected a list, got 'system:*'"),
    ({"system": {"redis": {"channels": [""]}}}, "kompose_services.system.redis.channels: '' is not a Redis channel pattern (non-empty, no whitespace)"),
    ({"system": {"redis": {"commands": ["+@all\non nopass"]}}},
     "kompose_services.system.redis.commands: '+@all\\non nopass' is not a Redis command rule (non-empty, no whitespace)"),
    ({"system": {"redis": {"commands": [3]}}}, "kompose_services.system.redis.commands: 3 is not a Redis command rule (non-empty, no whitespace)"),
    # mqtt
    ({"system": {"mqtt": "yes"}}, "kompose_services.system.mqtt: expected a mapping with user/publish/subscribe, got 'yes'"),
    ({"system": {"mqtt": {"topics": []}}}, "kompose_services.system.mqtt: unknown key(s) topics (known: publish, subscribe, user)"),
    ({"system": {"mqtt": {"user": "a:b"}}}, "kompose_services.system.mqtt.user: 'a:b' is not a valid MQTT user name (letters, digits, _ . -)"),
    ({"system": {"mqtt": {"user": "a\nb"}}}, "kompose_services.system.mqtt.user: 'a\\nb' is not a valid MQTT user name (letters, digits, _ . -)"),
    ({"system": {"mqtt": {"publish": "kompose/#"}}}, "kompose_services.system.mqtt.publish: expected a list of topic filters, got 'kompose/#'"),
    # metrics
    ({"system": {"metrics": True}}, "kompose_services.system.metrics: expected a mapping with target/port/path/scheme, got True"),
    ({"system": {"metrics": {"url": 1}}}, "kompose_services.system.metrics: unknown key(s) url (known: path, port, scheme, target)"),
    ({"system": {"metrics": {"port": 0}}}, "kompose_services.system.metrics.port: 0 is not a port number (1-65535), or is set beside a target"),
    ({"system": {"metrics": {"port": "9091"}}}, "kompose_services.system.metrics.port: '9091' is not a port number (1-65535), or is set beside a target"),
    ({"system": {"metrics": {"port": 9091, "target": "h:1"}}},
     "kompose_services.system.metrics.port: 9091 is not a port number (1-65535), or is set beside a target"),
    ({"system": {"metrics": {"target": "host"}}}, "kompose_services.system.metrics.target: 'host' is not host:port"),
    ({"system": {"metrics": {"target": "host:70000"}}}, "kompose_services.system.metrics.target: 'host:70000' is not host:port"),
    ({"system": {"metrics": {"path": "metrics"}}}, "kompose_services.system.metrics.path: 'metrics' is not an absolute URL path"),
    ({"system": {"metrics": {"scheme": "ftp"}}}, "kompose_services.system.metrics.scheme: 'ftp' is neither http nor https"),
    # oidc
    ({"system": {"oidc": "yes"}},
     "kompose_services.system.oidc: expected true, false or a mapping with client_id/secret/redirect_paths/service_account, got 'yes'"),
    ({"system": {"oidc": {"client": "x"}}}, "kompose_services.system.oidc: unknown key(s) client (known: client_id, redirect_paths, secret, service_account)"),
    ({"system": {"oidc": {"client_id": "a b"}}}, "kompose_services.system.oidc.client_id: 'a b' is not a valid OIDC client id (letters, digits, _ . -)"),
    ({"system": {"oidc": {"secret": "Client"}}}, "kompose_services.system.oidc.secret: 'Client' is not a secret purpose (lower-case letters, digits, _ -)"),
    ({"system": {"oidc": {"redirect_paths": "/cb"}}}, "kompose_services.system.oidc.redirect_paths: expected a list, got '/cb'"),
    ({"system": {"oidc": {"redirect_paths": ["cb"]}}},
     "kompose_services.system.oidc.redirect_paths: 'cb' is not an absolute path (starting with /, no whitespace)"),
    # secrets
    ({"system": {"secrets": ["token"]}}, "kompose_services.system.secrets: expected a mapping of purpose to null or {kind, length}, got ['token']"),
    ({"system": {"secrets": {"Api-token": {}}}}, "kompose_services.system.secrets: 'Api-token' is not a secret purpose (lower-case letters, digits, _ -)"),
    ({"system": {"secrets": {"token": "hex"}}}, "kompose_services.system.secrets.token: expected null or a mapping with kind/length/rotates, got 'hex'"),
    ({"system": {"secrets": {"token": {"size": 1}}}}, "kompose_services.system.secrets.token: unknown key(s) size (known: kind, length, rotates)"),
    ({"system": {"secrets": {"token": {"kind": "uuid"}}}}, "kompose_services.system.secrets.token.kind: 'uuid' is not one of base64, hex, password"),
    ({"system": {"secrets": {"token": {"length": 8}}}}, "kompose_services.system.secrets.token.length: 8 is not a whole number from 16 to 1024"),
    ({"system": {"secrets": {"token": {"length": True}}}}, "kompose_services.system.secrets.token.length: True is not a whole number from 16 to 1024"),
])
def test_entry_keys_are_validated(overrides, message):
    assert error(overrides=overrides) == message


def test_entry_checks_apply_to_disabled_services_too():
    assert error(overrides={"linkwarden": {"container": "link app"}}) == (
        "kompose_services.linkwarden.container: 'link app' is not a valid container name (letters, digits, _ . -)")
    assert error(overrides={"postgres": {"enabled": False, "smtp": 1}}) == "kompose_services.postgres.smtp: 1 is not a boolean"


def test_valid_keys_pass():
    out = resolve(overrides={"system": {
        "description": "x", "host": "system", "smtp": True, "secrets": {"token": None, "key": {"kind": "hex", "length": 16}},
        "oidc": {"client_id": "Sys.tem-1", "secret": "token", "redirect_paths": ["/cb"]},
        "metrics": {"target": "core-system:9100", "path": "/m", "scheme": "https"},
        "redis": {"user": "sys.tem-1", "keys": ["~sys:*"], "channels": [], "commands": ["+get"]},
        "postgres": {"database": None, "owner": "_sys", "roles": ["pg_monitor", "pg_read_all_stats"], "extensions": []},
    }})
    assert out["system"]["postgres"] == {"database": None, "owner": "_sys", "roles": ["pg_monitor", "pg_read_all_stats"], "extensions": []}


# --- what the enabled services share ----------------------------------------------------------------

@pytest.mark.parametrize("overrides,message", [
    ({"linkwarden": {"container": "core-postgres"}}, "kompose_services.postgres.container: 'core-postgres' is already the container of service linkwarden"),
    ({"linkwarden": {"redis": {"user": "letterpress"}}},
     "kompose_services.linkwarden.redis.user: 'letterpress' is already the Redis user of service letterpress"),
    ({"letterpress": {"mqtt": {"user": "linkwarden"}}}, "kompose_services.linkwarden.mqtt.user: 'linkwarden' is already the MQTT user of service letterpress"),
    ({"system": {"mqtt": {"user": "healthcheck"}}}, "kompose_services.system.mqtt.user: 'healthcheck' is already the MQTT user of service mqtt"),
    ({"linkwarden": {"postgres": {"database": "letterspace", "owner": "lw"}}},
     "kompose_services.linkwarden.postgres.database: 'letterspace' is already the PostgreSQL database of service letterpress"),
    ({"linkwarden": {"postgres": {"owner": "letterspace"}}},
     "kompose_services.linkwarden.postgres.owner: 'letterspace' is already the PostgreSQL owner of service letterpress"),
    ({"system": {"postgres": {"database": None, "owner": "linkwarden"}}},
     "kompose_services.system.postgres.owner: 'linkwarden' is already the PostgreSQL owner of service linkwarden"),
])
def test_enabled_services_do_not_share_names(overrides, message):
    assert error(stacks=KNOWN, overrides=overrides) == message


def test_disabled_services_may_share_names():
    overrides = {"letterpress": {"enabled": False, "container": "link_app", "redis": {"user": "linkwarden"},
                                 "postgres": {"database": "linkwarden"}}}
    out = resolve(stacks=KNOWN, overrides=overrides)
    assert "letterpress" not in out and out["linkwarden"]["container"] == "link_app"


@pytest.mark.parametrize("overrides,message", [
    ({"postgres": {"enabled": False}},
     "kompose_services.letterpress.postgres: needs the PostgreSQL server (service 'postgres' of the core stack), which is not enabled"),
    ({"redis": {"enabled": False}}, "kompose_services.letterpress.redis: needs the Redis server (service 'redis' of the core stack), which is not enabled"),
    ({"mqtt": {"enabled": False}}, "kompose_services.linkwarden.mqtt: needs the MQTT broker (service 'mqtt' of the core stack), which is not enabled"),
])
def test_services_need_the_core_servers(overrides, message):
    assert error(stacks=KNOWN, overrides=overrides) == message


def test_a_disabled_service_needs_no_server():
    out = resolve(stacks=KNOWN, overrides={"redis": {"enabled": False}, "linkwarden": {"redis": None}, "letterpress": {"enabled": False}})
    assert "redis" not in out and c.redis_users(out) == []


@pytest.mark.parametrize("overrides,message", [
    ({"redis": {"secrets": {"admin": {}}}, "linkwarden": {"redis": {"user": "admin"}}},
     "kompose_services.linkwarden.redis.user: 'admin' needs the secret 'redis-admin', which kompose_services.redis.secrets.admin already uses"),
    ({"linkwarden": {"postgres": {"owner": "superuser"}}},
     "kompose_services.linkwarden.postgres.owner: 'superuser' needs the secret 'postgres-superuser', "
     "which kompose_services.postgres.secrets.superuser already uses"),
    ({"linkwarden": {"mqtt": {"user": "Link"}}},
     "kompose_services.linkwarden.mqtt.user: 'Link' needs the secret 'mqtt-Link', which is not a valid secret name (lower-case letters, digits, _ . -)"),
])
def test_secret_names_are_valid_and_unique(overrides, message):
    assert error(stacks=["core", "link"], overrides=overrides) == message


@pytest.mark.parametrize("kwargs,message", [
    (dict(catalog=["postgres"]), "service catalog: expected a mapping of service name to entry, got ['postgres']"),
    (dict(catalog=dict(CATALOG, system="x")), "service catalog: entry 'system': expected a mapping, got 'x'"),
    (dict(overrides={"system": "off"}), "kompose_services.system: expected a mapping, got 'off'"),
    (dict(overrides={1: {"stack": "core"}}), "kompose_services.1: service name 1 must match ^[a-z][a-z0-9_]{0,62}$"),
    (dict(images=["postgres:16"]), "kompose_images: expected a mapping of service name to image, got ['postgres:16']"),
    (dict(middlewares="sso-secure"), "middlewares: expected a list of middleware names, got 'sso-secure'"),
    (dict(stacks=[["core"]]), "kompose_stacks: ['core'] is not a known stack (core, link, news)"),
])
def test_bad_input_shapes_are_catalog_errors(kwargs, message):
    assert error(**kwargs) == message


# --- views -------------------------------------------------------------------------------------------

def test_derived_views():
    out = resolve(stacks=KNOWN)
    assert c.postgres_databases(out) == [
        {"service": "letterpress", "name": "letterspace", "owner": "letterspace", "extensions": [], "roles": [],
         "readers": [], "secret": "postgres-letterspace"},
        {"service": "linkwarden", "name": "linkwarden", "owner": "linkwarden", "extensions": [], "roles": [],
         "readers": [], "secret": "postgres-linkwarden"},
    ]
    assert c.redis_users(out) == [
        {"service": "letterpress", "name": "letterpress", "keys": ["news:*"], "channels": ["news:*"],
         "commands": ["+@all", "-@dangerous"], "secret": "redis-letterpress"},
        {"service": "linkwarden", "name": "linkwarden", "keys": ["linkwarden:*"], "channels": [],
         "commands": ["+@all", "-@dangerous"], "secret": "redis-linkwarden"},
    ]
    assert c.mqtt_users(out) == [
        {"service": "linkwarden", "name": "linkwarden", "publish": ["kompose/linkwarden/#"], "subscribe": [], "secret": "mqtt-linkwarden"},
        {"service": "mqtt", "name": "healthcheck", "publish": [], "subscribe": ["$SYS/broker/uptime"], "secret": "mqtt-healthcheck"},
        {"service": "system", "name": "system", "publish": ["kompose/system/#"], "subscribe": [], "secret": "mqtt-system"},
    ]
    assert [spec["name"] for spec in c.secret_specs(out)] == [
        "postgres-superuser", "postgres-letterspace", "postgres-linkwarden", "redis-letterpress", "redis-linkwarden",
        "mqtt-linkwarden", "mqtt-healthcheck", "mqtt-system",
    ]


def test_databases_for_the_module():
    out = resolve(stacks=KNOWN)
    secrets = {"postgres-letterspace": "s1", "postgres-linkwarden": "s2"}
    assert c.postgres_databases(out, secrets=secrets) == [
        {"name": "letterspace", "owner": "letterspace", "extensions": [], "readers": [], "owner_roles": [], "password": "s1"},
        {"name": "linkwarden", "owner": "linkwarden", "extensions": [], "readers": [], "owner_roles": [], "password": "s2"},
    ]
    with pytest.raises(c.CatalogError, match="secret 'postgres-linkwarden' of service 'linkwarden' is missing"):
        c.postgres_databases(out, secrets={"postgres-letterspace": "s1"})


MONITOR = {"monitor": {"stack": "core", "container": "core-monitor", "image": "pe:1",
                       "postgres": {"database": None, "roles": ["pg_monitor"]}, "secrets": {"token": {"kind": "hex"}}}}


def test_login_only_postgres_entry_and_roles():
    out = resolve(overrides=dict(MONITOR, system={"postgres": {"owner": "sys", "extensions": ["pg_trgm"], "roles": ["pg_read_all_data"]}}))
    assert c.postgres_databases(out) == [
        {"service": "monitor", "name": None, "owner": "monitor", "extensions": [], "roles": ["pg_monitor"], "readers": [],
         "secret": "postgres-monitor"},
        {"service": "system", "name": "system", "owner": "sys", "extensions": ["pg_trgm"], "roles": ["pg_read_all_data"],
         "readers": [], "secret": "postgres-sys"},
    ]
    assert c.postgres_databases(out, secrets={"postgres-monitor": "m", "postgres-sys": "s"}) == [
        {"owner": "monitor", "owner_roles": ["pg_monitor"], "password": "m"},
        {"name": "system", "owner": "sys", "extensions": ["pg_trgm"], "readers": [], "owner_roles": ["pg_read_all_data"],
         "password": "s"},
    ]
    assert c.secret_specs(out) == [
        {"name": "monitor-token", "kind": "hex"}, {"name": "postgres-superuser"}, {"name": "postgres-monitor"},
        {"name": "postgres-sys"}, {"name": "mqtt-healthcheck"}, {"name": "mqtt-system"},
    ]


def test_reads_make_a_read_only_login_of_another_database():
    # the reader sorts after the database it reads, and still comes first: the module needs the role to exist
    reader = {"zreader": {"stack": "core", "postgres": {"database": None, "reads": ["linkwarden"]}}}
    out = resolve(stacks=KNOWN, overrides=reader)
    dbs = c.postgres_databases(out, secrets={"postgres-letterspace": "s1", "postgres-linkwarden": "s2", "postgres-zreader": "r"})
    assert dbs == [
        {"owner": "zreader", "owner_roles": [], "password": "r"},
        {"name": "letterspace", "owner": "letterspace", "extensions": [], "readers": [], "owner_roles": [], "password": "s1"},
        {"name": "linkwarden", "owner": "linkwarden", "extensions": [], "readers": ["zreader"], "owner_roles": [], "password": "s2"},
    ]


@pytest.mark.parametrize("reads, message", [
    (["nothing"], "kompose_services.zreader.postgres.reads: 'nothing' is not an enabled service with a PostgreSQL database"),
    (["system"], "kompose_services.zreader.postgres.reads: 'system' is not an enabled service with a PostgreSQL database"),
    ("linkwarden", "kompose_services.zreader.postgres.reads: expected a list"),
])
def test_reads_must_name_an_enabled_database(reads, message):
    reader = {"zreader": {"stack": "core", "postgres": {"database": None, "reads": reads}}}
    assert error(stacks=KNOWN, overrides=reader).startswith(message)


def test_gotify_applications_need_gotify_and_unique_names():
    bridge = {"bridge": {"stack": "core", "gotify": ["alerts", "security-alerts"]}}
    with pytest.raises(c.CatalogError, match="kompose_services.bridge.gotify: needs Gotify"):
        resolve(overrides=bridge)
    gotify = {"gotify": {"stack": "core", "container": "g", "image": "g:3", "port": 80}}
    out = resolve(overrides=dict(bridge, **gotify))
    assert c.gotify_applications(out) == [
        {"service": "bridge", "name": "alerts", "secret": "gotify-token-alerts"},
        {"service": "bridge", "name": "security-alerts", "secret": "gotify-token-security-alerts"},
    ]
    twice = dict(bridge, other={"stack": "core", "gotify": ["alerts"]}, **gotify)
    with pytest.raises(c.CatalogError, match="kompose_services.other.gotify: 'alerts' is already the Gotify application of service bridge"):
        resolve(overrides=twice)
    with pytest.raises(c.CatalogError, match="kompose_services.bridge.gotify"):
        resolve(overrides={"bridge": {"stack": "core", "gotify": ["Bad Name"]}})


def test_login_only_owner_may_be_named():
    out = resolve(overrides={"monitor": dict(MONITOR["monitor"], postgres={"database": None, "owner": "kompose_monitor"})})
    assert [(db["name"], db["owner"], db["secret"]) for db in c.postgres_databases(out)] == [(None, "kompose_monitor", "postgres-kompose_monitor")]


def test_secret_specs_name_each_secret_once():
    shared = {"a": {"postgres": {"owner": "shared"}}, "b": {"postgres": {"owner": "shared", "database": None}}}
    assert c.secret_specs(shared) == [{"name": "postgres-shared"}]


ROUTED = {
    "traefik": {"stack": "proxy", "container": "proxy_app", "image": "traefik:v3", "port": 8080, "host": "traefik", "middleware": "sso-internal-only"},
    "oauth2_proxy": {"stack": "proxy", "container": "auth_oauth2_proxy", "image": "op:7", "port": 4180, "host": "sso", "middleware": "rate-limit",
                     "description": "OAuth2 Proxy", "oidc": {"client_id": "oauth2-proxy", "secret": "client", "redirect_paths": ["/oauth2/callback"]},
                     "secrets": {"client": {}}},
    "grafana": {"stack": "proxy", "container": "watch_grafana", "image": "grafana:12", "port": 3000, "host": "grafana", "oidc": True,
                "secrets": {"oidc": {}}},
    "portless": {"stack": "proxy", "container": "portless", "image": "x:1", "host": "portless"},
    "hostless": {"stack": "proxy", "container": "hostless", "image": "x:1", "port": 80},
    "external": {"stack": "proxy", "container": "ext", "image": "x:1", "port": 80, "host": "files.example.org", "middleware": "sso-secure",
                 "oidc": False},
    "internal_only": {"stack": "proxy", "host": "dash"},
}


def routed(**overrides):
    return c.resolve(ROUTED, ["proxy"], "pivoine.art", overrides=overrides)


def test_routes():
    def route(name, fqdn, middleware, sso, service, url, prefixes=(), oauth2=None):
        oauth2 = sso if oauth2 is None else oauth2
        return {"name": name, "fqdn": fqdn, "prefixes": list(prefixes), "exact": [], "middleware": middleware, "sso": sso,
                "oauth2": oauth2, "oauth2_priority": 9000 if oauth2 else None, "service": service, "url": url, "priority": 1}

    assert c.routes(routed(), "security-headers", ["sso-secure", "sso-internal-only"], {"traefik": "api@internal", "internal_only": "x@file"}) == [
        route("external", "files.example.org", "sso-secure", True, "external", "http://ext:80"),
        route("grafana", "grafana.pivoine.art", "security-headers", False, "grafana", "http://watch_grafana:3000"),
        route("internal_only", "dash.pivoine.art", "security-headers", False, "x@file", ""),
        route("oauth2_proxy", "sso.pivoine.art", "rate-limit", False, "oauth2_proxy", "http://auth_oauth2_proxy:4180"),
        route("traefik", "traefik.pivoine.art", "sso-internal-only", True, "api@internal", ""),
    ]
    assert c.routes(routed(), "compression", [], {}) == [
        route(name, fqdn, middleware, False, name, url)
        for name, fqdn, middleware, url in [
            ("external", "files.example.org", "sso-secure", "http://ext:80"),
            ("grafana", "grafana.pivoine.art", "compression", "http://watch_grafana:3000"),
            ("oauth2_proxy", "sso.pivoine.art", "rate-limit", "http://auth_oauth2_proxy:4180"),
            ("traefik", "traefik.pivoine.art", "sso-internal-only", "http://proxy_app:8080"),
        ]]


def test_path_routes_share_the_host_and_its_service():
    paths = [{"name": "admin", "prefixes": ["/admin", "/realms/master"], "middleware": "sso-internal-only"},
             {"name": "api", "prefixes": ["/api"], "exact": ["/health"], "middleware": "rate-limit"}]
    catalog = routed(grafana={"middleware": "compression", "paths": paths})
    out = [r for r in c.routes(catalog, "compression", ["sso-internal-only"], {}) if r["fqdn"] == "grafana.pivoine.art"]
    assert out == [
        {"name": "grafana", "fqdn": "grafana.pivoine.art", "prefixes": [], "exact": [], "middleware": "compression", "sso": False, "oauth2": False,
         "oauth2_priority": None, "service": "grafana", "url": "http://watch_grafana:3000", "priority": 1},
        {"name": "grafana-admin", "fqdn": "grafana.pivoine.art", "prefixes": ["/admin", "/realms/master"], "exact": [], "middleware": "sso-internal-only",
         "sso": True, "oauth2": True, "oauth2_priority": 9000, "service": "grafana", "url": "", "priority": 7014},
        {"name": "grafana-api", "fqdn": "grafana.pivoine.art", "prefixes": ["/api"], "exact": ["/health"], "middleware": "rate-limit", "sso": False,
         "oauth2": False, "oauth2_priority": None, "service": "grafana", "url": "", "priority": 2007},
    ]


@pytest.mark.parametrize("paths,message", [
    ({"name": "a"}, r"kompose_services.grafana.paths: expected a list of \{name, prefixes, exact, middleware\}"),
    ([{"name": "a", "prefixes": ["/a"]}], r"paths\[0\]: expected a mapping with name, middleware and prefixes and/or exact"),
    ([{"name": "a", "middleware": "compression"}], r"paths\[0\]: expected a mapping with name, middleware and prefixes and/or exact"),
    ([{"name": "a", "exact": [], "middleware": "compression"}], r"paths\[0\].exact: \[\] is not a non-empty list of URL paths"),
    ([{"name": "Admin", "prefixes": ["/a"], "middleware": "compression"}], r"paths\[0\].name: 'Admin' is not a unique path name"),
    ([{"name": "a", "prefixes": ["/a"], "middleware": "compression"}, {"name": "a", "prefixes": ["/b"], "middleware": "compression"}],
     r"paths\[1\].name: 'a' is not a unique path name"),
    ([{"name": "a", "prefixes": ["admin"], "middleware": "compression"}], r"paths\[0\].prefixes: \['admin'\] is not a non-empty list"),
    ([{"name": "a", "prefixes": ["/a b"], "middleware": "compression"}], r"paths\[0\].prefixes"),
    ([{"name": "a", "prefixes": ["/a"], "middleware": "open-door"}], r"paths\[0\].middleware: 'open-door' is not a defined middleware"),
])
def test_bad_paths_name_the_key(paths, message):
    with pytest.raises(c.CatalogError, match=message):
        c.resolve(ROUTED, ["proxy"], "pivoine.art", overrides={"grafana": {"paths": paths}},
                  middlewares=["compression", "rate-limit", "sso-internal-only", "sso-secure"])


@pytest.mark.parametrize("args,message", [
    (("", [], {}), "default_middleware: '' is not a middleware name"),
    (("compression", "sso-secure", {}), "sso_middlewares: expected a list of middleware names, got 'sso-secure'"),
    (("compression", [], ["traefik"]), "internal_services: expected a mapping of service name to Traefik service, got ['traefik']"),
])
def test_routes_arguments(args, message):
    with pytest.raises(c.CatalogError) as exc:
        c.routes({}, *args)
    assert str(exc.value) == message


def _mappers(client_id):
    return [
        {"name": "audience", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper", "consentRequired": False,
         "config": {"included.client.audience": client_id, "id.token.claim": "true", "access.token.claim": "true",
                    "introspection.token.claim": "true", "userinfo.token.claim": "false"}},
        {"name": "groups", "protocol": "openid-connect", "protocolMapper": "oidc-group-membership-mapper", "consentRequired": False,
         "config": {"claim.name": "groups", "full.path": "false", "id.token.claim": "true", "access.token.claim": "true",
                    "userinfo.token.claim": "true", "introspection.token.claim": "true", "multivalued": "true"}},
    ]


def _client(client_id, name, base, redirects):
    return {
        "clientId": client_id, "name": name, "enabled": True, "protocol": "openid-connect", "publicClient": False,
        "clientAuthenticatorType": "client-secret", "standardFlowEnabled": True, "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False, "serviceAccountsEnabled": False, "rootUrl": base, "baseUrl": base + "/",
        "redirectUris": redirects, "webOrigins": [base], "attributes": {"post.logout.redirect.uris": base + "/*"},
        "protocolMappers": _mappers(client_id),
    }


def test_oidc_clients():
    assert c.oidc_clients(routed(grafana={"description": ""})) == [
        {"service": "grafana", "host": "grafana.pivoine.art", "secret_name": "grafana-oidc", "secret_path": "kompose_services.grafana.secrets.oidc",
         "service_account_roles": {}, "client": _client("grafana", "", "https://grafana.pivoine.art", ["https://grafana.pivoine.art/*"])},
        {"service": "oauth2_proxy", "host": "sso.pivoine.art", "secret_name": "oauth2_proxy-client",
         "secret_path": "kompose_services.oauth2_proxy.secrets.client", "service_account_roles": {},
         "client": _client("oauth2-proxy", "OAuth2 Proxy", "https://sso.pivoine.art", ["https://sso.pivoine.art/oauth2/callback"])},
    ]


def test_oidc_client_id_defaults_to_the_service_name_with_dashes():
    clients = c.oidc_clients(routed(internal_only={"oidc": True, "description": "Dash", "secrets": {"oidc": {}}}, grafana={"oidc": {}}))
    assert [(client["service"], client["client"]["clientId"], client["client"]["name"]) for client in clients] == [
        ("internal_only", "internal-only", "Dash"), ("oauth2_proxy", "oauth2-proxy", "OAuth2 Proxy")]


def test_a_service_account_client_signs_no_user_in_and_holds_its_roles():
    portal = {"oidc": {"client_id": "kmps", "redirect_paths": [],
                       "service_account": {"realm-management": ["view-users", "manage-users", "view-users"]}}}
    (client,) = [item for item in c.oidc_clients(routed(grafana=portal)) if item["service"] == "grafana"]
    assert client["service_account_roles"] == {"realm-management": ["manage-users", "view-users"]}
    keycloak = client["client"]
    assert keycloak["clientId"] == "kmps" and keycloak["serviceAccountsEnabled"] is True
    assert keycloak["standardFlowEnabled"] is False and keycloak["redirectUris"] == [] and keycloak["webOrigins"] == []


@pytest.mark.parametrize("spec, message", [
    ({"service_account": []}, "kompose_services.grafana.oidc.service_account: expected a mapping of role-holding client id"),
    ({"service_account": {}}, "kompose_services.grafana.oidc.service_account: expected a mapping of role-holding client id"),
    ({"service_account": {"realm management": ["view-users"]}},
     "kompose_services.grafana.oidc.service_account: 'realm management' is not a client id"),
    ({"service_account": {"realm-management": "view-users"}},
     "kompose_services.grafana.oidc.service_account.realm-management: expected a list, got 'view-users'"),
    ({"service_account": {"realm-management": ["view users"]}},
     "kompose_services.grafana.oidc.service_account.realm-management: 'view users' is not a role name"),
])
def test_service_account_roles_are_checked(spec, message):
    with pytest.raises(c.CatalogError) as exc:
        c.oidc_clients(routed(grafana={"oidc": spec}))
    assert str(exc.value).startswith(message)


@pytest.mark.parametrize("view", [c.secret_specs, c.postgres_databases, c.redis_users, c.mqtt_users, c.oidc_clients])
def test_views_want_the_resolved_catalog(view):
    with pytest.raises(c.CatalogError) as exc:
        view(["postgres"])
    assert str(exc.value) == "expected the resolved catalog (a mapping of service name to entry), got list"


def test_databases_want_a_mapping_of_secrets():
    with pytest.raises(c.CatalogError) as exc:
        c.postgres_databases({}, secrets=["postgres-x"])
    assert str(exc.value) == "secrets: expected a mapping of secret name to value, got list"


def test_disabled_stack_needs_no_secrets_or_users():
    out = resolve()
    assert c.postgres_databases(out) == [] and c.redis_users(out) == []
    assert [spec["name"] for spec in c.secret_specs(out)] == ["postgres-superuser", "mqtt-healthcheck", "mqtt-system"]


# --- the filters ---------------------------------------------------------------------------------------

FILTERS = FilterModule().filters()


def test_new_filters_are_wired_and_name_the_plugin():
    resolved = routed()
    assert FILTERS["catalog_routes"](resolved, "compression", [], {"traefik": "api@internal"})[-1]["service"] == "api@internal"
    assert [client["service"] for client in FILTERS["catalog_oidc_clients"](resolved)] == ["grafana", "oauth2_proxy"]
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS["catalog"](CATALOG, stacks=["link"], domain="pivoine.art", images=IMAGES, registry=REGISTRY)
    assert str(exc.value) == "pivoine.kompose.catalog: kompose_stacks: stack 'link' needs 'core', which is not enabled"


def test_wrap_lets_bugs_through():
    def buggy():
        return {}["missing"]
    with pytest.raises(KeyError):
        wrap("buggy", buggy, [c.CatalogError])()


def test_redis_users_ready_for_the_module_with_secrets():
    catalog = {"a": {"redis": {}}, "b": {"redis": {"user": "bee", "keys": ["b:*"], "channels": ["b:*"]}}}
    users = c.redis_users(catalog, secrets={"redis-a": "pa", "redis-bee": "pb"})
    assert users == [
        {"name": "a", "keys": ["a:*"], "channels": [], "commands": ["+@all", "-@dangerous"], "password": "pa"},
        {"name": "bee", "keys": ["b:*"], "channels": ["b:*"], "commands": ["+@all", "-@dangerous"], "password": "pb"},
    ]
    with pytest.raises(c.CatalogError, match="secret 'redis-bee' of service 'b' is missing"):
        c.redis_users(catalog, secrets={"redis-a": "pa"})


def test_rotations_say_how_each_secret_rotates():
    overrides = {
        "redis": {"secrets": {"admin": {}}},
        "linkwarden": {"secrets": {"nextauth": {"kind": "base64", "rotates": True}, "oidc": {}}, "oidc": {"secret": "oidc"}},
        "letterpress": {"secrets": {"owner": {}}},
        "gotify": {"stack": "core", "container": "g", "image": "g:3", "port": 80},
        "bridge": {"stack": "core", "gotify": ["alerts"]},
    }
    out = c.rotations(resolve(stacks=["core", "link", "news"], overrides=overrides))
    assert out == {
        "gotify-token-alerts": {"kind": "gotify", "service": "bridge", "application": "alerts"},
        "letterpress-owner": {"kind": "once", "service": "letterpress"},
        "linkwarden-nextauth": {"kind": "restart", "service": "linkwarden"},
        "linkwarden-oidc": {"kind": "oidc", "service": "linkwarden", "client_id": "linkwarden"},
        "mqtt-healthcheck": {"kind": "mqtt", "service": "mqtt", "user": "healthcheck"},
        "mqtt-linkwarden": {"kind": "mqtt", "service": "linkwarden", "user": "linkwarden"},
        "mqtt-system": {"kind": "mqtt", "service": "system", "user": "system"},
        "postgres-letterspace": {"kind": "postgres", "service": "letterpress", "role": "letterspace", "database": "letterspace"},
        "postgres-linkwarden": {"kind": "postgres", "service": "linkwarden", "role": "linkwarden", "database": "linkwarden"},
        "postgres-superuser": {"kind": "postgres_superuser", "service": "postgres"},
        "redis-admin": {"kind": "redis_admin", "service": "redis"},
        "redis-letterpress": {"kind": "redis", "service": "letterpress", "user": "letterpress"},
        "redis-linkwarden": {"kind": "redis", "service": "linkwarden", "user": "linkwarden"},
    }
    # a login role only signs in to the postgres database; the filter is wired
    monitor = FILTERS["catalog_rotations"](resolve(overrides=MONITOR))
    assert monitor["postgres-monitor"] == {"kind": "postgres", "service": "monitor", "role": "monitor", "database": "postgres"}


def test_rotates_is_a_boolean_and_not_passed_to_the_secret_store():
    with pytest.raises(c.CatalogError, match=r"kompose_services.linkwarden.secrets.nextauth.rotates: 'yes' is not a boolean"):
        resolve(stacks=["core", "link"], overrides={"linkwarden": {"secrets": {"nextauth": {"rotates": "yes"}}}})
    specs = c.secret_specs(resolve(stacks=["core", "link"], overrides={"linkwarden": {"secrets": {"nextauth": {"kind": "hex", "rotates": True}}}}))
    assert {"name": "linkwarden-nextauth", "kind": "hex"} in specs


def test_data_volumes_of_the_enabled_services():
    overrides = {"linkwarden": {"volumes": ["link-data"]}, "letterpress": {"volumes": []}}
    out = resolve(stacks=["core", "link", "news"], overrides=overrides)
    assert c.volumes(out) == {"linkwarden": ["link-data"]}
    assert c.volumes(resolve(stacks=["core"], overrides={"linkwarden": {"volumes": ["link-data"]}})) == {}


def test_one_services_database_and_its_urls():
    out = resolve(stacks=["core", "link"])
    db = c.database(out, "linkwarden")
    assert (db["name"], db["owner"], db["secret"], db["host"], db["port"]) == (
        "linkwarden", "linkwarden", "postgres-linkwarden", "core-postgres", 5432)
    assert c.postgres_url(db, "p@ss/w:rd") == "postgresql://linkwarden:p%40ss%2Fw%3Ard@core-postgres:5432/linkwarden"
    assert c.postgres_url(db, "x", query="schema=public").endswith("/linkwarden?schema=public")
    assert c.postgres_url(db, scheme="jdbc:postgresql") == "jdbc:postgresql://core-postgres:5432/linkwarden"
    with pytest.raises(c.CatalogError, match="service 'letterpress' has no PostgreSQL database or login"):
        c.database(out, "letterpress")
    with pytest.raises(c.CatalogError, match="postgres_url: expected a catalog_database entry"):
        c.postgres_url({"owner": "x", "name": None, "host": "h"}, "secret")


# --- rules on what an enabled service needs ---------------------------------------------------------

def test_needs_names_a_service_that_must_be_enabled():
    sidecar = {"link_metrics": {"stack": "core", "needs": ["linkwarden"]}}
    msg = error(overrides=sidecar)
    assert "kompose_services.link_metrics.needs: 'linkwarden' (of the link stack) is not enabled" in msg
    assert "kompose_services.link_metrics.enabled: false" in msg
    assert "link_metrics" in resolve(stacks=["core", "link"], overrides=sidecar)
    assert "kompose_services.x.needs: 'Bad' is not a service name" in error(overrides={"x": {"stack": "core", "needs": ["Bad"]}})


def test_oidc_and_paths_need_a_host():
    oidc = {"linkwarden": {"host": None, "oidc": True, "secrets": {"oidc": {}}}}
    assert "kompose_services.linkwarden.host: None, but the service needs a host name (kompose_services.linkwarden.oidc" \
        in error(stacks=["core", "link"], overrides=oidc)
    paths = {"linkwarden": {"host": None, "paths": [{"name": "api", "prefixes": ["/api"], "middleware": "public"}]}}
    assert "(kompose_services.linkwarden.paths: its path routers are on it)" in error(stacks=["core", "link"], overrides=paths)


def test_oidc_client_secret_must_be_declared():
    msg = error(stacks=["core", "link"], overrides={"linkwarden": {"oidc": {"secret": "client"}}})
    assert "kompose_services.linkwarden.oidc: the client secret is the secret 'client', which is not declared" in msg
    assert resolve(stacks=["core", "link"], overrides={"linkwarden": {"oidc": {"secret": "client"}, "secrets": {"client": {}}}})


def test_oauth2_proxy_needs_its_client():
    catalog = dict(CATALOG, oauth2_proxy={"stack": "core", "container": "sso", "image": "oauth2-proxy:7", "host": "sso"})
    msg = error(catalog=catalog)
    assert "kompose_services.oauth2_proxy.oidc: None, but OAuth2 Proxy signs users in with a Keycloak client" in msg
    assert resolve(catalog=catalog, overrides={"oauth2_proxy": {"oidc": True, "secrets": {"oidc": {}}}})


@pytest.mark.parametrize("value", ["it's", "two\nlines", "cr\r", "", 12345, None])
def test_given_secrets_are_one_line_without_a_quote(value):
    msg = error(secrets={"linkwarden-nextauth": "fine", "umami-admin": value})
    assert msg.startswith("kompose_secrets['umami-admin']: a given secret must be a non-empty string of one line")
    if isinstance(value, str) and value:
        assert value not in msg  # never the value


def test_given_secrets_that_are_fine():
    assert resolve(secrets={"linkwarden-nextauth": "abc-DEF_123 /+=\"$"})
    assert "kompose_secrets: expected a mapping" in error(secrets=["x"])


# --- rules on the routes: SSO middlewares ask OAuth2 Proxy ---------------------------------------------

def _routes(catalog, default="public"):
    return c.routes(catalog, default, ["sso-secure"], {})


def test_sso_route_needs_oauth2_proxy():
    catalog = {"linkwarden": {"fqdn": "links.x.org", "container": "l", "port": 1, "middleware": "sso-secure"},
               "umami": {"fqdn": "a.x.org", "container": "u", "port": 2,
                         "paths": [{"name": "admin", "prefixes": ["/admin"], "middleware": "sso-secure"}]},
               "vaultwarden": {"fqdn": "v.x.org", "container": "v", "port": 3}}
    with pytest.raises(c.CatalogError) as exc:
        _routes(catalog)
    assert str(exc.value) == ("kompose_services.linkwarden.middleware: 'sso-secure'; kompose_services.umami.paths[0].middleware: "
                              "'sso-secure' needs OAuth2 Proxy: add the auth stack to kompose_stacks, or choose a middleware "
                              "without SSO.")
    with pytest.raises(c.CatalogError, match=r"^proxy_default_middleware \(for vaultwarden\): 'sso-secure' needs OAuth2"):
        _routes({"vaultwarden": catalog["vaultwarden"]}, default="sso-secure")
    routes = _routes(dict(catalog, oauth2_proxy={"fqdn": "sso.x.org", "container": "o", "port": 4}))
    assert [r["name"] for r in routes] == ["linkwarden", "oauth2_proxy", "umami", "umami-admin", "vaultwarden"]
    assert all("where" not in route for route in routes)


def test_sign_in_services_are_never_behind_sso():
    catalog = {"keycloak": {"fqdn": "auth.x.org", "container": "k", "port": 1, "middleware": "public",
                            "paths": [{"name": "admin", "prefixes": ["/admin"], "middleware": "sso-secure"}]},
               "oauth2_proxy": {"fqdn": "sso.x.org", "container": "o", "port": 4}}
    with pytest.raises(c.CatalogError) as exc:
        _routes(catalog)
    assert str(exc.value) == ("kompose_services.keycloak.paths[0].middleware: 'sso-secure' would send the sign-in pages "
                              "through SSO (a redirect loop): choose a middleware without SSO.")
    with pytest.raises(c.CatalogError, match=r"^proxy_default_middleware \(for oauth2_proxy\): 'sso-secure' would send"):
        _routes({"oauth2_proxy": catalog["oauth2_proxy"]}, default="sso-secure")


def test_a_tcp_service_gets_a_tls_route_of_its_own_and_no_http_route():
    out = resolve(overrides={"mqtt": {"host": "mqtt", "tcp": 8883, "port": 1883}})
    assert c.tcp_routes(out) == [{"name": "mqtt", "fqdn": "mqtt.pivoine.art", "port": 8883, "address": "core-mqtt:1883"}]
    assert [route["name"] for route in c.routes(out, "sso-secure", ["sso-secure"], {})] == []
    assert c.tcp_routes(resolve()) == []


@pytest.mark.parametrize("override, message", [
    ({"host": "mqtt", "tcp": 443}, "kompose_services.mqtt.tcp: 443 is not a TCP port for its TLS entry point"),
    ({"host": "mqtt", "tcp": True}, "kompose_services.mqtt.tcp: True is not a TCP port"),
    ({"host": "mqtt", "tcp": 8883, "middleware": "public"}, "a TCP route has no paths, middleware or OIDC client"),
    ({"tcp": 8883}, "kompose_services.mqtt.host: None, but the service needs a host name (kompose_services.mqtt.tcp"),
])
def test_a_tcp_route_is_validated(override, message):
    assert message in error(overrides={"mqtt": override}, middlewares=["public", "sso-secure"])
