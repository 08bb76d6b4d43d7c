# SPDX-License-Identifier: GPL-3.0-or-later
"""The redis_acl module's decisions, against a fake client (no server)."""

import hashlib
import json

import pytest


from ansible_collections.pivoine.kompose.plugins.modules import redis_acl as mod

H1 = hashlib.sha256(b's3cret').hexdigest()
H2 = hashlib.sha256(b'other').hexdigest()


class FakeModule(object):
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.params = dict(name='lw', state='present', enabled=True, password='s3cret', password_hashes=[],
                           nopass=False, keys=['lw:*'], channels=[], commands=['+@all'], persist=True,
                           allow_self_change=False, login_host='127.0.0.1', login_port=6379, login_user='admin',
                           users=None)
        self.params.update(params)


class FakeClient(object):
    def __init__(self, user=None, aclfile='/etc/redis/users.acl', config_file='', users=None, fail_on=None):
        self.users = dict(users or {})
        if user is not None:
            self.users['lw'] = user
        self.aclfile, self.config_file, self.fail_on = aclfile, config_file, fail_on
        self.sent = []
        self.closed = False

    def execute_command(self, *args):
        if args[:2] == ('ACL', 'GETUSER'):
            return self.users.get(args[2])
        if args == ('CONFIG', 'GET', 'aclfile'):
            return ['aclfile', self.aclfile]
        if args == ('INFO', 'server'):
            return '# Server\r\nredis_version:7.0.15\r\nconfig_file:%s\r\n' % self.config_file
        if args == ('COMMAND',):
            self.sent.append(args)
            return [['get', 2, [], 1, 1, 1, ['@read'], [], [], []]]
        if self.fail_on and args[:3] == ('ACL', 'SETUSER', self.fail_on):
            raise mod.redis.ResponseError("Error in ACL SETUSER modifier '+nosuchcommand': Unknown command")
        self.sent.append(args)
        return 'OK'

    def close(self):
        self.closed = True


def apply(module, client):
    return mod.Acl(module, client).apply(mod.user_items(module.params))


IN_SYNC = ['flags', ['on'], 'passwords', [H1], 'commands', '+@all', 'keys', '~lw:*', 'channels', '', 'selectors', []]
SETUSER_LW = ('ACL', 'SETUSER', 'lw', 'reset', 'resetchannels', 'on', '#' + H1, '~lw:*', '+@all')


@pytest.mark.parametrize('user, params, check_mode, changed, sent', [
    (IN_SYNC, {}, False, False, []),
    (None, {}, True, True, []),
    (None, {}, False, True, [SETUSER_LW, ('ACL', 'SAVE')]),
    (IN_SYNC, dict(password='new'), True, True, []),
    (IN_SYNC, dict(state='absent', persist=False), False, True, [('ACL', 'DELUSER', 'lw')]),
    (None, dict(state='absent'), False, False, []),
])
def test_apply(user, params, check_mode, changed, sent):
    client = FakeClient(user)
    module = FakeModule(check_mode, **params)
    acl = mod.Acl(module, client)
    result, = acl.apply(mod.user_items(module.params))
    assert result['changed'] is changed
    assert client.sent == sent
    assert H1 not in str(acl.commands) and H1 not in str(result)


def test_config_rewrite_when_no_aclfile():
    client = FakeClient(None, aclfile='', config_file='/etc/redis/redis.conf')
    result, = apply(FakeModule(), client)
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
    client = FakeClient(None, aclfile='', config_file='')
    with pytest.raises(mod.AclError) as exc:
        apply(FakeModule(**params), client)
    assert message in str(exc.value)
    assert client.sent == []


# --- the users list ------------------------------------------------------------------------

def entry(name, **kwargs):
    item = dict(name=name, state='present', enabled=True, password=None, password_hashes=[], nopass=False,
                keys=[], channels=[], commands=[])
    item.update(kwargs)
    return item


def user_reply(hashes, keys, commands='+@all'):
    return ['flags', ['on'], 'passwords', hashes, 'commands', commands, 'keys', keys, 'channels', '', 'selectors', []]


