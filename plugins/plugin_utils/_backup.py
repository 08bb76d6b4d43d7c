# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A backup set's manifest (roles/day2/tasks/backup_set.yml writes it), its HMAC, and the check of a
set's files against it (roles/day2/tasks/restore.yml), from one ``find`` with SHA-256 checksums.

The manifest is signed with HMAC-SHA256 keyed by the controller's secret ``backup-manifest-key``
(generated once in the secret store, never in a set): whoever can write the backup directory cannot
change a manifest, nor the checksums it holds, without restore noticing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import posixpath

# 2: signed (``hmac``); 1: sets written before, which restore refuses (they cannot be authenticated)
FORMAT = 2
KEY_SECRET = "backup-manifest-key"
HMAC_PREFIX = "hmac-sha256:"


class BackupError(ValueError):
    pass


def set_files(found, set_path):
    """[{path (relative to the set), size, sha256}] sorted by path, from ansible.builtin.find's files
    (recurse, get_checksum, checksum_algorithm sha256) under ``set_path``."""
    base = set_path.rstrip("/") + "/"
    files = []
    for entry in found:
        path = entry.get("path", "")
        if not path.startswith(base) or "checksum" not in entry:
            raise BackupError("%r is not a file of the set %s with a checksum (find with get_checksum)" % (path, set_path))
        files.append({"path": posixpath.relpath(path, base), "size": entry["size"], "sha256": entry["checksum"]})
    return sorted(files, key=lambda f: f["path"])


def check_key(key):
    # never name the value: only that it is missing or too short
    if not isinstance(key, str) or len(key) < 32:
        raise BackupError("the secret %s (the key that signs backup manifests, in the controller's secret store "
                          "kompose_secrets_dir, or kompose_secrets) is missing or shorter than 32 characters: a set "
                          "can only be signed and authenticated with it" % KEY_SECRET)


def signature(manifest, key):
    """The HMAC of a manifest: HMAC-SHA256 of its canonical JSON (sorted keys, no spaces, ASCII),
    without its own ``hmac`` field."""
    check_key(key)
    body = {name: value for name, value in manifest.items() if name != "hmac"}
    # the round trip makes the data what from_json reads back (tuples as lists, str subclasses as str)
    canonical = json.dumps(json.loads(json.dumps(body)), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return HMAC_PREFIX + hmac.new(key.encode("utf-8"), canonical.encode("ascii"), hashlib.sha256).hexdigest()


def manifest(found, set_path, set_name, host, finished, stacks, versions, databases, volumes, catalog, key):
    """The signed manifest of a set: what restore.yml can put back (``items``, by service), every file
    with its size and checksum (``files``), the services of the site when it was taken, and ``hmac``."""
    items = [{"service": db["service"], "kind": "database", "database": db["name"], "owner": db["owner"],
              "file": "postgres/%s.dump" % db["name"]} for db in databases]
    if "redis" in catalog:
        items.append({"service": "redis", "kind": "redis", "file": "redis/dump.rdb"})
    if "mqtt" in catalog:
        items.append({"service": "mqtt", "kind": "mqtt", "file": "mqtt/mosquitto.db"})
    items += [{"service": v["service"], "kind": "volume", "stack": v["stack"], "volume": v["volume"],
               "file": "volumes/%s.tar" % v["volume"]} for v in volumes]
    files = set_files(found, set_path)
    present = {f["path"] for f in files}
    missing = [item["file"] for item in items if item["file"] not in present]
    if missing:
        raise BackupError("the set %s lacks %s" % (set_path, ", ".join(missing)))
    result = {
        "format": FORMAT, "set": set_name, "host": host, "finished": finished, "stacks": list(stacks),
        "versions": dict(versions), "items": items, "files": files,
        "services": {name: {"stack": entry["stack"], "container": entry.get("container"), "image": entry.get("image")}
                     for name, entry in sorted(catalog.items())},
    }
    result["hmac"] = signature(result, key)
    return result


def authenticate(manifest, key, set_name):
    """The manifest of set ``set_name`` when its HMAC is right and it names that set; raises
    BackupError naming the set and the cause otherwise (an unsigned set of format 1 included)."""
    check_key(key)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("items"), list):
        raise BackupError("backup set %s: manifest.json is not a backup manifest (no list of items)" % set_name)
    if "hmac" not in manifest:
        raise BackupError("backup set %s: its manifest has no hmac (format %s, written before manifests were signed), "
                          "so it cannot be authenticated: nothing was restored from it; restore a set taken since "
                          "(playbooks/backup.yml signs every new set), or this one by hand after checking it "
                          "(README, Day-2 operations)" % (set_name, manifest.get("format", "unknown")))
    if not isinstance(manifest["hmac"], str) or not hmac.compare_digest(manifest["hmac"], signature(manifest, key)):
        raise BackupError("backup set %s: its manifest's hmac does not match (the manifest was changed after the "
                          "backup, or signed with another %s): nothing was restored from it" % (set_name, KEY_SECRET))
    if manifest.get("set") != set_name:
        raise BackupError("backup set %s: its manifest is the one of set %r (a manifest copied from another set)"
                          % (set_name, manifest.get("set")))
    return manifest


def verify(manifest_files, found, set_path):
    """The problems of a set's files against its manifest: missing, or another size or checksum
    (a file the manifest does not name is no problem). Empty when the set is whole."""
    files = {f["path"]: f for f in set_files(found, set_path)}
    problems = []
    for want in manifest_files:
        have = files.get(want["path"])
        if have is None:
            problems.append("%s: missing" % want["path"])
        elif have["size"] != want["size"] or have["sha256"] != want["sha256"]:
            problems.append("%s: %d bytes, sha256 %s (the manifest says %d bytes, %s)"
                            % (want["path"], have["size"], have["sha256"], want["size"], want["sha256"]))
    return problems
