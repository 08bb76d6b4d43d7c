# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bcrypt hashes for services that take a hash instead of a password (htpasswd, admin tokens).

The salt is HMAC-SHA256(salt_key, context, password): rendering the same secret gives the same hash
on every run (files stay unchanged, containers are not restarted for nothing), while the salt is
useless to anyone without the per-site key (the secret ``kompose-hash-key``). A salt computed from
the password alone would let whoever holds the hash test a guess with one SHA-256, skipping bcrypt.
"""

from __future__ import annotations

import base64

from ansible_collections.pivoine.kompose.plugins.plugin_utils._salt import check_salt_key, keyed_salt


# bcrypt's own base64 alphabet
_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_BCRYPT = str.maketrans(_STD, _BCRYPT)


def derived_salt(salt_key, password, context, rounds=12):
    """A bcrypt salt string ($2b$NN$ + 22 chars): HMAC-SHA256 of context and password under salt_key."""
    seed = keyed_salt(salt_key, "bcrypt", context, password, 16)
    encoded = base64.b64encode(seed).decode("ascii").rstrip("=").translate(_TO_BCRYPT)
    # 16 bytes give 22 characters; bcrypt only uses the top 4 bits of the last one
    encoded = encoded[:21] + _BCRYPT[_BCRYPT.index(encoded[21]) & 0x30]
    return "$2b$%02d$%s" % (rounds, encoded)


def bcrypt_hash(password, salt_key, context="", rounds=12):
    """Return a bcrypt hash ($2b$) of ``password``; the salt is keyed by ``salt_key`` (see module doc)."""
    import bcrypt  # controller-side dependency, pinned in requirements/requirements.txt

    if not isinstance(password, str) or not password:
        raise ValueError("password must be a non-empty string")
    if len(password.encode("utf-8")) > 72:
        raise ValueError("password is longer than bcrypt's 72-byte limit")
    if not isinstance(rounds, int) or isinstance(rounds, bool) or not 4 <= rounds <= 31:
        raise ValueError("rounds must be a whole number from 4 to 31, got %r" % (rounds,))
    if not isinstance(context, str):
        raise ValueError("context must be a string, got %r" % (context,))
    check_salt_key(salt_key)
    salt = derived_salt(salt_key, password, context, rounds).encode("ascii")
    return bcrypt.hashpw(password.encode("utf-8"), salt).decode("ascii")