BATCH = [entry('a', password='s3cret', keys=['a:*'], commands=['+@all']),
         entry('b', password_hashes=[H2], keys=['b:*'], commands=['+@all']),
         entry('gone', state='absent')]
BATCH_IN_SYNC = {'a': user_reply([H1], '~a:*'), 'b': user_reply([H2], '~b:*')}


def test_batch_changes_every_user_and_persists_once():
    client = FakeClient(users={'gone': user_reply([], '')})
    results = apply(FakeModule(users=BATCH), client)
    assert client.sent == [('ACL', 'SETUSER', 'a', 'reset', 'resetchannels', 'on', '#' + H1, '~a:*', '+@all'),
                           ('ACL', 'SETUSER', 'b', 'reset', 'resetchannels', 'on', '#' + H2, '~b:*', '+@all'),
                           ('ACL', 'DELUSER', 'gone'), ('ACL', 'SAVE')]
    assert [(r['name'], r['changed'], r['changed_fields'], r['persisted_with']) for r in results] == [
        ('a', True, ['exists'], 'ACL SAVE'), ('b', True, ['exists'], 'ACL SAVE'), ('gone', True, ['exists'], 'ACL SAVE')]
    assert results[0]['commands'] == ['ACL SETUSER a reset resetchannels on #******** ~a:* +@all']
    assert H1 not in str(results) and H2 not in str(results)


def test_batch_in_sync_sends_nothing():
    client = FakeClient(users=BATCH_IN_SYNC)
    results = apply(FakeModule(users=BATCH), client)
    assert client.sent == [] and not any(r['changed'] for r in results)
    assert [r['persisted_with'] for r in results] == [None, None, None]


def test_batch_only_the_changed_user_is_written():
    client = FakeClient(users=dict(BATCH_IN_SYNC, b=user_reply([H1], '~b:*')))
    results = apply(FakeModule(users=BATCH), client)
    assert [r['changed_fields'] for r in results] == [[], ['passwords'], []]
    assert [c[:3] for c in client.sent] == [('ACL', 'SETUSER', 'b'), ('ACL', 'SAVE')]
    assert [r['persisted_with'] for r in results] == [None, 'ACL SAVE', None]


def test_batch_command_table_is_read_once():
    # rules that differ in text from what Redis reports are compared through the command table
    users = [entry('a', password='s3cret', keys=['a:*'], commands=['+get']),
             entry('b', password_hashes=[H2], keys=['b:*'], commands=['+get'])]
    client = FakeClient(users={'a': user_reply([H1], '~a:*', '-@all +@read'), 'b': user_reply([H2], '~b:*', '+@read')})
    results = apply(FakeModule(users=users), client)
    assert client.sent == [('COMMAND',)] and not any(r['changed'] for r in results)


@pytest.mark.parametrize('users, message', [
    ([BATCH[0], entry('bad', keys=['a b'])], "Invalid options for ACL user 'bad': keys: 'a b' is not a key pattern"),
    ([BATCH[0], entry('admin', password='x')], "Refusing to change ACL user 'admin'"),
    ([BATCH[0], BATCH[1], dict(BATCH[0], keys=['x:*'])],
     "users[2]: ACL user 'a' is listed twice; list each user once"),
])
def test_batch_fails_before_writing_anything(users, message):
    client = FakeClient()
    with pytest.raises(mod.AclError) as exc:
        apply(FakeModule(users=users), client)
    assert message in str(exc.value)
    assert client.sent == []


def test_main_failure_halfway_reports_changed(monkeypatch, module_result):
    client = FakeClient(fail_on='b')
    users = [dict(name='a', password='s3cret'), dict(name='b', password='other')]
    result = run_main(monkeypatch, module_result, dict(users=users), client)
    assert result['failed'] and result['changed']
    assert result['commands'][-1] == 'ACL SAVE' and "already changed: ACL user 'a'" in result['msg']


def test_batch_cannot_persist_names_every_user():
    client = FakeClient(aclfile='', config_file='')
    with pytest.raises(mod.AclError) as exc:
        apply(FakeModule(users=BATCH[:2]), client)
    assert str(exc.value).startswith("Cannot persist ACL users 'a', 'b': Redis at 127.0.0.1:6379")
    assert client.sent == []


