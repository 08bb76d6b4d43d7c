# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container hardening from the service catalog: what each container may do besides its work.

Every enabled service with a container runs with ``no-new-privileges`` (no setuid binary or file
capability raises a process's privileges), without any Linux capability but those its catalog entry
names (``hardening.cap_add``: an image that starts as root to chown its data and switch users needs
CHOWN, DAC_OVERRIDE, SETUID, SETGID, ...; one that binds a port below 1024 NET_BIND_SERVICE), with a
read-only root file system where the upstream image writes nowhere but its volumes
(``hardening.read_only``, with ``tmpfs`` mounts for /tmp and the like), and with a memory and a
process limit (``hardening.memory``, ``hardening.pids``; the site's defaults otherwise,
``kompose_hardening_defaults``). ``compose_keys`` turns that into each service's compose keys; the
compose templates emit them beside its networks (roles/kompose/tasks/networks.yml).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

HARDENING_KEYS = ("cap_add", "read_only", "tmpfs", "memory", "pids", "user")
DEFAULT_KEYS = ("memory", "pids")
NO_NEW_PRIVILEGES = "no-new-privileges:true"
# Linux capabilities (capabilities(7)), as compose and Docker name them (without CAP_)
CAPABILITIES = frozenset((
    "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN",
    "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
    "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT",
    "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME",
    "SYS_TTY_CONFIG", "SYSLOG", "WAKE_ALARM",
))
# compose's byte values with Docker's binary units (m = MiB); Docker refuses a memory limit below 6 MiB
MEMORY_RE = re.compile(r"^([0-9]{1,12})([bkmg])$")
UNITS = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
MIN_MEMORY = 6 * 1024 ** 2
# an absolute path, optionally with mount options (/tmp:size=64m,mode=1777)
TMPFS_RE = re.compile(r"^/[A-Za-z0-9._/-]*(?::[A-Za-z0-9=,]+)?$")
# user[:group], names or ids
USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$")


class HardeningError(ValueError):
    pass


def memory_bytes(value):
    """A memory size as compose reads it (``512m``) in bytes; None when it is not one."""
    match = MEMORY_RE.fullmatch(value) if isinstance(value, str) else None
    return int(match.group(1)) * UNITS[match.group(2)] if match else None


def _check_memory(where, value):
    size = memory_bytes(value)
    if size is None or size < MIN_MEMORY:
        raise HardeningError("%s.memory: %r is not a memory size such as 512m (digits and b, k, m or g; at least 6m, "
                             "Docker's minimum)" % (where, value))


def _check_pids(where, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise HardeningError("%s.pids: %r is not a whole number of processes (1 or more)" % (where, value))


def check(where, spec):
    """A ``hardening`` entry: {cap_add, read_only, tmpfs, memory, pids, user}, each optional.
    ``where`` names it (``kompose_services.<service>.hardening``)."""
    if not isinstance(spec, Mapping):
        raise HardeningError("%s: expected a mapping with %s, got %r" % (where, "/".join(HARDENING_KEYS), spec))
    unknown = set(spec) - set(HARDENING_KEYS)
    if unknown:
        raise HardeningError("%s: unknown key(s) %s (known: %s)"
                             % (where, ", ".join(sorted(map(str, unknown))), ", ".join(sorted(HARDENING_KEYS))))
    if "cap_add" in spec:
        caps = spec["cap_add"]
        if not isinstance(caps, list):
            raise HardeningError("%s.cap_add: %r is not a list of capabilities" % (where, caps))
        for cap in caps:
            if cap not in CAPABILITIES:
                raise HardeningError("%s.cap_add: %r is not a Linux capability as Docker names it (upper case, without "
                                     "CAP_, e.g. NET_BIND_SERVICE; never ALL)" % (where, cap))
    if "read_only" in spec and not isinstance(spec["read_only"], bool):
        raise HardeningError("%s.read_only: %r is not a boolean" % (where, spec["read_only"]))
    if "tmpfs" in spec:
        paths = spec["tmpfs"]
        if not isinstance(paths, list):
            raise HardeningError("%s.tmpfs: %r is not a list of absolute paths" % (where, paths))
        for path in paths:
            if not isinstance(path, str) or not TMPFS_RE.fullmatch(path):
                raise HardeningError("%s.tmpfs: %r is not an absolute path (optionally with mount options, "
                                     "/tmp:size=64m)" % (where, path))
    if "memory" in spec:
        _check_memory(where, spec["memory"])
    if "pids" in spec:
        _check_pids(where, spec["pids"])
    if "user" in spec and not (isinstance(spec["user"], str) and USER_RE.fullmatch(spec["user"])):
        raise HardeningError("%s.user: %r is not a user such as 1000:1000 (a name or id, optionally :group)"
                             % (where, spec["user"]))


def check_defaults(defaults):
    """``kompose_hardening_defaults``: the memory and pids limits of every entry that sets none."""
    where = "kompose_hardening_defaults"
    if not isinstance(defaults, Mapping) or set(defaults) != set(DEFAULT_KEYS):
        raise HardeningError("%s: %r is not a mapping with exactly %s" % (where, defaults, " and ".join(DEFAULT_KEYS)))
    _check_memory(where, defaults["memory"])
    _check_pids(where, defaults["pids"])


def compose_keys(catalog, defaults, privileged=()):
    """Service -> its hardening compose keys, for every service of a resolved catalog with a container.

    Each gets ``security_opt: [no-new-privileges:true]``, ``cap_drop: [ALL]`` and its entry's ``cap_add``
    (sorted; left out when empty), ``read_only: true`` and ``tmpfs`` when the entry sets them, ``mem_limit``
    and ``pids_limit`` from the entry or ``defaults`` ({memory, pids}), ``user`` when the entry names one.
    A service in ``privileged`` (its template runs it privileged) gets no ``cap_drop``/``cap_add``: Docker
    grants a privileged container every capability whatever they say.
    """
    if not isinstance(catalog, Mapping):
        raise HardeningError("expected the resolved catalog (a mapping of service name to entry), got %s" % type(catalog).__name__)
    check_defaults(defaults)
    if not isinstance(privileged, (list, tuple)) or not all(isinstance(name, str) for name in privileged):
        raise HardeningError("privileged: expected a list of service names, got %r" % (privileged,))
    out = {}
    for name, entry in sorted(catalog.items()):
        if not isinstance(entry, Mapping) or not entry.get("container"):
            continue
        spec = entry.get("hardening") or {}
        check("kompose_services.%s.hardening" % name, spec)
        keys = {"security_opt": [NO_NEW_PRIVILEGES]}
        if name not in privileged:
            keys["cap_drop"] = ["ALL"]
            if spec.get("cap_add"):
                keys["cap_add"] = sorted(set(spec["cap_add"]))
        if spec.get("read_only"):
            keys["read_only"] = True
        if spec.get("tmpfs"):
            keys["tmpfs"] = list(spec["tmpfs"])
        keys["mem_limit"] = spec.get("memory", defaults["memory"])
        keys["pids_limit"] = spec.get("pids", defaults["pids"])
        if spec.get("user"):
            keys["user"] = spec["user"]
        out[name] = keys
    return out


def service_keys(catalog, defaults, base, privileged=()):
    """``compose_keys`` merged into ``base`` (service -> compose keys it already gets, e.g. its networks):
    every service's per-service compose keys in one mapping. A key set by both is refused."""
    if not isinstance(base, Mapping):
        raise HardeningError("base: expected a mapping of service name to compose keys, got %r" % (base,))
    hardening = compose_keys(catalog, defaults, privileged)
    out = {}
    for name in sorted(set(base) | set(hardening)):
        keys = dict(base.get(name) or {})
        twice = sorted(set(keys) & set(hardening.get(name, {})))
        if twice:
            raise HardeningError("service %s: compose key(s) %s set by both its hardening and %r"
                                 % (name, ", ".join(twice), {key: keys[key] for key in twice}))
        keys.update(hardening.get(name, {}))
        out[name] = keys
    return out
