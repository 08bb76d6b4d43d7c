# SPDX-License-Identifier: GPL-3.0-or-later
"""Tables of cases for the pure parts of module_utils/_redis.py (ACL normalisation and diffing)."""

import hashlib

import pytest

from ansible_collections.pivoine.kompose.plugins.module_utils import _redis as r

H1 = hashlib.sha256(b's3cret').hexdigest()
H2 = hashlib.sha256(b'other').hexdigest()


def flat(d):
    """A RESP2 flat list, as ACL GETUSER returns it."""
    out = []
    for k, v in d.items():
        out += [k, v]
    return out


USER = dict(enabled=True, nopass=False, passwords=[H1], keys=['%R~ro:*', '~lw:*'], channels=['&ch'],
            commands=None, selectors=[])

# The same user ("on >s3cret ~lw:* %R~ro:* &ch ...") as each version reports it.
NORMALISE_CASES = [
    ('6.2', flat({'flags': ['on'], 'passwords': [H1], 'commands': '+@all -@dangerous',
                  'keys': ['lw:*', 'ro:*'], 'channels': ['ch']}),
     dict(USER, keys=['~lw:*', '~ro:*'], commands=['+@all', '-@dangerous'])),
    ('6.2 all*', flat({'flags': ['on', 'allkeys', 'allchannels', 'allcommands', 'nopass'], 'passwords': [],
                       'commands': '+@all', 'keys': ['*'], 'channels': ['*']}),
     dict(USER, nopass=True, passwords=[], keys=['~*'], channels=['&*'], commands=['+@all'])),
    ('7.0', flat({'flags': ['on', 'sanitize-payload'], 'passwords': [H1],
                  'commands': '+@all -@admin -keys', 'keys': '~lw:* %R~ro:*', 'channels': '&ch',
                  'selectors': []}),
     dict(USER, commands=['+@all', '-@admin', '-keys'])),
    ('7.0 off empty', flat({'flags': ['off'], 'passwords': [], 'commands': '-@all', 'keys': '',
                            'channels': '', 'selectors': []}),
     dict(USER, enabled=False, passwords=[], keys=[], channels=[], commands=['-@all'])),
    ('7.0 %RW', flat({'flags': ['on'], 'passwords': [H1, H1], 'commands': '-@all +get',
                      'keys': '%RW~lw:* %R~ro:*', 'channels': '&ch', 'selectors': []}),
     dict(USER, commands=['-@all', '+get'])),
    ('7.2 selectors', flat({'flags': ['on', 'sanitize-payload'], 'passwords': [H1],
                            'commands': '-@all +get +set', 'keys': '~lw:* %R~ro:*', 'channels': '&ch',
                            'selectors': [flat({'commands': '-@all +get', 'keys': '~x', 'channels': ''})]}),
     dict(USER, commands=['-@all', '+get', '+set'],
          selectors=[{'commands': '-@all +get', 'keys': '~x', 'channels': ''}])),
    ('RESP3 map', {'flags': ['on'], 'passwords': [H1], 'commands': '+@all', 'keys': '~lw:* %R~ro:*',
                   'channels': '&ch', 'selectors': []},
     dict(USER, commands=['+@all'])),
    ('missing', None, None),
]


@pytest.mark.parametrize('version, reply, expected', NORMALISE_CASES, ids=[c[0] for c in NORMALISE_CASES])
def test_normalise_user(version, reply, expected):
    assert r.normalise_user(reply) == expected


@pytest.mark.parametrize('pattern, key', [
    ('lw:*', '~lw:*'), ('~lw:*', '~lw:*'), ('%R~lw:*', '%R~lw:*'), ('%W~lw:*', '%W~lw:*'),
    ('%RW~lw:*', '~lw:*'), ('allkeys', '~*'), ('*', '~*'),
])
def test_canonical_key(pattern, key):
    assert r.canonical_key(pattern) == key


DESIRED_OK = [
    (dict(password='s3cret', keys=['lw:*'], commands=['+@all', '-@dangerous']),
     dict(enabled=True, nopass=False, passwords=[H1], keys=['~lw:*'], channels=[],
          commands=['+@all', '-@dangerous'], selectors=[])),
    (dict(password='s3cret', password_hashes=['#' + H2.upper(), H1], channels=['ch', '&ch'], enabled=False),
     dict(enabled=False, nopass=False, passwords=sorted([H1, H2]), keys=[], channels=['&ch'], commands=[],
          selectors=[])),
    (dict(nopass=True, keys=['allkeys'], channels=['allchannels'], commands=['allcommands', '-CONFIG|SET']),
     dict(enabled=True, nopass=True, passwords=[], keys=['~*'], channels=['&*'],
          commands=['+@all', '-config|set'], selectors=[])),
]


@pytest.mark.parametrize('params, expected', DESIRED_OK)
def test_desired_user(params, expected):
    assert r.desired_user(params) == expected


@pytest.mark.parametrize('params, message', [
    (dict(password_hashes=['abc']), "password_hashes: 'abc' is not a SHA-256 hex digest (64 hex characters)"),
    (dict(nopass=True, password='x'), 'nopass=true cannot be combined with password or password_hashes'),
    (dict(keys=['%X~a']), "keys: '%X~a' is not a key pattern"),
    (dict(keys=['a b']), "keys: 'a b' is not a key pattern"),
    (dict(channels=['a b']), "channels: 'a b' is not a channel pattern (no spaces allowed)"),
    (dict(commands=['get']), "commands: 'get' is not a command rule"),
    (dict(commands=['+get; flushall']), "commands: '+get; flushall' is not a command rule"),
])
def test_desired_user_errors(params, message):
    with pytest.raises(ValueError) as exc:
        r.desired_user(params)
    assert message in str(exc.value)