def test_batch_failed_write_persists_what_was_written():
    client = FakeClient(fail_on='b')
    module = FakeModule(users=BATCH[:2])
    acl = mod.Acl(module, client)
    with pytest.raises(mod.AclError) as exc:
        acl.apply(mod.user_items(module.params))
    assert str(exc.value) == (
        "ACL SETUSER b reset resetchannels on #******** ~b:* +@all failed for ACL user 'b': Error in ACL SETUSER "
        "modifier '+nosuchcommand': Unknown command (already changed: ACL user 'a', persisted with ACL SAVE)")
    assert [c[:3] for c in client.sent] == [('ACL', 'SETUSER', 'a'), ('ACL', 'SAVE')]
    assert acl.wrote  # main() reports changed=true with the failure


# --- main(): the argument spec and the result --------------------------------------------------

def run_main(monkeypatch, module_result, args, client, check_mode=False, diff=False):
    args = dict(args, login_user='admin', login_password='pw', _ansible_check_mode=check_mode, _ansible_diff=diff)
    monkeypatch.setattr(mod, 'connect', lambda module: client)
    return module_result(mod.main, args)


@pytest.mark.parametrize('args, message', [
    (dict(name='a', users=[dict(name='b')]), 'parameters are mutually exclusive: name|users'),
    (dict(users=[dict(name='b')], keys=['x:*']), 'parameters are mutually exclusive: keys|users'),
    (dict(users=[dict(name='b')], state='absent'), 'parameters are mutually exclusive: state|users'),
    (dict(name='a', password='pw-1', nopass=True), 'parameters are mutually exclusive: nopass|password'),
    (dict(name='a', password_hashes=[H1], nopass=False), 'parameters are mutually exclusive: nopass|password_hashes'),
    (dict(users=[dict(name='b', password='pw-1', nopass=True)]),
     'parameters are mutually exclusive: nopass|password found in users'),
    (dict(users=[dict(password='pw-1')]), 'missing required arguments: name found in users'),
    (dict(), 'one of the following is required: name, users'),
])
def test_argument_spec(monkeypatch, module_result, args, message):
    client = FakeClient()
    result = run_main(monkeypatch, module_result, args, client)
    assert result['failed'] and result['msg'] == message
    assert client.sent == []


def test_main_single_form_result(monkeypatch, module_result):
    client = FakeClient()
    result = run_main(monkeypatch, module_result, dict(name='lw', password='s3cret', keys=['lw:*'], commands=['+@all']),
                      client, diff=True)
    assert sorted(result) == ['changed', 'changed_fields', 'commands', 'diff', 'invocation', 'persisted_with', 'user']
    assert result['commands'] == ['ACL SETUSER lw reset resetchannels on #******** ~lw:* +@all', 'ACL SAVE']
    assert result['diff']['after']['password'] == 'changed' and result['persisted_with'] == 'ACL SAVE'
    assert client.closed and 's3cret' not in json.dumps(result) and H1 not in json.dumps(result)


def test_main_batch_result(monkeypatch, module_result):
    client = FakeClient(users={'a': user_reply([H1], '~a:*')})
    users = [dict(name='a', password='s3cret', keys=['a:*'], commands=['+@all']),
             dict(name='b', password='other', keys=['b:*'], commands=['+@all'])]
    result = run_main(monkeypatch, module_result, dict(users=users), client, check_mode=True, diff=True)
    assert sorted(result) == ['changed', 'commands', 'diff', 'invocation', 'persisted_with', 'users']
    assert result['changed'] and result['persisted_with'] == 'ACL SAVE'
    assert result['commands'] == ['ACL SETUSER b reset resetchannels on #******** ~b:* +@all', 'ACL SAVE']
    assert [sorted(u) for u in result['users']] == [
        ['changed', 'changed_fields', 'commands', 'name', 'persisted_with', 'user']] * 2
    assert [u['changed'] for u in result['users']] == [False, True]
    assert [d['before_header'] for d in result['diff']] == ['redis ACL user a', 'redis ACL user b']
    assert client.sent == []  # check mode
    text = json.dumps(result)
    assert 's3cret' not in text and 'other' not in text and H1 not in text and H2 not in text
