# Copyright (c) 2025, pivoine.kompose contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PostgreSQL's SCRAM-SHA-256 password verifiers, in the standard library only.

Apart from the connection helpers (_postgres.py, which imports psycopg) so that the
``scram_sha256`` filter, loaded on the controller whenever a template names one of the
collection's filters, does not pay for importing the PostgreSQL driver.
Nothing here is a public API of the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import hmac
import stringprep
import unicodedata

_PROHIBITED = (
    stringprep.in_table_c12, stringprep.in_table_c21, stringprep.in_table_c22,
    stringprep.in_table_c3, stringprep.in_table_c4, stringprep.in_table_c5,
    stringprep.in_table_c6, stringprep.in_table_c7, stringprep.in_table_c8,
    stringprep.in_table_c9, stringprep.in_table_a1,
)


def saslprep(password):
    """SASLprep (RFC 4013) the way PostgreSQL applies it to SCRAM passwords.

    Pure ASCII is used as is; a string SASLprep rejects is used unprocessed (PostgreSQL does
    the same rather than refusing the password).
    """
    if all(ord(c) < 128 for c in password):
        return password
    mapped = ''.join(' ' if stringprep.in_table_c12(c) else c
                     for c in password if not stringprep.in_table_b1(c))
    text = unicodedata.normalize('NFKC', mapped)
    if not text or any(check(c) for c in text for check in _PROHIBITED):
        return password
    if any(stringprep.in_table_d1(c) for c in text):
        if (any(stringprep.in_table_d2(c) for c in text)
                or not (stringprep.in_table_d1(text[0]) and stringprep.in_table_d1(text[-1]))):
            return password
    return text


def scram_keys(password, salt, iterations):
    """Return (StoredKey, ServerKey) for a password, as in RFC 5802."""
    salted = hashlib.pbkdf2_hmac('sha256', saslprep(password).encode('utf-8'), salt, iterations)
    client_key = hmac.new(salted, b'Client Key', hashlib.sha256).digest()
    server_key = hmac.new(salted, b'Server Key', hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest(), server_key


def password_matches(stored, password, role):
    """Compare a password with a stored verifier (pg_authid.rolpassword).

    Returns True or False, or None when the stored value cannot be checked
    (unknown format, or not readable: NULL means no password, see below).
    A role without a password (stored None) never matches.
    """
    if stored is None:
        return False
    if stored.startswith('SCRAM-SHA-256$'):
        try:
            head, keys = stored[len('SCRAM-SHA-256$'):].split('$')
            iterations, salt = head.split(':')
            stored_key, server_key = keys.split(':')
            want_stored, want_server = scram_keys(password, base64.b64decode(salt, validate=True),
                                                  int(iterations))
            return (hmac.compare_digest(want_server, base64.b64decode(server_key, validate=True))
                    and hmac.compare_digest(want_stored, base64.b64decode(stored_key, validate=True)))
        except (ValueError, TypeError):
            return None
    if stored.startswith('md5') and len(stored) == 35:
        digest = 'md5' + hashlib.md5((password + role).encode('utf-8')).hexdigest()
        return hmac.compare_digest(digest, stored)
    return None


def scram_verifier(password, salt, iterations=4096):
    """Build a SCRAM-SHA-256 verifier (for tests; the modules let libpq build them)."""
    stored_key, server_key = scram_keys(password, salt, iterations)
    b64 = base64.b64encode
    return 'SCRAM-SHA-256$%d:%s$%s:%s' % (iterations, b64(salt).decode(), b64(stored_key).decode(),
                                          b64(server_key).decode())
