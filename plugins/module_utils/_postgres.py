# Copyright (c) 2025, pivoine.kompose contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private helpers shared by the collection's PostgreSQL modules.

Connection options (argument spec + connect with clear errors), password verifier checks
(SCRAM-SHA-256 and md5, without rewriting the password) and identifier validation.
Nothing here is a public API of the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import hmac
import stringprep
import traceback
import unicodedata

from ansible.module_utils.basic import missing_required_lib

PSYCOPG_IMPORT_ERROR = None
try:
    import psycopg
    from psycopg import sql
except ImportError:
    psycopg = None
    sql = None
    PSYCOPG_IMPORT_ERROR = traceback.format_exc()

# PostgreSQL truncates identifiers longer than NAMEDATALEN - 1 bytes (with a NOTICE only),
# which would make a module silently manage another object than the one asked for.
MAX_IDENTIFIER_BYTES = 63
MASK = '********'


def postgres_argument_spec():
    """Connection options of every PostgreSQL module of the collection."""
    return dict(
        login_host=dict(type='str'),
        login_port=dict(type='int', default=5432),
        login_user=dict(type='str', default='postgres'),
        login_password=dict(type='str', no_log=True),
        login_db=dict(type='str', default='postgres'),
        login_unix_socket=dict(type='str'),
        connect_timeout=dict(type='int', default=10),
        ssl_mode=dict(type='str', default='prefer',
                      choices=['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']),
        ca_cert=dict(type='path'),
    )


def ensure_psycopg(module):
    if psycopg is None:
        module.fail_json(msg=missing_required_lib('psycopg (psycopg 3)'), exception=PSYCOPG_IMPORT_ERROR)


def one_line(exc):
    """An exception's text on one line (libpq messages span several)."""
    return ' '.join(str(exc).split())


def endpoint(params):
    host = params.get('login_unix_socket') or params.get('login_host') or 'the default socket'
    return '%s:%s' % (host, params['login_port'])


def connect(module, dbname=None):
    """Open an autocommit connection; fail with `Unable to connect ...` on any error."""
    p = module.params
    kwargs = dict(
        port=p['login_port'],
        user=p['login_user'],
        dbname=dbname or p['login_db'],
        connect_timeout=p['connect_timeout'],
        sslmode=p['ssl_mode'],
        application_name='pivoine.kompose',
        autocommit=True,
    )
    host = p.get('login_unix_socket') or p.get('login_host')
    if host:
        kwargs['host'] = host
    if p.get('login_password'):
        kwargs['password'] = p['login_password']
    if p.get('ca_cert'):
        kwargs['sslrootcert'] = p['ca_cert']
    try:
        return psycopg.connect(**kwargs)
    except psycopg.Error as exc:
        where = '' if dbname is None else ' (database %s)' % dbname
        module.fail_json(msg='Unable to connect to PostgreSQL at %s as %s%s: %s'
                         % (endpoint(p), p['login_user'], where, one_line(exc)))


def identifier(name):
    """A safely quoted identifier (any characters; see check_identifier for the length)."""
    return sql.Identifier(name)


def check_identifier(option, value):
    """Return an error message for a name PostgreSQL cannot hold exactly, else None.

    Any other character is fine: names are always quoted with psycopg.sql.Identifier.
    """
    if not value:
        return '%s must not be empty' % option
    if '\x00' in value:
        return '%s=%r contains a NUL character' % (option, value)
    if len(value.encode('utf-8')) > MAX_IDENTIFIER_BYTES:
        return ('%s=%r is %d bytes long; PostgreSQL identifiers hold at most %d bytes'
                % (option, value, len(value.encode('utf-8')), MAX_IDENTIFIER_BYTES))
    return None


# --- password verifiers -------------------------------------------------------------------

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
