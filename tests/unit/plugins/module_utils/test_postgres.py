# SPDX-License-Identifier: GPL-3.0-or-later
"""Tables of cases for the pure parts of module_utils/_postgres.py and _scram.py."""

import pytest

from ansible_collections.pivoine.kompose.plugins.module_utils import _postgres
from ansible_collections.pivoine.kompose.plugins.module_utils import _scram as pg

# Verifiers taken from a real PostgreSQL 15 (pg_authid.rolpassword).
SCRAM_S3CRET = ('SCRAM-SHA-256$4096:qNmelkw3vmU15LOBUJ7QZw==$bGTp3/A3iEaeCajFO2VXejJrhWGJgl9Bpc07UtFHJ6Y='
                ':+Txqh4dPSxS3D06z7alfcbSUBuwG9geafKKizDhUA1g=')
# password E'I\u00ADX\u00A0y': SASLprep drops the soft hyphen and maps the no-break space.
SCRAM_UNICODE = ('SCRAM-SHA-256$4096:1HlTcZw/iMEctQoupEfraA==$XkGpy5NmI+f7wU21kd2drh6MsD9Yr+2C6C7D6pLGJwg='
                 ':3RdhEZ5W2iNmSLtEjT3793f6xBy/PPmADbkYBTYjH1M=')
MD5_PASSWORD = 'md5ca8c94af15b6a05ca17e17f594c71dfb'  # 'pässword' for role md5role


@pytest.mark.parametrize('stored, password, role, expected', [
    (SCRAM_S3CRET, 's3cret', 'smoke', True),
    (SCRAM_S3CRET, 's3cret ', 'smoke', False),
    (SCRAM_S3CRET, 'S3cret', 'smoke', False),
    (SCRAM_S3CRET, 's3cret', 'another-role', True),  # SCRAM does not depend on the role name
    (SCRAM_UNICODE, 'I\u00adX\u00a0y', 'uni', True),
    (SCRAM_UNICODE, 'IX y', 'uni', True),
    (SCRAM_UNICODE, 'I-X y', 'uni', False),
    (MD5_PASSWORD, 'pässword', 'md5role', True),
    (MD5_PASSWORD, 'pässword', 'other', False),
    (MD5_PASSWORD, 'password', 'md5role', False),
    (None, 'anything', 'r', False),
    ('SCRAM-SHA-256$4096:not-base64$x:y', 's3cret', 'r', None),
    ('SCRAM-SHA-256$garbage', 's3cret', 'r', None),
    ('plaintext', 'plaintext', 'r', None),
    ('********', 's3cret', 'r', None),
])
def test_password_matches(stored, password, role, expected):
    assert pg.password_matches(stored, password, role) is expected


@pytest.mark.parametrize('password, iterations', [('s3cret', 4096), ('pässword', 1), ('', 10), ('x' * 200, 4096)])
def test_scram_verifier_round_trip(password, iterations):
    stored = pg.scram_verifier(password, b'0123456789abcdef', iterations)
    assert stored.startswith('SCRAM-SHA-256$%d:' % iterations)
    assert pg.password_matches(stored, password, 'r') is True
    assert pg.password_matches(stored, password + 'x', 'r') is False


@pytest.mark.parametrize('text, expected', [
    ('plain ascii', 'plain ascii'),
    ('ctrl\x07ascii', 'ctrl\x07ascii'),          # ASCII is used as is, even control characters
    ('I\u00adX', 'IX'),                            # B.1: mapped to nothing
    ('a\u00a0b', 'a b'),                           # C.1.2: non-ASCII space -> space
    ('\u2168', 'IX'),                              # NFKC
    ('\u00aa', 'a'),                               # NFKC
    ('a\u0007\u00e9', 'a\u0007\u00e9'),            # prohibited (C.2.1) -> used unprocessed
    ('\u0627\u0031', '\u0627\u0031'),              # bidi: RandALCat must start and end -> unprocessed
    ('\u0627\u0031\u0628', '\u0627\u0031\u0628'),  # valid RTL string
    ('\u00ad\u00e9'[0], '\u00ad'),                 # empty after mapping -> unprocessed
])
def test_saslprep(text, expected):
    assert pg.saslprep(text) == expected


@pytest.mark.parametrize('value, error', [
    ('linkwarden', None),
    ('a"; DROP DATABASE x; --', None),
    ('with space and ünïcode', None),
    ('x' * 63, None),
    ('', 'name must not be empty'),
    ('x' * 64, "name='xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is 64 bytes long; "
               "PostgreSQL identifiers hold at most 63 bytes"),
    ('é' * 32, "name='%s' is 64 bytes long; PostgreSQL identifiers hold at most 63 bytes" % ('é' * 32)),
    ('nul\x00byte', "name='nul\\x00byte' contains a NUL character"),
])
def test_check_identifier(value, error):
    assert _postgres.check_identifier('name', value) == error


def test_argument_spec_marks_secrets():
    spec = _postgres.postgres_argument_spec()
    assert spec['login_password']['no_log'] is True
    assert spec['login_port']['default'] == 5432


@pytest.mark.parametrize('params, expected', [
    ({'login_host': 'db', 'login_port': 5432, 'login_unix_socket': None}, 'db:5432'),
    ({'login_host': 'db', 'login_port': 1, 'login_unix_socket': '/run/pg'}, '/run/pg:1'),
    ({'login_host': None, 'login_port': 5432, 'login_unix_socket': None}, 'the default socket:5432'),
])
def test_endpoint(params, expected):
    assert _postgres.endpoint(params) == expected
