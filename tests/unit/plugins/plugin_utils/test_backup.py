from __future__ import annotations

import json

import pytest

import copy

from ansible_collections.pivoine.kompose.plugins.plugin_utils._backup import BackupError, authenticate, manifest, signature, verify

SET = "/var/local/data/backups/20261205T060000Z"
KEY = "0123456789abcdef" * 4  # the secret backup-manifest-key (64 hex characters)
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
                    [{"service": "alertmanager", "stack": "watch", "volume": "watch_alertmanager-data"}], CATALOG, KEY)


def test_items_files_and_services():
    result = make()
    assert [(i["service"], i["kind"], i["file"]) for i in result["items"]] == [
        ("alpha", "database", "postgres/alpha.dump"), ("redis", "redis", "redis/dump.rdb"),
        ("alertmanager", "volume", "volumes/watch_alertmanager-data.tar")]
    assert [f["path"] for f in result["files"]] == sorted(f["path"].split(SET + "/")[1] for f in FILES)
    assert result["files"][0] == {"path": "postgres/alpha.dump", "size": 10, "sha256": "ab"}
    assert result["services"]["alpha"] == {"stack": "apps", "container": None, "image": None}
    assert (result["format"], result["set"], result["versions"]) == (2, "20261205T060000Z", {"redis": "7.4"})


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


# --- the manifest's HMAC -------------------------------------------------------------------------

def test_the_manifest_is_signed_and_authentic_after_a_json_round_trip():
    result = make()
    assert result["hmac"].startswith("hmac-sha256:") and len(result["hmac"]) == len("hmac-sha256:") + 64
    assert KEY not in json.dumps(result)
    read_back = json.loads(json.dumps(result, indent=4))  # as to_nice_json writes it and from_json reads it
    assert authenticate(read_back, KEY, "20261205T060000Z") == result


@pytest.mark.parametrize("tamper", [
    lambda m: m["items"][0].update(database="postgres"),                    # another database
    lambda m: m["items"].append({"service": "alertmanager", "kind": "volume", "volume": "/", "file": "volumes/x.tar"}),
    lambda m: m["files"][0].update(sha256="00" * 32),                        # a checksum made to fit a changed file
    lambda m: m.update(finished="2099-01-01T00:00:00Z"),                     # made the latest
])
def test_a_tampered_manifest_is_refused(tamper):
    tampered = copy.deepcopy(make())
    tamper(tampered)
    with pytest.raises(BackupError, match="backup set 20261205T060000Z: its manifest's hmac does not match"):
        authenticate(tampered, KEY, "20261205T060000Z")


def test_a_manifest_signed_with_another_key_is_refused():
    with pytest.raises(BackupError, match="hmac does not match"):
        authenticate(make(), "f" * 64, "20261205T060000Z")


def test_an_unsigned_set_is_refused_naming_the_set_and_the_cause():
    old = {name: value for name, value in make().items() if name != "hmac"}
    old["format"] = 1
    with pytest.raises(BackupError, match=r"backup set 20261205T060000Z: its manifest has no hmac \(format 1, written before"):
        authenticate(old, KEY, "20261205T060000Z")


def test_a_signed_manifest_copied_into_another_set_is_refused():
    with pytest.raises(BackupError, match="backup set 20261206T060000Z: its manifest is the one of set '20261205T060000Z'"):
        authenticate(make(), KEY, "20261206T060000Z")


@pytest.mark.parametrize("key", [None, "", "k3y-v4lu3"])
def test_no_key_no_signature_and_the_message_names_the_secret_only(key):
    with pytest.raises(BackupError, match="the secret backup-manifest-key .* is missing or shorter than 32") as info:
        signature({"set": "x"}, key)
    assert "k3y-v4lu3" not in str(info.value)
    with pytest.raises(BackupError, match="backup-manifest-key"):
        manifest(FILES, SET, "20261205T060000Z", "lab", "2026-12-05T06:00:10Z", [], {}, [], [], CATALOG, key)
