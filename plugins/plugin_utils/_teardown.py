# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a teardown finds on a host, what it removes, what it refuses, and what it says.

roles/day2/tasks/teardown.yml gathers the facts (docker_host_info, the directories and
compose files under kompose_root) and acts; the decisions are made here, so that unit tests cover
them without a Docker engine.

A stack is a compose project: one named like a stack of the registry, or one whose containers carry
the label org.pivoine.kompose.stack (a stack an older collection knew, or one dropped from the
registry). It is on the host when it has containers; with a purge also when its named volumes or its
directory under kompose_root are left.
"""

from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.plugin_utils._compose import STACK_LABEL as STACK

PROJECT = "com.docker.compose.project"


class TeardownError(Exception):
    """Input a teardown cannot plan with."""


def _labels(item):
    labels = item.get("Labels")
    return labels if isinstance(labels, dict) else {}


def _container_name(container):
    names = container.get("Names") or [container.get("Id", "?")]
    return names[0].lstrip("/")


def stock(host, root, dirs, compose_files, registry):
    """Stack -> {containers: [{name, state}], volumes, anonymous, dir, compose}, in the registry's
    order, then the labelled projects the registry does not know.

    ``host``: docker_host_info's result (containers and volumes of compose projects, verbose);
    ``dirs``: directories under ``root``; ``compose_files``: compose files at most two levels under it.
    """
    if not isinstance(host, dict):
        raise TeardownError("the host facts must be docker_host_info's result, got %s" % type(host).__name__)
    containers = host.get("containers") or []
    volumes = [v for v in host.get("volumes") or [] if isinstance(v.get("Labels"), dict)]
    labelled = {v["Name"] for v in volumes}
    names = [entry["name"] for entry in registry]
    for container in containers:
        labels = _labels(container)
        if STACK in labels and labels.get(PROJECT) not in names:
            names.append(labels[PROJECT])
    base = root.rstrip("/")
    composed = {path.rsplit("/", 1)[0] for path in compose_files}
    found = {}
    for name in names:
        mine, anonymous = [], []
        for container in containers:
            if _labels(container).get(PROJECT) != name:
                continue
            mine.append({"name": _container_name(container), "state": container.get("State")})
            anonymous += [m["Name"] for m in container.get("Mounts") or []
                          if m.get("Type") == "volume" and m.get("Name") and m["Name"] not in labelled]
        path = base + "/" + name
        found[name] = {
            "containers": sorted(mine, key=lambda c: c["name"]),
            "volumes": sorted(v["Name"] for v in volumes if v["Labels"].get(PROJECT) == name),
            "anonymous": sorted(set(anonymous)),
            "dir": path if path in dirs else "",
            "compose": path in composed,
        }
    return found


def plan(host, root, dirs, compose_files, registry, stacks, purge, kept):
    """The whole teardown decision for one host.

    ``stacks``: the stacks asked for (empty: every stack of the site on the host); ``purge``: delete
    the data too; ``kept``: paths a teardown never deletes (the backup sets, the secret store).

    Returns found (see stock), unknown (asked for, not a stack), plan (to tear down, the reverse of
    the registry's order: the apps before the core), needed ([{stack, by}]: a planned stack that a
    stack left running requires), inside (directories the purge would delete that hold a kept path),
    down (planned stacks with containers), volumes and dirs (what a purge deletes), containers (the
    planned stacks' container names), all_gone (a purge that leaves no stack of the site running),
    in_core (planned stacks that keep databases and users in the core stack's servers), purge, show
    (see show).
    """
    found = stock(host, root, dirs, compose_files, registry)
    running = [name for name, f in found.items() if f["containers"]]
    if stacks:
        wanted = set(stacks)
    else:
        wanted = set(running)
        if purge:
            wanted |= {name for name, f in found.items() if f["volumes"] or f["dir"]}
    planned = [name for name in reversed(list(found)) if name in wanted]
    needed = []
    for name in planned:
        by = [entry["name"] for entry in registry
              if name in entry.get("requires", []) and entry["name"] not in planned and entry["name"] in running]
        if by:
            needed.append({"stack": name, "by": by})
    inside = []
    for name in planned if purge else []:
        directory = root.rstrip("/") + "/" + name
        for path in kept:
            if (path.rstrip("/") == directory or path.startswith(directory + "/")) and directory not in inside:
                inside.append(directory)
    teardown = {
        "found": found,
        "unknown": list(dict.fromkeys(name for name in stacks if name not in found)),
        "plan": planned,
        "needed": needed,
        "inside": inside,
        "down": [name for name in planned if found[name]["containers"]],
        "volumes": [volume for name in planned for volume in found[name]["volumes"]],
        "dirs": [found[name]["dir"] for name in planned if found[name]["dir"]],
        "containers": [c["name"] for name in planned for c in found[name]["containers"]],
        "all_gone": bool(purge) and all(name in planned for name in running),
        "in_core": [entry["name"] for entry in registry
                    if "core" in entry.get("requires", []) and entry["name"] in planned],
        "purge": bool(purge),
    }
    teardown["show"] = show(teardown)
    return teardown


def show(teardown):
    """Stack -> what a teardown finds of it: container names, volumes (named and anonymous), directory."""
    return {name: {"containers": [c["name"] for c in teardown["found"][name]["containers"]],
                   "volumes": teardown["found"][name]["volumes"] + teardown["found"][name]["anonymous"],
                   "directory": teardown["found"][name]["dir"]}
            for name in teardown["plan"]}


def summary(teardown, host, check_mode, network, network_found, network_users, backup_dir, secrets_dir, enabled):
    """The lines a teardown ends with: what was removed and what was kept, per stack; the network;
    what is always kept; stacks still enabled (``enabled``: kompose_stacks and the custom stacks) that the
    next site run starts.

    ``network_found``: whether the network was there (only asked when all_gone); ``network_users``:
    containers outside the site that still use it.
    """
    done = "would remove" if check_mode else "removed"
    planned = teardown["plan"]
    lines = []
    if not planned:
        lines.append("Nothing to tear down: no stack of this site is on %s." % host)
    for name in planned:
        f = teardown["found"][name]
        containers = ", ".join(c["name"] for c in f["containers"]) or "none"
        directory = f["dir"] or "none"
        if teardown["purge"]:
            volumes = ", ".join(f["volumes"] + f["anonymous"]) or "none"
            lines.append("%s: %s containers %s; volumes %s; directory %s" % (name, done, containers, volumes, directory))
        else:
            volumes = ", ".join(f["volumes"]) or "none"
            anonymous = "; kept anonymous volumes " + ", ".join(f["anonymous"]) if f["anonymous"] else ""
            lines.append("%s: %s containers %s; kept volumes %s%s; kept directory %s"
                         % (name, done, containers, volumes, anonymous, directory))
    if teardown["all_gone"]:
        if network_users:
            state = "kept, still used by " + ", ".join(network_users)
        else:
            state = done if network_found else "none there"
        lines.append("Network %s: %s." % (network, state))
    elif planned:
        lines.append("Network %s: kept (only a purge that leaves no stack on the host removes it)." % network)
    lines.append("Kept always: the backup sets in %s (kompose_backup_dir); the controller's secret store %s/%s"
                 " (kompose_secrets_dir)." % (backup_dir, secrets_dir, host))
    if teardown["in_core"] and not (teardown["purge"] and "core" in planned):
        lines.append("Kept in the core stack's servers: the databases and Redis users of %s (gone only with the"
                     " core stack's volumes)." % ", ".join(teardown["in_core"]))
    still = [name for name in planned if name in enabled]
    if still:
        lines.append("Still enabled (kompose_stacks, kompose_custom_stacks): %s; the next site.yml run starts %s again."
                     % (", ".join(still), "it" if len(still) == 1 else "them"))
    return lines
