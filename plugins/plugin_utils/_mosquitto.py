# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mosquitto 2 password-file hashes (``$7$``: PBKDF2-HMAC-SHA512, 64-byte output, 12-byte salt)."""

from __future__ import annotations

import base64
import hashlib

ITERATIONS = 101  # mosquitto_passwd's default
SALT_LEN = 12  # Mosquitto 2.0 accepts exactly 12 bytes


def derived_salt(username, password):
    """A salt unique to this user and password, so the same inputs give the same line on every run."""
    seed = b"pivoine.kompose/mosquitto\0" + username.encode("utf-8") + b"\0" + password.encode("utf-8")
    return hashlib.sha256(seed).digest()[:SALT_LEN]


def password_hash(password, username, salt=None, iterations=ITERATIONS):
    """Return ``$7$<iterations>$<b64 salt>$<b64 hash>`` for a Mosquitto password_file."""
    if not isinstance(password, str) or not password:
        raise ValueError("password must be a non-empty string")
    if not isinstance(username, str) or not username or ":" in username or any(c.isspace() for c in username):
        raise ValueError("username %r must be a non-empty string without ':' or white space" % (username,))
    if salt is None:
        salt = derived_salt(username, password)
    elif isinstance(salt, str):
        salt = base64.b64decode(salt, validate=True)
    if len(salt) != SALT_LEN:
        raise ValueError("salt must be %d bytes, got %d" % (SALT_LEN, len(salt)))
    if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 1:
        raise ValueError("iterations must be a positive whole number, got %r" % (iterations,))
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return "$7$%d$%s$%s" % (iterations, base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


def verify(password, line_hash):
    """True when ``line_hash`` (the part after ``user:``) matches ``password``."""
    try:
        empty, kind, iterations, salt, digest = line_hash.split("$")
    except ValueError:
        return False
    if empty or kind != "7":
        return False
    computed = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), base64.b64decode(salt), int(iterations), 64)
    return base64.b64encode(computed).decode() == digest
