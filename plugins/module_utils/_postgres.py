# Copyright (c) 2025, pivoine.kompose contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private helpers shared by the collection's PostgreSQL modules.

Connection options (argument spec + connect with clear errors) and identifier validation; the
password verifiers (SCRAM-SHA-256 and md5, compared without rewriting the password) are in _scram.py.
Nothing here is a public API of the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback

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
