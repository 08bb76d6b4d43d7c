from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils._backup import BackupError, signature
from ansible_collections.pivoine.kompose.plugins.plugin_utils._catalog import CatalogError, consumers
from ansible_collections.pivoine.kompose.plugins.plugin_utils._restore import (
    DATABASE_SCRIPT, RestoreError, choose, database_script, plan)

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


# --- the restore plan: derived from the catalog -------------------------------------------------

VOLUMES = {"alertmanager": ["alertmanager-data"]}  # kompose_backup_volumes (or the catalog's)


def item(service, kind, **names):
    path = {"database": "postgres/%s.dump" % names.get("database"), "redis": "redis/dump.rdb",
            "mqtt": "mqtt/mosquitto.db", "volume": "volumes/%s.tar" % names.get("volume")}[kind]
    return dict({"service": service, "kind": kind, "file": path}, **names)


def signed(items, files=None):
    """A manifest as backup_manifest writes it: every item's file checksummed."""
    listed = [i["file"] for i in items] if files is None else files
    return {"items": items, "files": [{"path": path, "size": 1, "sha256": "ab"} for path in listed]}


ITEMS = [
    item("linkwarden", "database", database="linkwarden"),
    item("umami", "database", database="umami"),
    item("redis", "redis"),
    item("mqtt", "mqtt"),
    item("alertmanager", "volume", stack="watch", volume="watch_alertmanager-data"),
    item("gone", "database", database="gone"),
]
MANIFEST = signed(ITEMS)


def test_a_whole_set_skips_unknown_services():
    result = plan(MANIFEST, CATALOG, [], VOLUMES)
    assert [i["service"] for i in result["items"]] == ["linkwarden", "umami", "redis", "mqtt", "alertmanager"]
    assert result["consumers"] == {"link": ["linkwarden", "link_metrics"], "track": ["umami"], "watch": ["alertmanager"]}


def test_the_stacks_start_again_in_the_order_of_the_site():
    # the catalog in the site's order (core, auth, messaging, link, ..., watch); the manifest names a
    # watch volume first and Gotify's database before Keycloak's
    core = ["postgres", "redis", "mqtt"]
    catalog = {name: CATALOG[name] for name in core}
    catalog.update(keycloak={"stack": "auth", "container": "auth-keycloak", "postgres": {}},
                   gotify={"stack": "messaging", "container": "messaging-gotify", "postgres": {}})
    catalog.update((name, entry) for name, entry in CATALOG.items() if name not in core)
    manifest = signed([item("alertmanager", "volume", stack="watch", volume="watch_alertmanager-data"),
                       item("gotify", "database", database="gotify"), item("keycloak", "database", database="keycloak"),
                       item("linkwarden", "database", database="linkwarden")])
    assert list(plan(manifest, catalog, [], VOLUMES)["consumers"]) == ["auth", "messaging", "link", "watch"]


def test_one_database_stops_its_service_and_readers_only():
    result = plan(MANIFEST, CATALOG, ["linkwarden"], VOLUMES)
    assert result["items"] == [{"service": "linkwarden", "kind": "database", "database": "linkwarden",
                                "file": "postgres/linkwarden.dump"}]
    assert result["consumers"] == {"link": ["linkwarden", "link_metrics"]}


def test_a_data_volume_stops_its_own_service():
    assert plan(MANIFEST, CATALOG, ["alertmanager"], VOLUMES)["consumers"] == {"watch": ["alertmanager"]}


def test_a_manifest_without_items():
    with pytest.raises(CatalogError, match="no list of items"):
        plan({"files": []}, CATALOG, [], VOLUMES)


def test_the_items_are_the_catalogs_not_the_manifests():
    # extra keys of a manifest item (a file elsewhere, an owner) never reach the restore
    manifest = signed([dict(ITEMS[0], file="../../etc/shadow", owner="postgres")], files=["postgres/linkwarden.dump"])
    assert plan(manifest, CATALOG, [], VOLUMES)["items"] == [
        {"service": "linkwarden", "kind": "database", "database": "linkwarden", "file": "postgres/linkwarden.dump"}]


