#!/usr/bin/python
# Copyright (c) 2025, pivoine.kompose contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: redis_acl
short_description: Ensure a Redis ACL user, declaratively
version_added: 0.1.0
description:
  - Ensures one Redis ACL user ends up exactly as described (enabled, passwords, key and channel patterns, command
    rules), whatever rules it had before. Rules not described are removed.
  - The current user is read with C(ACL GETUSER) and normalised, so the comparison holds across Redis 6.2, 7.0 and
    7.2+. Command rules are compared by their effect (Redis rewrites them in its own compacted form), passwords by
    SHA-256. When nothing differs no C(ACL SETUSER) is sent.
  - Passwords are sent as SHA-256 hashes (C(#<hex>)), never in clear text.
  - Changes are persisted with C(ACL SAVE) when Redis runs with an C(aclfile), else with C(CONFIG REWRITE).
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
      - Shows the user's rules before and after, with password hashes masked.
  idempotent:
    support: full
options:
  name:
    description: Name of the ACL user.
    type: str
    required: true
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
    description: Let the user authenticate with any password. Mutually exclusive with O(password) and O(password_hashes).
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
    type: bool
    default: false
notes:
  - The login user needs C(ACL), C(CONFIG GET), C(INFO) and C(COMMAND), and C(CONFIG REWRITE) or C(ACL SAVE)
    when O(persist=true) (for example C(+@all)).
  - Key selectors (Redis 7.0+) are not managed; a user with selectors is reset to none.
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
"""

RETURN = r"""
user:
  description: The user after the run (predicted in check mode), normalised; password hashes masked.
  returned: success
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
  returned: success
  type: list
  elements: str
  sample: [passwords]
commands:
  description: Redis commands sent (or, in check mode, that would be) to change the user, password hashes masked.
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
  description: Before and after rules and fields, password hashes masked. Returned in diff mode.
  returned: when diff mode is enabled
  type: dict
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


class AclError(Exception):
    pass


class AclUser(object):
    """Desired vs actual state of one ACL user."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.p = module.params
        self.name = self.p['name']
        self.commands = []
        self.persisted_with = None

    def call(self, *args, **kwargs):
        try:
            return self.client.execute_command(*args)
        except redis.RedisError as exc:
            shown = kwargs.get('shown') or ' '.join(str(a) for a in args)
            raise AclError('%s failed for ACL user %r: %s' % (shown, self.name, exc))

    def write(self, *args, **kwargs):
        self.commands.append(kwargs.get('shown') or ' '.join(args))
        if not self.module.check_mode:
            self.call(*args, **kwargs)

    def load_table(self):
        return command_table(self.call('COMMAND'))

    def persistence(self):
        """The persistence command to use, or raise when Redis cannot persist ACL changes."""
        aclfile = self.call('CONFIG', 'GET', 'aclfile')
        aclfile = aclfile.get('aclfile') if isinstance(aclfile, dict) else (aclfile[1] if aclfile else '')
        if aclfile:
            return ('ACL', 'SAVE')
        info = self.call('INFO', 'server')
        config_file = ''
        for line in info.splitlines() if isinstance(info, str) else []:
            if line.startswith('config_file:'):
                config_file = line.split(':', 1)[1].strip()
        if config_file:
            return ('CONFIG', 'REWRITE')
        raise AclError('Cannot persist ACL user %r: Redis at %s:%s runs without an aclfile and without a config file, '
                       'so neither ACL SAVE nor CONFIG REWRITE can save it; configure one, or set persist=false to '
                       'change the user in memory only' % (self.name, self.p['login_host'], self.p['login_port']))

    def apply(self):
        p = self.p
        try:
            desired = desired_user(p) if p['state'] == 'present' else None
        except ValueError as exc:
            raise AclError('Invalid options for ACL user %r: %s' % (self.name, exc))
        actual = normalise_user(self.call('ACL', 'GETUSER', self.name))
        if desired is None:
            changed_fields = ['exists'] if actual is not None else []
        else:
            changed_fields = differences(actual, desired, self.load_table)
        if changed_fields and self.name == login_name(p) and not p['allow_self_change']:
            raise AclError('Refusing to %s ACL user %r: the module is logged in as it (login_user) and the change '
                           '(%s) could lock you out; set allow_self_change=true to do it anyway'
                           % ('delete' if desired is None else 'change', self.name, ', '.join(changed_fields)))
        if changed_fields:
            persist = self.persistence() if p['persist'] else None
            if desired is None:
                self.write('ACL', 'DELUSER', self.name)
            else:
                rules = setuser_rules(desired)
                shown = ['#' + MASK if r.startswith('#') else r for r in rules]
                self.write('ACL', 'SETUSER', self.name, *rules, shown=' '.join(['ACL SETUSER', self.name] + shown))
            if persist:
                self.write(*persist)
                self.persisted_with = ' '.join(persist)
        after = actual if not changed_fields else desired
        return dict(
            changed=bool(changed_fields), changed_fields=changed_fields, commands=self.commands,
            persisted_with=self.persisted_with, user=self.summary(after),
            diff=dict(before=self.diff_view(actual, 'unchanged'),
                      after=self.diff_view(after, 'changed' if 'passwords' in changed_fields
                                           or (actual is None and desired and desired['passwords'])
                                           else 'unchanged'),
                      before_header='redis ACL user %s' % self.name, after_header='redis ACL user %s' % self.name),
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


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        enabled=dict(type='bool', default=True),
        password=dict(type='str', no_log=True),
        password_hashes=dict(type='list', elements='str', default=[], no_log=True),
        nopass=dict(type='bool', default=False),
        keys=dict(type='list', elements='str', default=[], no_log=False),
        channels=dict(type='list', elements='str', default=[]),
        commands=dict(type='list', elements='str', default=[]),
        persist=dict(type='bool', default=True),
        allow_self_change=dict(type='bool', default=False),
        **redis_argument_spec()
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    ensure_redis(module)
    client = connect(module)
    try:
        result = AclUser(module, client).apply()
    except AclError as exc:
        module.fail_json(msg=str(exc))
    finally:
        client.close()
    if not module._diff:
        del result['diff']
    module.exit_json(**result)


if __name__ == '__main__':
    main()
