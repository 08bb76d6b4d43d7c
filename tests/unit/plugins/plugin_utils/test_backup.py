from __future__ import annotations

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils._backup import BackupError, manifest, verify

SET = "/var/local/data/backups/20261205T060000Z"
CATALOG = {"postgres": {"stack": "core", "container": "core-postgres", "image": "postgres:16"},
           "redis": {"stack": "core", "container": "core-redis", "image": "redis:7"},
           "alpha": {"stack": "apps"}}


def found(*names, size=10, checksum="ab"):
    return [{"path": "%s/%s" % (SET, name), "size": size, "checksum": checksum} for name in names]


FILES = found("postgres/roles.sql", "postgres/alpha.dump", "redis/dump.rdb", "redis/users.acl",
              "volumes/watch_alertmanager-data.tar")


def make(files=FILES):
    return manifest(files, SET + "/", "20261205T060000Z", "lab", "2026-12-05T06:00:10Z", ["core"], {"redis": "7.4"},
                    [{"service": "alpha", "name": "alpha", "owner": "alpha"}],
                    [{"service": "alertmanager", "stack": "watch", "volume": "watch_alertmanager-data"}], CATALOG)


def test_items_files_and_services():
    result = make()
    assert [(i["service"], i["kind"], i["file"]) for i in result["items"]] == [
        ("alpha", "database", "postgres/alpha.dump"), ("redis", "redis", "redis/dump.rdb"),
        ("alertmanager", "volume", "volumes/watch_alertmanager-data.tar")]
    assert [f["path"] for f in result["files"]] == sorted(f["path"].split(SET + "/")[1] for f in FILES)
    assert result["files"][0] == {"path": "postgres/alpha.dump", "size": 10, "sha256": "ab"}
    assert result["services"]["alpha"] == {"stack": "apps", "container": None, "image": None}
    assert (result["format"], result["set"], result["versions"]) == (1, "20261205T060000Z", {"redis": "7.4"})


def test_a_set_without_an_items_file_is_refused():
    with pytest.raises(BackupError, match="lacks redis/dump.rdb"):
        make([f for f in FILES if not f["path"].endswith("dump.rdb")])


def test_a_file_outside_the_set_or_without_a_checksum():
    with pytest.raises(BackupError, match="is not a file of the set"):
        make(FILES + [{"path": "/elsewhere/x", "size": 1, "checksum": "c"}])
    with pytest.raises(BackupError, match="with a checksum"):
        make(FILES + [{"path": SET + "/x", "size": 1}])


def test_verify_names_missing_and_changed_files_only():
    files = make()["files"]
    assert verify(files, FILES + found("manifest.json"), SET) == []
    changed = [dict(f, checksum="cd") if f["path"].endswith("alpha.dump") else f for f in FILES[1:]]
    assert verify(files, changed, SET) == [
        "postgres/alpha.dump: 10 bytes, sha256 cd (the manifest says 10 bytes, ab)", "postgres/roles.sql: missing"]
