#!/usr/bin/python
# Copyright (c) 2025, pivoine.kompose contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: gotify_application
short_description: Ensure a Gotify application and hand back its token, declaratively
version_added: 0.2.0
description:
  - Ensures one application (a message sender with its own token) of the Gotify user O(username) exists with
    O(description) and O(default_priority), or does not exist.
  - Applications are looked up by O(name) among the applications of O(username) (Gotify applications belong to a
    user). When several have that name the module fails, naming their ids, and changes nothing.
  - Works with Gotify 2.9 and 3.x; C(GET /version) tells them apart.
  - B(Tokens are issued by Gotify and handed back once.) Gotify 3 returns the usable token (C(gtfya.<...>)) only in
    the answer that issues it, when the application is created or its token regenerated; afterwards it keeps only a
    public form and lists applications without a token. Store the returned RV(token) at once whenever there is
    one (for example in your secret store), from a task with C(no_log), and pass it back as the option O(token)
    on the next runs.
  - With Gotify 3, an existing application is kept with the token the caller holds (O(token)); the module cannot
    check that token without sending a message, so it trusts it. Without O(token), the module regenerates the
    token (C(PUT /application/{id}/security)) so the caller gets a usable one; this also recovers a run that died
    between creating the application and storing its token. Regenerating invalidates the previous token.
  - With Gotify 2, the token of an existing application is listed by Gotify, so without O(token) (or with one that
    differs from Gotify's) the module returns Gotify's token unchanged (RV(token_issued=false)).
  - O(rotate=true) issues a new token. Gotify 3 regenerates it in place. Gotify 2 has no way to rotate a token, so
    the module deletes the application and creates it again with the same name, description, priority and sort
    key; its id changes, and its messages and custom image are lost.
extends_documentation_fragment:
  - pivoine.kompose.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode only reads from Gotify (C(GET /version), C(GET /application)). It reports the change and
        RV(token_issued) as they would be, but no RV(token) for a token that would be issued.
  diff_mode:
    support: full
    details:
      - Shows whether the application exists, its id, name, description and default priority, before and after.
        Tokens are never shown; an existing one is V(********), a newly issued one V(******** (new\)).
  idempotent:
    support: partial
    details:
      - Without O(token) on Gotify 3 every run regenerates the token of an existing application; pass the token
        returned by the previous run in O(token) to keep it. O(rotate=true) issues a new token on every run.
options:
  url:
    description:
      - Base address of the Gotify server, as the Ansible controller or target reaches it, for example
        V(http://messaging_gotify:80) or V(https://gotify.example.org). A path prefix is kept.
      - Redirects are not followed; use the address Gotify answers on.
    type: str
    required: true
  username:
    description: Gotify user that owns the application (HTTP basic auth).
    type: str
    required: true
  password:
    description: Password of O(username). Basic auth counts as elevated in Gotify 3, as rotation and deletion need.
    type: str
    required: true
  validate_certs:
    description: Verify the server certificate of an V(https://) O(url).
    type: bool
    default: true
  ca_path:
    description: PEM file of the certificate authorities to trust for an V(https://) O(url), instead of the system's.
    type: path
  timeout:
    description: Timeout of each HTTP request, in seconds.
    type: int
    default: 10
  name:
    description: Name of the application, unique among the applications of O(username).
    type: str
    required: true
  description:
    description: Description of the application, shown in Gotify's web UI and apps.
    type: str
    default: ''
  default_priority:
    description: Priority of messages that the application sends without one, from V(0) to V(10).
    type: int
    default: 0
  state:
    description:
      - V(present) ensures the application as described; V(absent) deletes it, with its messages.
    type: str
    choices: [present, absent]
    default: present
  token:
    description:
      - The token of this application that the caller already holds (from its secret store), as RV(token) returned
        it before.
      - With Gotify 3 and an existing application, a held token is kept (not regenerated); without one the token is
        regenerated. With Gotify 2 it is compared with Gotify's.
      - Surrounding white space (the newline of a token file) is ignored; an empty value counts as no token held.
      - Ignored with O(state=absent).
    type: str
  rotate:
    description:
      - Issue a new token even when one is held. See the description for how Gotify 2 does it.
      - Ignored with O(state=absent).
    type: bool
    default: false
notes:
  - RV(token) is a secret. Run the task with C(no_log=true) and store RV(token) with mode C(0600) or in a vault,
    in the same play, before anything can fail.
  - Only the applications of O(username) are seen; an application of another user with the same name is a
    different application.
  - Unit tests cover the decisions against recorded Gotify 2.9 and 3.0 API answers; integration tests run them
    against the real Gotify server 3.0.0 (create, keep, update, a lost token, rotation, refusals, deletion).
seealso:
  - name: Gotify REST API
    description: The API documentation of the Gotify server.
    link: https://gotify.net/api-docs
author:
  - pivoine.kompose developers (@pivoine)
"""

EXAMPLES = r"""
- name: Ensure the Alertmanager application, keeping the token we hold
  pivoine.kompose.gotify_application:
    url: http://messaging_gotify:80
    username: admin
    password: "{{ gotify_admin_password }}"
    name: alertmanager
    description: Alerts from Prometheus Alertmanager
    default_priority: 5
    # the token stored by an earlier run (from your secret store); omitted on the first run
    token: "{{ gotify_alertmanager_token | default(omit) }}"
  register: gotify_alertmanager
  no_log: true

- name: Store a token as soon as Gotify issues one
  ansible.builtin.copy:
    content: "{{ gotify_alertmanager.token }}"
    dest: /etc/kompose/secrets/gotify-alertmanager.token
    mode: "0600"
  when: gotify_alertmanager.token is defined
  no_log: true

- name: Rotate the token of the backup application
  pivoine.kompose.gotify_application:
    url: https://gotify.example.org
    ca_path: /etc/kompose/ca.pem
    username: admin
    password: "{{ gotify_admin_password }}"
    name: backup
    rotate: true
  register: gotify_backup
  no_log: true

- name: Delete an application and its messages
  pivoine.kompose.gotify_application:
    url: http://messaging_gotify:80
    username: admin
    password: "{{ gotify_admin_password }}"
    name: legacy-cron
    state: absent
"""

RETURN = r"""
application:
  description:
    - The application after the run (predicted in check mode), without its token; null when it does not exist.
  returned: success
  type: dict
  contains:
    id:
      description: Id of the application; null in check mode for an application that would be created.
      type: int
      sample: 3
    name:
      description: Name.
      type: str
      sample: alertmanager
    description:
      description: Description.
      type: str
      sample: Alerts from Prometheus Alertmanager
    default_priority:
      description: Default priority of its messages.
      type: int
      sample: 5
    internal:
      description: Whether Gotify created it for a plugin.
      type: bool
      sample: false
    image:
      description: Path of its image on the Gotify server.
      type: str
      sample: static/defaultapp.png
    created_at:
      description: Creation time (Gotify 3; null with Gotify 2, which does not report it).
      type: str
      sample: "2026-07-20T09:14:03.512071958Z"
    last_used:
      description: Last time its token was used, or null.
      type: str
      sample: null
    sort_key:
      description: Position in Gotify's list of applications.
      type: str
      sample: a1
  sample:
    id: 3
    name: alertmanager
    description: Alerts from Prometheus Alertmanager
    default_priority: 5
    internal: false
    image: static/defaultapp.png
    created_at: "2026-07-20T09:14:03.512071958Z"
    last_used: null
    sort_key: a1
token:
  description:
    - The usable token of the application, when Gotify issued one in this run (creation, regeneration with
      Gotify 3, re-creation with Gotify 2), or, with Gotify 2, Gotify's listed token when O(token) was not given
      or differs from it.
    - Store it at once whenever it is returned; with Gotify 3 it cannot be read again.
    - Not returned in check mode for a token that would be issued, nor when O(token) is kept.
  returned: when a token was issued or recovered
  type: str
  sample: gtfya.jxQuc_OJymVeQCNrO2Isr6knN7Jpi6SCT6nToGQDLFU
token_issued:
  description: Whether Gotify issued (or, in check mode, would issue) a new token, invalidating any previous one.
  returned: success
  type: bool
  sample: true
version:
  description: Version of the Gotify server, as C(GET /version) reports it.
  returned: success
  type: str
  sample: 3.0.0
requests:
  description: The changing API requests sent (or, in check mode, that would be), in order, without bodies.
  returned: success
  type: list
  elements: str
  sample: ["PUT /application/3", "PUT /application/3/security"]
diff:
  description: Before and after state of the application, tokens masked. Returned in diff mode.
  returned: when diff mode is enabled
  type: dict
  sample:
    before: {exists: true, id: 3, name: alertmanager, description: "", default_priority: 0, token: "********"}
    after: {exists: true, id: 3, name: alertmanager, description: Alerts from Prometheus Alertmanager,
            default_priority: 5, token: "******** (new)"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pivoine.kompose.plugins.module_utils._gotify import (
    Application,
    GotifyClient,
    GotifyError,
    UrlTransport,
    check_params,
    gotify_argument_spec,
)


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        description=dict(type='str', default=''),
        default_priority=dict(type='int', default=0),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        token=dict(type='str', no_log=True),
        rotate=dict(type='bool', default=False),
        **gotify_argument_spec()
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    problem = check_params(module.params)
    if problem:
        module.fail_json(msg=problem)
    client = GotifyClient(UrlTransport(module.params), module.params)
    application = Application(client, module.params, module.check_mode, module.warn)
    try:
        result = application.apply()
    except GotifyError as exc:
        module.fail_json(msg=str(exc), changed=application.changed, requests=client.requests)
    if not module._diff:
        result.pop('diff')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
