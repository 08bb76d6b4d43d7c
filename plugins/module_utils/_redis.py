# Copyright (c) 2025, pivoine.kompose contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private helpers shared by the collection's Redis modules.

Connection options (argument spec + connect with clear errors), and the pure part of ACL
management: normalising `ACL GETUSER` replies of Redis 6.2, 7.0 and 7.2+ into one shape,
building the desired shape from module options, and comparing command rules by their effect
(Redis rewrites command rules in its own compacted form, differently per version).
Nothing here is a public API of the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import re
import traceback

from ansible.module_utils.basic import missing_required_lib

REDIS_IMPORT_ERROR = None
try:
    import redis
except ImportError:
    redis = None
    REDIS_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.pivoine.kompose.plugins.module_utils._mask import MASK
HASH_RE = re.compile(r'^[0-9a-f]{64}$')
KEY_RE = re.compile(r'^(~|%(R|W|RW)~)\S*$')
COMMAND_RULE_RE = re.compile(r'^[+-]@?[a-z0-9_.:-]+(\|\S+)?$')


def redis_argument_spec():
    """Connection options of every Redis module of the collection."""
    return dict(
        login_host=dict(type='str', default='localhost'),
        login_port=dict(type='int', default=6379),
        login_user=dict(type='str'),
        login_password=dict(type='str', no_log=True),
        connect_timeout=dict(type='float', default=10),
        tls=dict(type='bool', default=False),
        validate_certs=dict(type='bool', default=True),
        ca_certs=dict(type='path'),
        client_cert=dict(type='path'),
        client_key=dict(type='path', no_log=False),
    )


def ensure_redis(module):
    if redis is None:
        module.fail_json(msg=missing_required_lib('redis (redis-py)'), exception=REDIS_IMPORT_ERROR)


def login_name(params):
    return params.get('login_user') or 'default'


def endpoint(params):
    return '%s:%s' % (params['login_host'], params['login_port'])


def connect(module):
    """A client with raw (undecoded-by-callback) replies; fail with `Unable to connect ...`."""
    p = module.params
    kwargs = dict(host=p['login_host'], port=p['login_port'], username=p['login_user'],
                  password=p['login_password'], socket_timeout=p['connect_timeout'],
                  socket_connect_timeout=p['connect_timeout'], decode_responses=True)
    if p['tls']:
        kwargs.update(ssl=True, ssl_cert_reqs='required' if p['validate_certs'] else 'none',
                      ssl_check_hostname=p['validate_certs'], ssl_ca_certs=p['ca_certs'],
                      ssl_certfile=p['client_cert'], ssl_keyfile=p['client_key'])
    try:
        client = redis.Redis(**kwargs)
        # Replies are parsed here, identically for every server version: no redis-py callbacks.
        client.response_callbacks.clear()
        client.execute_command('PING')
    except redis.RedisError as exc:
        module.fail_json(msg='Unable to connect to Redis at %s as %s: %s'
                         % (endpoint(p), login_name(p), ' '.join(str(exc).split())))
    return client


# --- pure ACL logic ----------------------------------------------------------------------

def sha256_hex(password):
    return hashlib.sha256(password.encode('utf-8')).hexdigest()


def reply_to_dict(reply):
    """`ACL GETUSER` reply (RESP2 flat list or RESP3 map) -> dict; None stays None."""
    if reply is None or isinstance(reply, dict):
        return reply
    return dict(zip(reply[0::2], reply[1::2]))


