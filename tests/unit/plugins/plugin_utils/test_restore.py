from __future__ import annotations

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils._catalog import CatalogError, consumers
from ansible_collections.pivoine.kompose.plugins.plugin_utils._restore import plan

# a resolved catalog, reduced to the keys consumers and the restore plan read
CATALOG = {
    "postgres": {"stack": "core", "container": "core-postgres", "postgres": None},
    "redis": {"stack": "core", "container": "core-redis", "redis": {"user": "admin"}},
    "mqtt": {"stack": "core", "container": "core-mqtt", "mqtt": {"user": "system"}},
    "linkwarden": {"stack": "link", "container": "link-app", "postgres": {}, "redis": {}},
    "link_metrics": {"stack": "link", "container": "link-metrics", "postgres": {"database": None, "reads": ["linkwarden"]}},
    "umami": {"stack": "track", "container": "track-app", "postgres": {}, "redis": None},
    "alertmanager": {"stack": "watch", "container": "watch-alertmanager", "mqtt": {"user": "alerts"}},
    "grafana": {"stack": "watch", "container": "watch-grafana", "postgres": {}},
    "keycloak_realm": {"stack": "auth", "postgres": {}},  # no container of its own
}


def test_every_consumer_of_postgres_by_stack():
    assert consumers(CATALOG, "postgres") == {"link": ["linkwarden", "link_metrics"], "track": ["umami"],
                                              "watch": ["grafana"]}


def test_the_owner_and_the_readers_of_one_database():
    assert consumers(CATALOG, "postgres", of="linkwarden") == {"link": ["linkwarden", "link_metrics"]}
    assert consumers(CATALOG, "postgres", of="umami") == {"track": ["umami"]}


def test_redis_users_and_mqtt_users_without_the_servers():
    assert consumers(CATALOG, "redis") == {"link": ["linkwarden"]}  # umami's redis: null is no user
    assert consumers(CATALOG, "mqtt") == {"watch": ["alertmanager"]}


def test_only_running_services():
    assert consumers(CATALOG, "postgres", running=["grafana"]) == {"watch": ["grafana"]}


def test_an_unknown_server_is_named():
    with pytest.raises(CatalogError, match="server: 'mysql' is not one of postgres, redis, mqtt"):
        consumers(CATALOG, "mysql")


MANIFEST = {"items": [
    {"service": "linkwarden", "kind": "database", "file": "databases/linkwarden.dump"},
    {"service": "umami", "kind": "database", "file": "databases/umami.dump"},
    {"service": "redis", "kind": "redis", "file": "redis/dump.rdb"},
    {"service": "mqtt", "kind": "mqtt", "file": "mqtt/mosquitto.db"},
    {"service": "alertmanager", "kind": "volume", "file": "volumes/watch_alertmanager-data.tar.gz"},
    {"service": "gone", "kind": "database", "file": "databases/gone.dump"},
]}


def test_a_whole_set_skips_unknown_services():
    result = plan(MANIFEST, CATALOG, [])
    assert [item["service"] for item in result["items"]] == ["linkwarden", "umami", "redis", "mqtt", "alertmanager"]
    assert result["consumers"] == {"link": ["linkwarden", "link_metrics"], "track": ["umami"], "watch": ["alertmanager"]}


def test_the_stacks_start_again_in_the_order_of_the_site():
    # the catalog in the site's order (core, auth, messaging, link, ..., watch); the manifest names a
    # watch volume first and Gotify's database before Keycloak's
    core = ["postgres", "redis", "mqtt"]
    catalog = {name: CATALOG[name] for name in core}
    catalog.update(keycloak={"stack": "auth", "container": "auth-keycloak", "postgres": {}},
                   gotify={"stack": "messaging", "container": "messaging-gotify", "postgres": {}})
    catalog.update((name, entry) for name, entry in CATALOG.items() if name not in core)
    manifest = {"items": [
        {"service": "alertmanager", "kind": "volume", "file": "volumes/watch_alertmanager-data.tar.gz"},
        {"service": "gotify", "kind": "database", "file": "databases/gotify.dump"},
        {"service": "keycloak", "kind": "database", "file": "databases/keycloak.dump"},
        {"service": "linkwarden", "kind": "database", "file": "databases/linkwarden.dump"},
    ]}
    assert list(plan(manifest, catalog, [])["consumers"]) == ["auth", "messaging", "link", "watch"]


def test_one_database_stops_its_service_and_readers_only():
    result = plan(MANIFEST, CATALOG, ["linkwarden"])
    assert result["items"] == [MANIFEST["items"][0]]
    assert result["consumers"] == {"link": ["linkwarden", "link_metrics"]}


def test_a_data_volume_stops_its_own_service():
    assert plan(MANIFEST, CATALOG, ["alertmanager"])["consumers"] == {"watch": ["alertmanager"]}


def test_a_manifest_without_items():
    with pytest.raises(CatalogError, match="no list of items"):
        plan({"files": []}, CATALOG, [])
