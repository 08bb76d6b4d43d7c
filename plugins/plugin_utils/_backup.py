# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A backup set's manifest (roles/day2/tasks/backup_set.yml writes it) and the check of a
set's files against it (roles/day2/tasks/restore.yml), from one ``find`` with SHA-256 checksums."""

from __future__ import annotations

import posixpath

FORMAT = 1


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


def manifest(found, set_path, set_name, host, finished, stacks, versions, databases, volumes, catalog):
    """The manifest of a set: what restore.yml can put back (``items``, by service), every file with
    its size and checksum (``files``), and the services of the site when it was taken."""
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
    return {
        "format": FORMAT, "set": set_name, "host": host, "finished": finished, "stacks": list(stacks),
        "versions": dict(versions), "items": items, "files": files,
        "services": {name: {"stack": entry["stack"], "container": entry.get("container"), "image": entry.get("image")}
                     for name, entry in sorted(catalog.items())},
    }


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