# A miniature command table, as `COMMAND` reports it (7.0 shape: entry 10 = subcommands).
COMMAND_REPLY = [
    ['get', 2, ['readonly'], 1, 1, 1, ['@read', '@string', '@fast'], [], [], []],
    ['set', -3, ['write'], 1, 1, 1, ['@write', '@string', '@slow'], [], [], []],
    ['keys', 2, ['readonly'], 0, 0, 0, ['@keyspace', '@read', '@slow', '@dangerous'], [], [], []],
    ['flushall', -1, ['write'], 0, 0, 0, ['@keyspace', '@write', '@slow', '@dangerous'], [], [], []],
    ['info', -1, [], 0, 0, 0, ['@slow', '@dangerous'], [], [], []],
    ['config', -2, [], 0, 0, 0, ['@slow'], [], [], [
        ['config|get', -3, [], 0, 0, 0, ['@admin', '@slow', '@dangerous'], [], [], []],
        ['config|set', -4, [], 0, 0, 0, ['@admin', '@slow', '@dangerous'], [], [], []],
    ]],
    ['shutdown', -1, [], 0, 0, 0, ['@admin', '@slow', '@dangerous'], [], [], []],
]
TABLE = r.command_table(COMMAND_REPLY)


def test_command_table_6_2_shape():
    assert r.command_table([['get', 2, ['readonly'], 1, 1, 1, ['@read', '@fast']]]) == {
        'get': frozenset(['read', 'fast'])}


def test_command_table_subcommands():
    assert TABLE['config|get'] == frozenset(['admin', 'slow', 'dangerous'])
    assert len(TABLE) == 9


@pytest.mark.parametrize('rules, allowed', [
    ([], set()),
    (['+@all'], set(TABLE)),
    (['allcommands', '-@dangerous'], {'get', 'set', 'config'}),
    (['+@all', '-@dangerous', '+info'], {'get', 'set', 'config', 'info'}),
    (['-@all', '+get', '+SET'], {'get', 'set'}),
    (['+config'], {'config', 'config|get', 'config|set'}),
    (['+config|get'], {'config|get'}),
    (['+@all', '-config'], {'get', 'set', 'keys', 'flushall', 'info', 'shutdown'}),
    (['+@read', '-keys'], {'get'}),
    (['+select|0'], {'select|0'}),
    (['+@all', 'nocommands', '+get'], {'get'}),
])
def test_allowed_commands(rules, allowed):
    assert r.allowed_commands(rules, TABLE) == allowed


def _no_table():
    raise AssertionError('the command table must not be loaded when the rules are textually equal')


@pytest.mark.parametrize('actual, desired, equal', [
    # 7.0 compacts "+@all -@dangerous +info" into categories and single commands
    (['+@all', '-@admin', '-keys', '-flushall'], ['+@all', '-@dangerous', '+info'], True),
    (['+@all', '-@admin', '-keys'], ['+@all', '-@dangerous', '+info'], False),
    # 7.2 keeps rules as given, after the -@all of `reset`
    (['-@all', '+get', '+set'], ['+set', '+get'], True),
    (['-@all', '+get', '+set', '+config|get'], ['+get', '+set'], False),
    # 6.2 describes `+@read` users like this
    (['-@all', '+@read'], ['+get', '+keys'], True),
])
def test_commands_equal(actual, desired, equal):
    assert r.commands_equal(actual, desired, lambda: TABLE) is equal


@pytest.mark.parametrize('actual, desired', [
    (['-@all', '+get'], ['+get']),
    (['+@all', '-@dangerous'], ['+@all', '-@dangerous']),
    (['-@all'], []),
])
def test_commands_equal_without_table(actual, desired):
    assert r.commands_equal(actual, desired, _no_table) is True


BASE = r.desired_user(dict(password='s3cret', keys=['lw:*'], channels=['ch'], commands=['+@all', '-@dangerous']))


@pytest.mark.parametrize('actual, fields', [
    (None, ['exists']),
    (dict(BASE), []),
    (dict(BASE, commands=['+@all', '-@admin', '-keys', '-flushall', '-info']), []),
    (dict(BASE, enabled=False), ['enabled']),
    (dict(BASE, passwords=[H2]), ['passwords']),
    (dict(BASE, passwords=[H1, H2]), ['passwords']),
    (dict(BASE, nopass=True, passwords=[]), ['nopass', 'passwords']),
    (dict(BASE, keys=['~*']), ['keys']),
    (dict(BASE, keys=['~lw:*', '~other:*']), ['keys']),
    (dict(BASE, channels=['&*']), ['channels']),
    (dict(BASE, selectors=['(~x +get)']), ['selectors']),
    (dict(BASE, commands=['+@all']), ['commands']),
])
def test_differences(actual, fields):
    assert r.differences(actual, BASE, lambda: TABLE) == fields


def test_setuser_rules_describe_the_whole_user():
    assert r.setuser_rules(BASE) == ['reset', 'resetchannels', 'on', '#' + H1, '~lw:*', '&ch', '+@all',
                                     '-@dangerous']
    assert r.setuser_rules(dict(BASE, enabled=False, nopass=True, passwords=[])) == [
        'reset', 'resetchannels', 'off', 'nopass', '~lw:*', '&ch', '+@all', '-@dangerous']


def test_describe_masks_hashes():
    text = r.describe(dict(BASE, passwords=[H1, H2]))
    assert text == 'on #******** #******** ~lw:* &ch +@all -@dangerous'
    assert H1 not in text
    assert r.describe(None) is None


def test_argument_spec_marks_secrets():
    spec = r.redis_argument_spec()
    assert spec['login_password']['no_log'] is True
