# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argon2id PHC strings for services that take a hash instead of a password (Vaultwarden's ADMIN_TOKEN).

As with the bcrypt hashes (``_bcrypt.py``), the salt is keyed by the per-site secret
``kompose-hash-key`` (``_salt.keyed_salt``): the same secret gives the same PHC string on every run,
so the rendered file does not change and the container is not recreated for nothing, and the salt
gives no shortcut to testing a guessed password to anyone without the key.

The default cost is the one ``vaultwarden hash`` uses by default (its "bitwarden" preset): Argon2id,
version 19, 65540 KiB of memory, 3 passes, 4 lanes, a 32-byte salt and a 32-byte hash.
"""

from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.plugin_utils._salt import check_salt_key, keyed_salt

SALT_LEN = 32  # bytes; keyed_salt gives at most the 32 bytes of one HMAC-SHA256
HASH_LEN = 32
DEFAULTS = {"time_cost": 3, "memory_cost": 65540, "parallelism": 4}
# bounds the hash is computed within on the controller (memory in KiB)
LIMITS = {"time_cost": (1, 10), "memory_cost": (8192, 1048576), "parallelism": (1, 16)}


def _check_cost(name, value):
    low, high = LIMITS[name]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError("%s must be a whole number from %d to %d, got %r" % (name, low, high, value))


def derived_salt(salt_key, password, context):
    """The 32-byte salt: HMAC-SHA256 of context and password under salt_key (see _salt.keyed_salt)."""
    return keyed_salt(salt_key, "argon2", context, password, SALT_LEN)


def argon2_hash(password, salt_key, context="", time_cost=DEFAULTS["time_cost"],
                memory_cost=DEFAULTS["memory_cost"], parallelism=DEFAULTS["parallelism"]):
    """Return an Argon2id PHC string ($argon2id$v=19$m=..,t=..,p=..$salt$hash) of ``password``."""
    from argon2.low_level import Type, hash_secret  # controller-side dependency (argon2-cffi)

    if not isinstance(password, str) or not password:
        raise ValueError("password must be a non-empty string")
    if not isinstance(context, str):
        raise ValueError("context must be a string, got %r" % (context,))
    _check_cost("time_cost", time_cost)
    _check_cost("memory_cost", memory_cost)
    _check_cost("parallelism", parallelism)
    if memory_cost < 8 * parallelism:
        raise ValueError("memory_cost must be at least 8 KiB per lane (8 * parallelism = %d), got %d" % (8 * parallelism, memory_cost))
    check_salt_key(salt_key)
    encoded = hash_secret(password.encode("utf-8"), derived_salt(salt_key, password, context),
                          time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism,
                          hash_len=HASH_LEN, type=Type.ID, version=19)
    return encoded.decode("ascii")
