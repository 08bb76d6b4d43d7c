#!/usr/bin/python
# Copyright (c) 2025, pivoine.kompose contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: redis_acl
short_description: Ensure Redis ACL users, declaratively
version_added: 0.1.0
description:
  - Ensures one Redis ACL user (or, with O(users), several in one call) ends up exactly as described (enabled,
    passwords, key and channel patterns, command rules), whatever rules it had before. Rules not described are
    removed.
  - The current user is read with C(ACL GETUSER) and normalised, so the comparison holds across Redis 6.2, 7.0 and
    7.2+. Command rules are compared by their effect (Redis rewrites them in its own compacted form), passwords by
    SHA-256. When nothing differs no C(ACL SETUSER) is sent.
  - Passwords are sent as SHA-256 hashes (C(#<hex>)), never in clear text.
  - Changes are persisted with C(ACL SAVE) when Redis runs with an C(aclfile), else with C(CONFIG REWRITE).
  - With O(users), one connection serves every user. All of them are read and compared first, then the changed ones
    are written, then the change is persisted once (one C(ACL SAVE) or C(CONFIG REWRITE) for the whole call, none
    when nothing changed). Invalid options, a refused change of the login user, or a Redis that cannot persist fail
    before anything is written.
extends_documentation_fragment:
  - pivoine.kompose.redis
  - pivoine.kompose.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode only reads from the server.
  diff_mode:
    support: full
    details:
      - Shows the user's rules before and after, with password hashes masked; one such pair per user with O(users).
  idempotent:
    support: full
options:
  name:
    description:
      - Name of the ACL user.
      - Mutually exclusive with O(users); one of them is required.
    type: str
  state:
    description: V(present) ensures the user as described; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  enabled:
    description: Whether the user can authenticate (C(on)/C(off)).
    type: bool
    default: true
  password:
    description: Password of the user. Together with O(password_hashes), the complete set of valid passwords.
    type: str
  password_hashes:
    description: Valid passwords given as SHA-256 hex digests (a leading C(#) is accepted).
    type: list
    elements: str
    default: []
  nopass:
    description:
      - Let the user authenticate with any password.
      - Mutually exclusive with O(password) and O(password_hashes), even when set to V(false) (leave it out instead).
    type: bool
    default: false
  keys:
    description:
      - Key patterns the user may access. A bare pattern such as V(linkwarden:*) means read and write;
        V(~pattern), V(%R~pattern) (read only) and V(%W~pattern) (write only) are accepted too; V(allkeys) is V(~*).
    type: list
    elements: str
    default: []
  channels:
    description: Pub/Sub channel patterns the user may use (V(&pattern) or a bare pattern; V(allchannels) is V(&*)).
    type: list
    elements: str
    default: []
  commands:
    description:
      - Command rules applied in order after C(-@all), for example V(+@all), V(-@dangerous), V(+info),
        V(+config|get).
    type: list
    elements: str
    default: []
  users:
    description:
      - Several ACL users in one module call (one connection, one persist, one result), instead of O(name).
      - Each entry describes one user completely with the per-user options above; none of them (O(name), O(state),
        O(enabled), O(password), O(password_hashes), O(nopass), O(keys), O(channels), O(commands)) may be given at
        the top level together with O(users). O(persist), O(allow_self_change) and the connection options apply
        to every user.
      - A user may be listed only once.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the ACL user.
        type: str
        required: true
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
        default: present
      enabled:
        description: See O(enabled).
        type: bool
        default: true
      password:
        description: See O(password).
        type: str
      password_hashes:
        description: See O(password_hashes).
        type: list
        elements: str
        default: []
      nopass:
        description:
          - See O(nopass). Mutually exclusive with O(users[].password) and O(users[].password_hashes) in the same
            entry.
        type: bool
        default: false
      keys:
        description: See O(keys).
        type: list
        elements: str
        default: []
      channels:
        description: See O(channels).
        type: list
        elements: str
        default: []
      commands:
        description: See O(commands).
        type: list
        elements: str
        default: []
  persist:
    description:
      - Persist a change with C(ACL SAVE) when Redis runs with an C(aclfile), else with C(CONFIG REWRITE).
      - When Redis has neither an C(aclfile) nor a config file, a pending change fails before anything is written.
    type: bool
    default: true
  allow_self_change:
    description:
      - The module refuses to change, disable or delete the user it is logged in as (O(login_user), or C(default)),
        since that can lock the operator out. Set to V(true) to do it anyway.
      - With O(users), this applies to every entry; a refusal fails the call before any user is written.
    type: bool
    default: false
notes:
  - The login user needs C(ACL), C(CONFIG GET), C(INFO) and C(COMMAND), and C(CONFIG REWRITE) or C(ACL SAVE)
    when O(persist=true) (for example C(+@all)).
  - Key selectors (Redis 7.0+) are not managed; a user with selectors is reset to none.
  - With O(users), Redis may still reject a rule when it is written (an unknown command, say). The users written
    before that one stay changed and are persisted before the module fails, so the ACL file never lags behind the
    running server; the message names them.
seealso:
  - module: pivoine.kompose.postgres_database
author:
  - pivoine.kompose developers (@pivoine)
"""

EXAMPLES = r"""
- name: Linkwarden may use its own key prefix, nothing dangerous
  pivoine.kompose.redis_acl:
    name: linkwarden
    password: "{{ linkwarden_redis_password }}"
    keys: ["linkwarden:*"]
    commands: ["+@all", "-@dangerous"]
    login_host: 127.0.0.1
    login_user: admin
    login_password: "{{ redis_admin_password }}"

- name: OAuth2 Proxy sessions; a read-only pattern and a Pub/Sub channel
  pivoine.kompose.redis_acl:
    name: oauth2-proxy
    password_hashes: ["{{ oauth2_proxy_redis_password | hash('sha256') }}"]
    keys: ["_oauth2_proxy-*", "%R~shared:*"]
    channels: ["oauth2:events"]
    commands: ["+@read", "+@write", "+@connection", "-@dangerous"]
    login_user: admin
    login_password: "{{ redis_admin_password }}"

- name: Disable a user without deleting it
  pivoine.kompose.redis_acl:
    name: letterpress
    enabled: false
    login_user: admin
    login_password: "{{ redis_admin_password }}"

- name: Delete a user
  pivoine.kompose.redis_acl:
    name: umami
    state: absent
    login_user: admin
    login_password: "{{ redis_admin_password }}"

- name: Every service user in one call, persisted once
  pivoine.kompose.redis_acl:
    users:
      - name: linkwarden
        password: "{{ linkwarden_redis_password }}"
        keys: ["linkwarden:*"]
        commands: ["+@all", "-@dangerous"]
      - name: oauth2-proxy
        password_hashes: ["{{ oauth2_proxy_redis_password | hash('sha256') }}"]
        keys: ["_oauth2_proxy-*"]
        commands: ["+@read", "+@write", "+@connection", "-@dangerous"]
      - name: letterpress
        state: absent
    login_host: 127.0.0.1
    login_user: admin
    login_password: "{{ redis_admin_password }}"
"""

RETURN = r"""
user:
  description: The user after the run (predicted in check mode), normalised; password hashes masked.
  returned: when O(name) is used
  type: dict
  contains:
    exists:
      description: Whether the user exists.
      type: bool
      sample: true
    rules:
      description: The user as one rule string, password hashes masked; null when it does not exist.
      type: str
      sample: "on #******** ~linkwarden:* +@all -@dangerous"
    enabled:
      description: Whether the user is on.
      type: bool
    passwords:
      description: Number of valid passwords.
      type: int
      sample: 1
    keys:
      description: Key patterns, canonical (V(~p), V(%R~p), V(%W~p)).
      type: list
      elements: str
      sample: ["~linkwarden:*"]
    channels:
      description: Channel patterns.
      type: list
      elements: str
      sample: []
    commands:
      description: Command rules as Redis reports them (actual) or as requested (after a change).
      type: list
      elements: str
      sample: ["+@all", "-@dangerous"]
changed_fields:
  description: Fields that differed from the desired state (V(exists), V(enabled), V(passwords), V(keys), ...).
  returned: when O(name) is used
  type: list
  elements: str
  sample: [passwords]
users:
  description: One entry per item of O(users), in order, with the fields the single-user form returns.
  returned: when O(users) is used
  type: list
  elements: dict
  contains:
    name:
      description: Name of the user.
      type: str
    changed:
      description: Whether this user changed (or, in check mode, would).
      type: bool
    changed_fields:
      description: Same as RV(changed_fields), for this user.
      type: list
      elements: str
    commands:
      description: Redis commands sent for this user (without the persist command), password hashes masked.
      type: list
      elements: str
    persisted_with:
      description: RV(persisted_with) when this user changed and the call persisted, else null.
      type: str
    user:
      description: Same as RV(user), for this user.
      type: dict
  sample:
    - name: linkwarden
      changed: true
      changed_fields: [passwords]
      commands: ["ACL SETUSER linkwarden reset resetchannels on #******** ~linkwarden:* +@all -@dangerous"]
      persisted_with: ACL SAVE
      user: {exists: true, rules: "on #******** ~linkwarden:* +@all -@dangerous", enabled: true, passwords: 1,
             keys: ["~linkwarden:*"], channels: [], commands: ["+@all", "-@dangerous"]}
    - name: letterpress
      changed: false
      changed_fields: []
      commands: []
      persisted_with: null
      user: {exists: false, rules: null}
commands:
  description:
    - Redis commands sent (or, in check mode, that would be) to change the users, password hashes masked, in order;
      the persist command, sent once, comes last.
  returned: success
  type: list
  elements: str
  sample: ["ACL SETUSER linkwarden reset resetchannels on #******** ~linkwarden:* +@all -@dangerous", "ACL SAVE"]
persisted_with:
  description: V(ACL SAVE) or V(CONFIG REWRITE) when a change was persisted, else null.
  returned: success
  type: str
  sample: ACL SAVE
diff:
  description:
    - Before and after rules and fields, password hashes masked; a list of such pairs (one per user, in order)
      with O(users). Returned in diff mode.
  returned: when diff mode is enabled
  type: raw
  sample:
    before: {exists: false, rules: null}
    after: {exists: true, rules: "on #******** ~linkwarden:* +@all -@dangerous", password: changed}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pivoine.kompose.plugins.module_utils._redis import (
    MASK,
    command_table,
    connect,
    describe,
    desired_user,
    differences,
    ensure_redis,
    login_name,
    normalise_user,
    redis,
    redis_argument_spec,
    setuser_rules,
)

USER_OPTIONS = ('name', 'state', 'enabled', 'password', 'password_hashes', 'nopass', 'keys', 'channels', 'commands')
# nopass lets any password in: declared here, checked by AnsibleModule before anything runs
NOPASS_EXCLUSIVE = [('nopass', 'password'), ('nopass', 'password_hashes')]


class AclError(Exception):
    pass


class Acl(object):
    """The connection shared by every user of the call: reads, writes and one persist at the end."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.p = module.params
        self.check_mode = module.check_mode
        self.commands = []
        self.persisted_with = None
        self.wrote = False  # whether the server was changed (for a failure halfway through a users list)
        self._table = None

    def call(self, users, *args, **kwargs):
        """Send a command; `users` (see label) names the users it is sent for in an error."""
        try:
            return self.client.execute_command(*args)
        except redis.RedisError as exc:
            shown = kwargs.get('shown') or ' '.join(str(a) for a in args)
            raise AclError('%s failed for %s: %s' % (shown, users, exc))

    def write(self, users, *args, **kwargs):
        shown = kwargs.get('shown') or ' '.join(args)
        self.commands.append(shown)
        if not self.check_mode:
            self.call(users, *args, shown=shown)
            self.wrote = True
        return shown

    def table(self, users):
        """The server's command table, read once per call and only when command rules differ in text."""
        if self._table is None:
            self._table = command_table(self.call(users, 'COMMAND'))
        return self._table

    def persistence(self, users):
        """The persistence command to use, or raise when Redis cannot persist ACL changes."""
        aclfile = self.call(users, 'CONFIG', 'GET', 'aclfile')
        aclfile = aclfile.get('aclfile') if isinstance(aclfile, dict) else (aclfile[1] if aclfile else '')
        if aclfile:
            return ('ACL', 'SAVE')
        info = self.call(users, 'INFO', 'server')
        config_file = ''
        for line in info.splitlines() if isinstance(info, str) else []:
            if line.startswith('config_file:'):
                config_file = line.split(':', 1)[1].strip()
        if config_file:
            return ('CONFIG', 'REWRITE')
        raise AclError('Cannot persist %s: Redis at %s:%s runs without an aclfile and without a config file, '
                       'so neither ACL SAVE nor CONFIG REWRITE can save it; configure one, or set persist=false to '
                       'change the user in memory only' % (users, self.p['login_host'], self.p['login_port']))

    def apply(self, items):
        """Compare every user first, then write the changed ones, then persist once.

        Invalid options, a refused self-change or a Redis that cannot persist fail before anything
        is written. When a write fails halfway, what was already written is still persisted, so the
        ACL file never lags behind the running server.
        """
        users = [AclUser(self, item) for item in items]
        for user in users:
            user.plan()
        changed = [u for u in users if u.changed_fields]
        names = label(changed)
        persist = self.persistence(names) if changed and self.p['persist'] else None
        written = []
        try:
            for user in changed:
                user.write()
                written.append(user)
        except AclError as exc:
            if written and persist and not self.check_mode:
                done = label(written)
                try:
                    self.write(done, *persist)
                    exc = AclError('%s (already changed: %s, persisted with %s)' % (exc, done, ' '.join(persist)))
                except AclError as persist_exc:
                    exc = AclError('%s (already changed: %s, NOT persisted: %s)' % (exc, done, persist_exc))
            raise exc
        if persist:
            self.write(names, *persist)
            self.persisted_with = ' '.join(persist)
        return [user.result(self.persisted_with) for user in users]


def label(users):
    """`ACL user 'a'` or `ACL users 'a', 'b'`, for messages."""
    return 'ACL user%s %s' % ('s' if len(users) > 1 else '', ', '.join(repr(u.name) for u in users))


class AclUser(object):
    """Desired vs actual state of one ACL user."""

    def __init__(self, acl, params):
        self.acl = acl
        self.p = params
        self.name = params['name']
        self.label = label([self])
        self.commands = []
        self.desired = self.actual = None
        self.changed_fields = []

    def plan(self):
        p = self.p
        try:
            self.desired = desired_user(p) if p['state'] == 'present' else None
        except ValueError as exc:
            raise AclError('Invalid options for ACL user %r: %s' % (self.name, exc))
        self.actual = normalise_user(self.acl.call(self.label, 'ACL', 'GETUSER', self.name))
        if self.desired is None:
            self.changed_fields = ['exists'] if self.actual is not None else []
        else:
            self.changed_fields = differences(self.actual, self.desired, lambda: self.acl.table(self.label))
        if self.changed_fields and self.name == login_name(self.acl.p) and not self.acl.p['allow_self_change']:
            raise AclError('Refusing to %s ACL user %r: the module is logged in as it (login_user) and the change '
                           '(%s) could lock you out; set allow_self_change=true to do it anyway'
                           % ('delete' if self.desired is None else 'change', self.name, ', '.join(self.changed_fields)))

    def write(self):
        if self.desired is None:
            self.commands.append(self.acl.write(self.label, 'ACL', 'DELUSER', self.name))
        else:
            rules = setuser_rules(self.desired)
            shown = ['#' + MASK if r.startswith('#') else r for r in rules]
            self.commands.append(self.acl.write(self.label, 'ACL', 'SETUSER', self.name, *rules,
                                                shown=' '.join(['ACL SETUSER', self.name] + shown)))

    def result(self, persisted_with):
        actual, desired, changed = self.actual, self.desired, bool(self.changed_fields)
        after = desired if changed else actual
        password = 'changed' if 'passwords' in self.changed_fields or (actual is None and desired and desired['passwords']) \
            else 'unchanged'
        header = 'redis ACL user %s' % self.name
        return dict(
            name=self.name, changed=changed, changed_fields=self.changed_fields, commands=self.commands,
            persisted_with=persisted_with if changed else None, user=self.summary(after),
            diff=dict(before=self.diff_view(actual, 'unchanged'), after=self.diff_view(after, password),
                      before_header=header, after_header=header),
        )

    @staticmethod
    def summary(user):
        if user is None:
            return dict(exists=False, rules=None)
        return dict(exists=True, rules=describe(user), enabled=user['enabled'], passwords=len(user['passwords']),
                    keys=user['keys'], channels=user['channels'], commands=user['commands'])

    def diff_view(self, user, password):
        view = self.summary(user)
        view['password'] = password
        return view


def user_items(params):
    """The users of the call: the single user of the top-level options, or the users list."""
    if params['users'] is None:
        return [dict((k, params[k]) for k in USER_OPTIONS)]
    seen = set()
    for index, item in enumerate(params['users']):
        if item['name'] in seen:
            raise AclError('users[%d]: ACL user %r is listed twice; list each user once' % (index, item['name']))
        seen.add(item['name'])
    return params['users']


def main():
    user_options = dict(
        name=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        enabled=dict(type='bool', default=True),
        password=dict(type='str', no_log=True),
        password_hashes=dict(type='list', elements='str', default=[], no_log=True),
        nopass=dict(type='bool', default=False),
        keys=dict(type='list', elements='str', default=[], no_log=False),
        channels=dict(type='list', elements='str', default=[]),
        commands=dict(type='list', elements='str', default=[]),
    )
    argument_spec = dict(
        user_options,
        users=dict(type='list', elements='dict', options=dict(user_options, name=dict(type='str', required=True)),
                   mutually_exclusive=NOPASS_EXCLUSIVE),
        persist=dict(type='bool', default=True),
        allow_self_change=dict(type='bool', default=False),
        **redis_argument_spec()
    )
    # with users, every user is described by its own entry: no top-level per-user option
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, required_one_of=[('name', 'users')],
                           mutually_exclusive=NOPASS_EXCLUSIVE + [(option, 'users') for option in USER_OPTIONS])
    ensure_redis(module)
    client = connect(module)
    acl = Acl(module, client)
    try:
        results = acl.apply(user_items(module.params))
    except AclError as exc:
        module.fail_json(msg=str(exc), commands=acl.commands, changed=acl.wrote)
    finally:
        client.close()
    if module.params['users'] is None:
        result = dict(results[0], commands=acl.commands)
        del result['name']
    else:
        result = dict(changed=any(r['changed'] for r in results), commands=acl.commands,
                      persisted_with=acl.persisted_with, users=[dict(r) for r in results])
        result['diff'] = [r['diff'] for r in results]
        for entry in result['users']:
            del entry['diff']
    if not module._diff:
        result.pop('diff', None)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
