# SPDX-License-Identifier: GPL-3.0-or-later
"""The redis_acl module's decisions, against a fake client (no server)."""

import hashlib

import pytest

from ansible_collections.pivoine.kompose.plugins.modules import redis_acl as mod

H1 = hashlib.sha256(b's3cret').hexdigest()


class FakeModule(object):
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.params = dict(name='lw', state='present', enabled=True, password='s3cret', password_hashes=[],
                           nopass=False, keys=['lw:*'], channels=[], commands=['+@all'], persist=True,
                           allow_self_change=False, login_host='127.0.0.1', login_port=6379, login_user='admin')
        self.params.update(params)


class FakeClient(object):
    def __init__(self, user, aclfile='/etc/redis/users.acl', config_file=''):
        self.user, self.aclfile, self.config_file = user, aclfile, config_file
        self.sent = []

    def execute_command(self, *args):
        if args[:2] == ('ACL', 'GETUSER'):
            return self.user
        if args == ('CONFIG', 'GET', 'aclfile'):
            return ['aclfile', self.aclfile]
        if args == ('INFO', 'server'):
            return '# Server\r\nredis_version:7.0.15\r\nconfig_file:%s\r\n' % self.config_file
        if args == ('COMMAND',):
            return [['get', 2, [], 1, 1, 1, ['@read'], [], [], []]]
        self.sent.append(args)
        return 'OK'


IN_SYNC = ['flags', ['on'], 'passwords', [H1], 'commands', '+@all', 'keys', '~lw:*', 'channels', '', 'selectors', []]


@pytest.mark.parametrize('user, params, check_mode, changed, sent', [
    (IN_SYNC, {}, False, False, []),
    (None, {}, True, True, []),
    (None, {}, False, True, [('ACL', 'SETUSER', 'lw', 'reset', 'resetchannels', 'on', '#' + H1, '~lw:*', '+@all'),
                             ('ACL', 'SAVE')]),
    (IN_SYNC, dict(password='new'), True, True, []),
    (IN_SYNC, dict(state='absent', persist=False), False, True, [('ACL', 'DELUSER', 'lw')]),
    (None, dict(state='absent'), False, False, []),
])
def test_apply(user, params, check_mode, changed, sent):
    client = FakeClient(user)
    result = mod.AclUser(FakeModule(check_mode, **params), client).apply()
    assert result['changed'] is changed
    assert client.sent == sent
    assert H1 not in str(result['commands'])


def test_config_rewrite_when_no_aclfile():
    client = FakeClient(None, aclfile='', config_file='/etc/redis/redis.conf')
    result = mod.AclUser(FakeModule(), client).apply()
    assert client.sent[-1] == ('CONFIG', 'REWRITE')
    assert result['persisted_with'] == 'CONFIG REWRITE'


@pytest.mark.parametrize('params, message', [
    (dict(), "Cannot persist ACL user 'lw': Redis at 127.0.0.1:6379 runs without an aclfile and without a config file"),
    (dict(name='admin'), "Refusing to change ACL user 'admin': the module is logged in as it (login_user)"),
    (dict(name='default', login_user=None, enabled=False),
     "Refusing to change ACL user 'default': the module is logged in as it"),
    (dict(password_hashes=['nothex']), "Invalid options for ACL user 'lw': password_hashes: 'nothex' is not"),
])
def test_refusals(params, message):
    client = FakeClient(None if params.get('name') != 'admin' else None, aclfile='', config_file='')
    with pytest.raises(mod.AclError) as exc:
        mod.AclUser(FakeModule(**params), client).apply()
    assert message in str(exc.value)
    assert client.sent == []
