# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mosquitto 2 password-file hashes (``$7$``: PBKDF2-HMAC-SHA512, 64-byte output, 12-byte salt).

The salt is HMAC-SHA256(salt_key, username, password): the same inputs give the same line on every
run (the password file does not churn), while the salt is useless to anyone without the per-site key
(the secret ``kompose-hash-key``). A salt computed from the password alone would let whoever holds
the file test a guess with one SHA-256, skipping PBKDF2.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from ansible_collections.pivoine.kompose.plugins.plugin_utils._salt import keyed_salt

ITERATIONS = 101  # mosquitto_passwd's default
SALT_LEN = 12  # Mosquitto 2.0 accepts exactly 12 bytes


def derived_salt(salt_key, username, password):
    """The 12-byte salt: HMAC-SHA256 of user and password under ``salt_key``, truncated."""
    return keyed_salt(salt_key, "mosquitto", username, password, SALT_LEN)


def password_hash(password, username, salt_key=None, salt=None, iterations=ITERATIONS):
    """Return ``$7$<iterations>$<b64 salt>$<b64 hash>`` for a Mosquitto password_file.

    Exactly one of ``salt_key`` (the per-site key the salt is derived with) or ``salt`` (an explicit
    12-byte salt, bytes or base64, for known vectors) is required.
    """
    if not isinstance(password, str) or not password:
        raise ValueError("password must be a non-empty string")
    if not isinstance(username, str) or not username or ":" in username or any(c.isspace() for c in username):
        raise ValueError("username %r must be a non-empty string without ':' or white space" % (username,))
    if salt is not None and salt_key is not None:
        raise ValueError("salt_key and salt are mutually exclusive")
    if salt is None:
        salt = derived_salt(salt_key, username, password)
    elif isinstance(salt, str):
        try:
            salt = base64.b64decode(salt, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("salt must be base64") from None
    elif not isinstance(salt, (bytes, bytearray)):
        raise ValueError("salt must be base64 text or bytes, got %s" % type(salt).__name__)
    if len(salt) != SALT_LEN:
        raise ValueError("salt must be %d bytes, got %d" % (SALT_LEN, len(salt)))
    if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 1:
        raise ValueError("iterations must be a positive whole number, got %r" % (iterations,))
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), bytes(salt), iterations, 64)
    return "$7$%d$%s$%s" % (iterations, base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


def verify(password, line_hash):
    """True when ``line_hash`` (the part after ``user:``) matches ``password``."""
    try:
        empty, kind, iterations, salt, digest = line_hash.split("$")
    except ValueError:
        return False
    if empty or kind != "7":
        return False
    try:
        computed = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), base64.b64decode(salt), int(iterations), 64)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(base64.b64encode(computed).decode(), digest)
