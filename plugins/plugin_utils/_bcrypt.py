# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bcrypt hashes for services that take a hash instead of a password (htpasswd, admin tokens).

The salt is derived from the password and a context (the user name), so rendering the same secret
gives the same hash on every run: files stay unchanged and containers are not restarted for nothing.
"""

from __future__ import annotations

import base64
import hashlib

# bcrypt's own base64 alphabet
_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_BCRYPT = str.maketrans(_STD, _BCRYPT)


def derived_salt(password, context, rounds=12):
    """A bcrypt salt string ($2b$NN$ + 22 chars) unique to this password and context."""
    seed = hashlib.sha256(b"pivoine.kompose/bcrypt\0" + context.encode("utf-8") + b"\0" + password.encode("utf-8")).digest()[:16]
    encoded = base64.b64encode(seed).decode("ascii").rstrip("=").translate(_TO_BCRYPT)
    # 16 bytes give 22 characters; bcrypt only uses the top 4 bits of the last one
    encoded = encoded[:21] + _BCRYPT[_BCRYPT.index(encoded[21]) & 0x30]
    return "$2b$%02d$%s" % (rounds, encoded)


def bcrypt_hash(password, context="", rounds=12):
    """Return a bcrypt hash ($2b$) of ``password`` with a salt derived from password and context."""
    import bcrypt  # controller-side dependency, pinned in requirements/requirements.txt

    if not isinstance(password, str) or not password:
        raise ValueError("password must be a non-empty string")
    if len(password.encode("utf-8")) > 72:
        raise ValueError("password is longer than bcrypt's 72-byte limit")
    if not isinstance(rounds, int) or isinstance(rounds, bool) or not 4 <= rounds <= 31:
        raise ValueError("rounds must be a whole number from 4 to 31, got %r" % (rounds,))
    if not isinstance(context, str):
        raise ValueError("context must be a string, got %r" % (context,))
    salt = derived_salt(password, context, rounds).encode("ascii")
    return bcrypt.hashpw(password.encode("utf-8"), salt).decode("ascii")