@pytest.mark.parametrize("bad, named", [
    (item("linkwarden", "database", database="postgres"), 'database "postgres"'),   # the superuser's database
    (item("umami", "database", database="x'; DROP DATABASE postgres; --"), "DROP DATABASE"),
    (item("alertmanager", "volume", stack="watch", volume="/"), 'volume "/"'),       # a bind mount of the host's root
    (item("alertmanager", "volume", stack="watch", volume="watch_prometheus-data"), 'volume "watch_prometheus-data"'),
    (item("linkwarden", "volume", stack="link", volume="link_data"), 'kind "volume"'),
    ({"service": "redis", "kind": "shell", "file": "redis/dump.rdb"}, 'kind "shell"'),
])
def test_a_name_the_catalog_does_not_derive_is_refused(bad, named):
    with pytest.raises(RestoreError, match="is not one the catalog derives for service") as info:
        plan(signed(ITEMS[:1] + [bad]), CATALOG, [], VOLUMES)
    assert named in str(info.value)


def test_a_service_asked_for_is_checked_too_and_others_are_not_read():
    bad = item("alertmanager", "volume", stack="watch", volume="/")
    with pytest.raises(RestoreError, match='volume "/"'):
        plan(signed([bad]), CATALOG, ["alertmanager"], VOLUMES)
    assert plan(signed(ITEMS[:1] + [bad]), CATALOG, ["linkwarden"], VOLUMES)["items"] == [
        {"service": "linkwarden", "kind": "database", "database": "linkwarden", "file": "postgres/linkwarden.dump"}]


def test_an_item_whose_file_the_manifest_does_not_checksum_is_refused():
    manifest = signed(ITEMS[:2], files=["postgres/linkwarden.dump"])
    with pytest.raises(RestoreError, match='database "umami", file "postgres/umami.dump"\\) has no checksum'):
        plan(manifest, CATALOG, [], VOLUMES)
    no_sum = dict(MANIFEST, files=[dict(f, sha256="") for f in MANIFEST["files"]])
    with pytest.raises(RestoreError, match="has no checksum"):
        plan(no_sum, CATALOG, ["redis"], VOLUMES)


def test_a_volume_name_from_the_settings_must_be_a_volume_name():
    with pytest.raises(RestoreError, match="kompose_backup_volumes.alertmanager: '../x' is not a volume name"):
        plan(MANIFEST, CATALOG, [], {"alertmanager": ["../x"]})


# --- choosing the set: authentic manifests, latest by their signed time ---------------------------

KEY = "k" * 64


def slurped(name, finished, sign=True, key=KEY, changes=None):
    manifest = {"format": 2, "set": name, "finished": finished, "items": [], "files": []}
    if sign:
        manifest["hmac"] = signature(manifest, key)
    manifest.update(changes or {})  # after signing: a tampered manifest
    return {"item": name, "content": base64.b64encode(json.dumps(manifest).encode()).decode()}


def test_latest_is_the_set_finished_last_by_its_manifest_not_its_directory_name():
    # a directory named to sort last, holding a set that finished earlier
    results = [slurped("20261205T060000Z", "2026-12-05T06:00:10Z"), slurped("20991231T000000Z", "2026-12-01T06:00:10Z"),
               slurped("20261204T060000Z", "2026-12-04T06:00:10Z")]
    choice = choose(results, "latest", KEY)
    assert choice["set"] == "20261205T060000Z" and choice["manifest"]["finished"] == "2026-12-05T06:00:10Z"
    assert choice["refused"] == []


def test_latest_passes_over_sets_that_are_not_authentic_and_says_why():
    results = [slurped("20261205T060000Z", "2026-12-05T06:00:10Z"),
               slurped("20261206T060000Z", "2026-12-06T06:00:10Z", changes={"finished": "2026-12-09T00:00:00Z"}),
               slurped("20261207T060000Z", "2026-12-07T06:00:10Z", sign=False),
               slurped("20261208T060000Z", "2026-12-08T06:00:10Z", key="o" * 64),
               {"item": "20261209T060000Z", "failed": False, "msg": "file not found"}]
    choice = choose(results, "latest", KEY)
    assert choice["set"] == "20261205T060000Z"
    assert [line.split(":")[0] for line in choice["refused"]] == [
        "backup set 20261206T060000Z", "backup set 20261207T060000Z", "backup set 20261208T060000Z",
        "backup set 20261209T060000Z"]
    assert "hmac does not match" in choice["refused"][0] and "has no hmac" in choice["refused"][1]
    assert "could not be read (file not found)" in choice["refused"][3]


