# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status table of one host (roles/day2/tasks/status.yml): one row per container of
the catalog, then the newest backup set and the certificates' expiry."""

from __future__ import annotations

import datetime
import re

from ansible_collections.pivoine.kompose.plugins.plugin_utils._compose import LABEL as HASH_LABEL

ROW = "%-8s %-24s %-40s %-18s %-10s %-8s %s"
SET_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")


class StatusError(ValueError):
    pass


def _utc(value):
    """An aware UTC datetime from Docker's StartedAt (nanoseconds, Z) or a backup set's name."""
    if SET_RE.fullmatch(value):
        return datetime.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    match = re.fullmatch(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$", value)
    if not match:
        raise StatusError("not a UTC time stamp: %r" % value)
    return datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)


def _uptime(seconds):
    return "%dd%02dh%02dm" % (seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60)


def rows(inspected, hashes, now):
    """The header and one row per container: stack, container, image, state/health, uptime, restarts,
    and whether its config is current (its config-hash label against the digest a render would give).

    ``inspected``: the results of docker_container_info looped over the catalog's entries with a
    container (``item`` the entry, ``exists``, ``container``); ``hashes``: service -> digest (the
    stack_files results' config_hashes); ``now``: epoch seconds.
    """
    lines = [ROW % ("STACK", "CONTAINER", "IMAGE", "STATE", "UPTIME", "RESTARTS", "CONFIG")]
    for result in inspected:
        entry = result["item"]
        if not result.get("exists"):
            lines.append(ROW % (entry["stack"], entry["container"], entry.get("image", ""), "MISSING", "-", "-", "-"))
            continue
        container = result["container"]
        state = container["State"]
        status = state["Status"] + ("/" + state["Health"]["Status"] if state.get("Health") else "")
        if state.get("Running"):
            uptime = _uptime(max(0, int(now - _utc(state["StartedAt"]).timestamp())))
        else:
            uptime = "-"
        label = (container["Config"].get("Labels") or {}).get(HASH_LABEL, "")
        want = hashes.get(entry["name"], "")
        if not want and not label:
            config = "n/a (mounts no rendered file)"
        else:
            config = "current" if label == want else "DRIFT: up would recreate it"
        lines.append(ROW % (entry["stack"], entry["container"], container["Config"]["Image"], status, uptime,
                            container.get("RestartCount", 0), config))
    return lines


def backup_line(set_names, backup_dir, now):
    """How old the newest backup set is."""
    sets = sorted(name for name in set_names if SET_RE.fullmatch(name))
    if not sets:
        return "last backup: none in %s" % backup_dir
    hours = round((now - _utc(sets[-1]).timestamp()) / 3600, 1)
    return "last backup: %s (%s h ago) in %s" % (sets[-1], hours, backup_dir)


def table(inspected, hashes, now, set_names, backup_dir, certificates=None, acme_path=""):
    """The whole status message: rows, the backup line, and with ``certificates`` (the results of
    x509_certificate_info looped over acme.json's certificates; None when there is no proxy) one line
    per certificate."""
    if not isinstance(inspected, list):
        raise StatusError("expected the docker_container_info results, got %s" % type(inspected).__name__)
    lines = rows(inspected, hashes, float(now)) + [backup_line(set_names, backup_dir, float(now))]
    if certificates is not None:
        lines += ["certificate %s: expires %s" % (c["item"]["domain"]["main"], c["not_after"])
                  for c in certificates if "not_after" in c] or ["certificates: none found in %s" % acme_path]
    return lines
