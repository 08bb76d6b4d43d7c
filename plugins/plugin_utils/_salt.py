# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deterministic salts keyed by the site's secret ``kompose-hash-key``.

The same (key, purpose, user, password) always gives the same salt, so a rendered password file
does not change from run to run; without the key, a salt (and so a hash) gives no shortcut to
testing a guessed password.
"""

from __future__ import annotations

import hashlib
import hmac

SALT_KEY_MIN_LEN = 16


def check_salt_key(salt_key):
    """Raise ValueError (naming ``salt_key``, never its value) unless it is a usable key."""
    if salt_key is None:
        raise ValueError("salt_key is required (the per-site secret kompose-hash-key)")
    if not isinstance(salt_key, str):
        raise ValueError("salt_key must be a string, got %s" % type(salt_key).__name__)
    if len(salt_key) < SALT_KEY_MIN_LEN:
        raise ValueError("salt_key is too short: it needs at least %d characters" % SALT_KEY_MIN_LEN)


def keyed_salt(salt_key, purpose, context, password, length):
    """HMAC-SHA256(salt_key, b"pivoine.kompose/<purpose>\\0<context>\\0<password>")[:length]."""
    check_salt_key(salt_key)
    message = b"pivoine.kompose/" + purpose.encode("ascii") + b"\0" + context.encode("utf-8") + b"\0" + password.encode("utf-8")
    return hmac.new(salt_key.encode("utf-8"), message, hashlib.sha256).digest()[:length]