def test_a_named_set_that_is_not_authentic_is_refused_with_its_cause():
    with pytest.raises(BackupError, match="backup set 20261205T060000Z: its manifest has no hmac"):
        choose([slurped("20261205T060000Z", "2026-12-05T06:00:10Z", sign=False)], "20261205T060000Z", KEY)
    with pytest.raises(BackupError, match="backup set 20261205T060000Z: manifest.json is not JSON"):
        choose([{"item": "20261205T060000Z", "content": base64.b64encode(b"{").decode()}], "20261205T060000Z", KEY)
    assert choose([slurped("20261205T060000Z", "2026-12-05T06:00:10Z")], "20261205T060000Z", KEY)["set"] == "20261205T060000Z"


def test_latest_without_an_authentic_set_names_every_cause():
    with pytest.raises(RestoreError, match='kompose_restore_from="latest": no backup set can be authenticated: '
                                           "backup set 20261205T060000Z: its manifest has no hmac"):
        choose([slurped("20261205T060000Z", "2026-12-05T06:00:10Z", sign=False)], "latest", KEY)
    with pytest.raises(RestoreError, match="there is no set"):
        choose([], "latest", KEY)


def test_without_the_key_nothing_is_chosen():
    with pytest.raises(BackupError, match="the secret backup-manifest-key"):
        choose([slurped("20261205T060000Z", "2026-12-05T06:00:10Z")], "latest", "")


# --- the database restore script: the name reaches SQL as a parameter ---------------------------

def run_script(tmp_path, script, name, exists="1"):
    """Run a restore script under sh -e with psql and pg_restore replaced by stubs that record their
    arguments and standard input."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for tool, answer in (("psql", exists), ("pg_restore", "")):
        (stubs / tool).write_text('#!/bin/sh\nprintf "%%s\\n" "$@" > "$LOG/%s.args"\ncat > "$LOG/%s.stdin"\n'
                                  '[ -z "%s" ] || echo %s\n' % (tool, tool, answer, answer))
        (stubs / tool).chmod(0o755)
    env = dict(os.environ, PATH="%s:%s" % (stubs, os.environ["PATH"]), LOG=str(tmp_path))
    subprocess.run(["sh", "-ec", script, "kompose-day2-helper", name], env=env, check=True, stdin=subprocess.DEVNULL)
    return {tool: ((tmp_path / ("%s.args" % tool)).read_text().splitlines(), (tmp_path / ("%s.stdin" % tool)).read_text())
            for tool in ("psql", "pg_restore")}


QUOTED = "x'; DROP DATABASE postgres; --"


def test_a_database_name_with_a_quote_reaches_sql_as_a_parameter(tmp_path):
    seen = run_script(tmp_path, DATABASE_SCRIPT, QUOTED)
    psql_args, sql = seen["psql"]
    assert sql == "SELECT 1 FROM pg_database WHERE datname = :'db'\n"  # the SQL text never holds the name
    assert [arg for arg in psql_args if "DROP" in arg] == ["db=" + QUOTED]  # a psql variable, in no SQL text
    assert "ON_ERROR_STOP=1" in psql_args
    assert seen["pg_restore"][0][-2:] == ["--dbname=" + QUOTED, "/backup/%s.dump" % QUOTED]


def test_a_missing_database_is_created_from_its_dump(tmp_path):
    seen = run_script(tmp_path, DATABASE_SCRIPT, "alpha", exists="")
    assert seen["pg_restore"][0] == ["--create", "--exit-on-error", "--dbname=postgres", "/backup/alpha.dump"]


def test_the_script_connects_as_the_superuser_and_refuses_a_name_that_is_not_the_catalogs():
    script = database_script({"database": "alpha"}, {"postgres": {"container": "core-postgres", "port": 5432}}, "postgres")
    assert script.startswith('PGPASSWORD="$(cat /run/secrets/postgres-superuser)"\n'
                             "export PGPASSWORD PGHOST=core-postgres PGPORT=5432 PGUSER=postgres\n")
    assert script.endswith(DATABASE_SCRIPT) and "alpha" not in script
    for name in (QUOTED, "alpha\n", "Alpha", None):
        with pytest.raises(RestoreError, match="not a PostgreSQL name from the catalog"):
            database_script({"database": name}, {"postgres": {}}, "postgres")