def _tokens(value):
    """Keys/channels are a list in 6.2 and one space separated string from 7.0."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return value.split()


def canonical_key(pattern):
    """`lw:*`, `~lw:*`, `%RW~lw:*` -> `~lw:*`; `%R~x` stays; `allkeys` -> `~*`."""
    if pattern == 'allkeys':
        return '~*'
    if pattern.startswith('%RW~'):
        return pattern[3:]
    if pattern.startswith('~') or pattern.startswith('%'):
        return pattern
    return '~' + pattern


def canonical_channel(pattern):
    if pattern == 'allchannels':
        return '&*'
    return pattern if pattern.startswith('&') else '&' + pattern


def normalise_user(reply):
    """One shape for `ACL GETUSER` of Redis 6.2, 7.0 and 7.2+ (None for a missing user).

    6.2: flags carry allkeys/allchannels/allcommands, keys and channels are arrays of bare
    patterns. 7.0+: keys (`~a %R~b`) and channels (`&x`) are strings, selectors appear.
    Flags such as sanitize-payload are not part of what the modules manage and are dropped.
    """
    user = reply_to_dict(reply)
    if user is None:
        return None
    flags = set(user.get('flags') or [])
    keys = set()
    for token in _tokens(user.get('keys')):
        keys.add(canonical_key(token if isinstance(user.get('keys'), str) else '~' + token))
    if 'allkeys' in flags:
        keys.add('~*')
    channels = set()
    for token in _tokens(user.get('channels')):
        channels.add(canonical_channel(token if isinstance(user.get('channels'), str) else '&' + token))
    if 'allchannels' in flags:
        channels.add('&*')
    commands = user.get('commands') or ''
    if 'allcommands' in flags and not commands:
        commands = '+@all'
    return dict(
        enabled='on' in flags,
        nopass='nopass' in flags,
        passwords=sorted(set(user.get('passwords') or [])),
        keys=sorted(keys),
        channels=sorted(channels),
        commands=commands.split(),
        selectors=[reply_to_dict(s) if not isinstance(s, str) else s for s in user.get('selectors') or []],
    )


def desired_user(params):
    """The normalised shape the module options describe (raises ValueError on bad input)."""
    errors = []
    hashes = set()
    if params.get('password') is not None:
        hashes.add(sha256_hex(params['password']))
    for value in params.get('password_hashes') or []:
        value = value.lower()
        if value.startswith('#'):
            value = value[1:]
        if not HASH_RE.fullmatch(value):
            errors.append('password_hashes: %r is not a SHA-256 hex digest (64 hex characters)' % value)
        hashes.add(value)
    if params.get('nopass') and hashes:
        errors.append('nopass=true cannot be combined with password or password_hashes')
    keys = []
    for pattern in params.get('keys') or []:
        key = canonical_key(pattern)
        if not KEY_RE.fullmatch(key) or not pattern:
            errors.append('keys: %r is not a key pattern (use `prefix:*`, `~prefix:*`, `%%R~prefix:*` or '
                          '`%%W~prefix:*`, without spaces)' % pattern)
        keys.append(key)
    channels = []
    for pattern in params.get('channels') or []:
        if not pattern or re.search(r'\s', pattern):
            errors.append('channels: %r is not a channel pattern (no spaces allowed)' % pattern)
        channels.append(canonical_channel(pattern))
    commands = []
    for rule in params.get('commands') or []:
        rule = {'allcommands': '+@all', 'nocommands': '-@all'}.get(rule, rule).lower()
        if not COMMAND_RULE_RE.fullmatch(rule):
            errors.append('commands: %r is not a command rule (use `+@category`, `-@category`, `+command`, '
                          '`-command` or `+command|subcommand`)' % rule)
        commands.append(rule)
    if errors:
        raise ValueError('; '.join(errors))
    return dict(enabled=params.get('enabled', True), nopass=bool(params.get('nopass')),
                passwords=sorted(hashes), keys=sorted(set(keys)), channels=sorted(set(channels)),
                commands=commands, selectors=[])


def command_table(reply):
    """`COMMAND` reply -> {name: frozenset(categories)}, subcommands as `parent|sub`.

    Categories are entry 7 (Redis 6.0+); subcommands entry 10 (Redis 7.0+).
    """
    table = {}

    def add(entry):
        name = entry[0].lower()
        categories = entry[6] if len(entry) > 6 else []
        table[name] = frozenset(c.lower().lstrip('@') for c in categories)
        if len(entry) > 9:
            for sub in entry[9] or []:
                add(sub)

    for entry in reply:
        if entry:
            add(entry)
    return table


def allowed_commands(rules, table):
    """The set of commands (and `cmd|sub`) a list of command rules allows, starting from none.

    Names that are not in the table (first-argument rules such as `+select|0`) are kept as is
    so they still take part in the comparison.
    """
    allowed = set()
    for rule in rules:
        rule = {'allcommands': '+@all', 'nocommands': '-@all'}.get(rule, rule.lower())
        sign, name = rule[0], rule[1:]
        if name.startswith('@'):
            category = name[1:]
            names = set(table) if category == 'all' else set(n for n, cats in table.items() if category in cats)
        else:
            names = set([name]) | set(n for n in table if n.startswith(name + '|'))
        if sign == '+':
            allowed |= names
        else:
            allowed -= names
    return allowed


def commands_equal(actual, desired, load_table):
    """Compare command rules by effect; `load_table` is called only when the texts differ."""
    if actual == desired or actual == ['-@all'] + desired:
        return True
    table = load_table()
    return allowed_commands(actual, table) == allowed_commands(desired, table)


def differences(actual, desired, load_table):
    """Names of the fields that differ between two normalised users (actual may be None)."""
    if actual is None:
        return ['exists']
    fields = [f for f in ('enabled', 'nopass', 'passwords', 'keys', 'channels', 'selectors')
              if actual[f] != desired[f]]
    if not commands_equal(actual['commands'], desired['commands'], load_table):
        fields.append('commands')
    return fields


def setuser_rules(desired):
    """`ACL SETUSER` arguments describing the user completely (passwords as `#<sha256>`)."""
    rules = ['reset', 'resetchannels', 'on' if desired['enabled'] else 'off']
    rules += ['nopass'] if desired['nopass'] else ['#' + h for h in desired['passwords']]
    return rules + desired['keys'] + desired['channels'] + desired['commands']


def describe(user):
    """A user as one masked rule string, for diffs (None for a missing user)."""
    if user is None:
        return None
    parts = ['on' if user['enabled'] else 'off']
    parts += ['nopass'] if user['nopass'] else ['#' + MASK for dummy in user['passwords']]
    parts += user['keys'] + user['channels'] + user['commands']
    parts += ['(%s)' % s for s in user['selectors']]
    return ' '.join(parts)
