from __future__ import annotations

import copy
import re

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog as c

CATALOG = {
    "postgres": {"stack": "core", "container": "core-postgres", "port": 5432, "secrets": {"superuser": {}}},
    "mqtt": {"stack": "core", "container": "core-mqtt", "mqtt": {"user": "healthcheck", "subscribe": ["$SYS/broker/uptime"]}},
    "system": {"stack": "core", "mqtt": {"publish": ["kompose/system/#"]}},
    "linkwarden": {
        "stack": "link", "container": "link_app", "port": 3000, "host": "links", "middleware": "sso-secure",
        "postgres": {"database": "linkwarden"}, "redis": {}, "mqtt": {"publish": ["kompose/linkwarden/#"]},
    },
    "letterpress": {"stack": "news", "container": "news_backend", "host": "news", "postgres": {"database": "letterspace"},
                    "redis": {"keys": ["news:*"], "channels": ["news:*"]}},
}
IMAGES = {"postgres": "postgres:16", "mqtt": "eclipse-mosquitto:2", "linkwarden": "ghcr.io/linkwarden/linkwarden:v2.9",
          "letterpress": "registry.example.org:5000/team/letterpress@sha256:" + "a" * 64}
KNOWN = ["core", "link", "news"]


def resolve(**kwargs):
    args = dict(catalog=CATALOG, stacks=["core"], domain="pivoine.art", images=IMAGES, known_stacks=KNOWN)
    args.update(kwargs)
    return c.resolve(**args)


def test_only_enabled_stacks_and_derived_fields():
    out = resolve(stacks=["core", "link"])
    assert sorted(out) == ["linkwarden", "mqtt", "postgres", "system"]
    assert out["linkwarden"]["fqdn"] == "links.pivoine.art"
    assert out["linkwarden"]["image"] == IMAGES["linkwarden"]
    assert out["linkwarden"]["name"] == "linkwarden"
    assert "image" not in out["system"] and "fqdn" not in out["postgres"]


def test_disabled_service_is_left_out():
    out = resolve(stacks=["core", "link"], overrides={"linkwarden": {"enabled": False}, "postgres": {"enabled": False}},
                  images={"mqtt": IMAGES["mqtt"]})
    assert sorted(out) == ["mqtt", "system"]  # no image needed for what is disabled


def test_input_catalog_is_not_mutated():
    before = copy.deepcopy(CATALOG)
    resolve(stacks=KNOWN, overrides={"linkwarden": {"host": "bookmarks"}})
    assert CATALOG == before


def test_overrides_merge_deeply_and_add_services():
    out = resolve(stacks=["core", "link"], overrides={
        "linkwarden": {"host": "id.example.org", "postgres": {"extensions": ["pg_trgm"]}},
        "grocy": {"stack": "link", "container": "grocy", "image": "lscr.io/linuxserver/grocy:4", "host": "food"},
    })
    assert out["linkwarden"]["fqdn"] == "id.example.org"
    assert out["linkwarden"]["postgres"] == {"database": "linkwarden", "extensions": ["pg_trgm"]}
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
    (dict(stacks=["link"], middlewares=["sso-secure-limited"]),
     "kompose_services.linkwarden.middleware: 'sso-secure' is not a defined middleware (sso-secure-limited)"),
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


def test_derived_views():
    out = resolve(stacks=KNOWN)
    assert c.postgres_databases(out) == [
        {"service": "letterpress", "name": "letterspace", "owner": "letterspace", "extensions": [], "secret": "postgres-letterspace"},
        {"service": "linkwarden", "name": "linkwarden", "owner": "linkwarden", "extensions": [], "secret": "postgres-linkwarden"},
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
        {"name": "letterspace", "owner": "letterspace", "extensions": [], "password": "s1"},
        {"name": "linkwarden", "owner": "linkwarden", "extensions": [], "password": "s2"},
    ]
    with pytest.raises(c.CatalogError, match="secret 'postgres-linkwarden' of service 'linkwarden' is missing"):
        c.postgres_databases(out, secrets={"postgres-letterspace": "s1"})


def test_disabled_stack_needs_no_secrets_or_users():
    out = resolve()
    assert c.postgres_databases(out) == [] and c.redis_users(out) == []
    assert [spec["name"] for spec in c.secret_specs(out)] == ["postgres-superuser", "mqtt-healthcheck", "mqtt-system"]
