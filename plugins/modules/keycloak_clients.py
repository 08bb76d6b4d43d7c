#!/usr/bin/python
# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: keycloak_clients
short_description: Ensure a realm's clients, and its mail relay, with one Keycloak login
version_added: 0.2.0
description:
  - Ensures each client of O(clients) on O(realm) (created when missing, updated when a given key differs), and
    optionally the realm's mail relay (O(smtp_server)), through Keycloak's admin API with one login for all of them.
  - A client is compared as M(community.general.keycloak_client) compares one - the given keys laid over what Keycloak
    has (C(attributes) merged key by key), then both normalised (order of redirect URIs, web origins and protocol
    mappers, mapper ids, booleans stored as strings) - so a run that changes nothing writes nothing. Keys not given
    are left as Keycloak has them.
  - Uses community.general's Keycloak API client (its connection and authentication options).
author:
  - pivoine.kompose developers (@pivoine)
extends_documentation_fragment:
  - community.general.keycloak
  - pivoine.kompose.attributes
attributes:
  check_mode:
    support: full
    details: Only reads from Keycloak; reports what would be created or updated.
  diff_mode:
    support: full
    details: Per changed client, the keys that differ before and after; the client secret is masked.
  idempotent:
    support: full
options:
  realm:
    description: The realm that holds the clients.
    type: str
    required: true
  clients:
    description:
      - Keycloak client representations (camelCase keys, as the admin API takes them), each with its C(clientId),
        without secrets (O(secrets)).
    type: list
    elements: dict
    default: []
  secrets:
    description:
      - The C(secret) of confidential clients, by C(clientId). Never returned; masked in a diff.
    type: dict
    default: {}
  smtp_server:
    description:
      - The realm's C(smtpServer) representation (C(host), C(port), C(from), ...; values as strings). Omitted, the
        realm's mail settings are left as they are.
    type: dict
  reset_password_allowed:
    description: The realm's C(resetPasswordAllowed), set together with O(smtp_server).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Ensure every client of the catalog on the realm, and its mail relay
  pivoine.kompose.keycloak_clients:
    auth_keycloak_url: http://172.18.0.5:8080
    auth_realm: master
    auth_username: admin
    auth_password: "{{ keycloak_admin_password }}"
    realm: kompose
    clients:
      - clientId: grafana
        name: Grafana
        redirectUris: [https://grafana.example.org/login/generic_oauth]
    secrets:
      grafana: "{{ grafana_client_secret }}"
    smtp_server:
      host: messaging-mailhog
      port: "1025"
      from: keycloak@example.org
"""

RETURN = r"""
clients:
  description: One entry per client of O(clients), in their order.
  returned: always
  type: list
  elements: dict
  contains:
    client_id:
      description: The client's C(clientId).
      type: str
    state:
      description: V(created), V(updated) or V(unchanged).
      type: str
    changed_keys:
      description: The top-level keys that differed (an update).
      type: list
      elements: str
realm_mail_changed:
  description: Whether the realm's mail settings were (or in check mode would be) changed.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.community.general.plugins.module_utils.identity.keycloak.keycloak import (
    KeycloakAPI, KeycloakError, get_token, is_struct_included, keycloak_argument_spec)

from ansible_collections.pivoine.kompose.plugins.module_utils._keycloak import desired, differences, masked, normalise


def _ensure_client(kc, module, realm, wanted, diff):
    client_id = wanted.get("clientId")
    if not client_id:
        module.fail_json(msg="keycloak_clients: clients[]: each client needs a clientId, got keys %s" % sorted(wanted))
    if client_id in module.params["secrets"]:
        wanted = dict(wanted, secret=module.params["secrets"][client_id])
    before = kc.get_client_by_clientid(client_id, realm=realm)
    if before is None:
        create = dict(wanted)
        create.setdefault("protocol", "openid-connect")
        diff.append({"before_header": client_id, "after_header": client_id, "before": {}, "after": masked(create)})
        if not module.check_mode:
            kc.create_client(create, realm=realm)
        return {"client_id": client_id, "state": "created", "changed_keys": sorted(create)}
    after = desired(before, wanted)
    keys = differences(before, after)
    if not keys:
        return {"client_id": client_id, "state": "unchanged", "changed_keys": []}
    diff.append({"before_header": client_id, "after_header": client_id,
                 "before": masked(normalise(before), keys), "after": masked(normalise(after), keys)})
    if not module.check_mode:
        kc.update_client(before["id"], after, realm=realm)
    return {"client_id": client_id, "state": "updated", "changed_keys": keys}


def main():
    spec = keycloak_argument_spec()
    spec.update(
        realm=dict(type="str", required=True),
        clients=dict(type="list", elements="dict", default=[]),
        secrets=dict(type="dict", default={}, no_log=True),
        smtp_server=dict(type="dict"),
        reset_password_allowed=dict(type="bool", default=True, no_log=False),
    )
    module = AnsibleModule(
        argument_spec=spec,
        supports_check_mode=True,
        required_one_of=[["token", "auth_realm", "auth_username", "auth_password", "auth_client_id", "auth_client_secret"]],
        required_together=[["auth_username", "auth_password"]],
    )
    params = module.params
    try:
        kc = KeycloakAPI(module, get_token(params))
    except KeycloakError as exc:
        module.fail_json(msg="keycloak_clients: cannot log in to %s: %s" % (params["auth_keycloak_url"], exc))

    diff = []
    clients = [_ensure_client(kc, module, params["realm"], wanted, diff) for wanted in params["clients"]]

    mail_changed = False
    if params["smtp_server"] is not None:
        wanted = {"smtpServer": {key: str(value) for key, value in params["smtp_server"].items()},
                  "resetPasswordAllowed": params["reset_password_allowed"]}
        realm = kc.get_realm_by_id(params["realm"])
        if realm is None:
            module.fail_json(msg="keycloak_clients: realm %r does not exist on %s" % (params["realm"], params["auth_keycloak_url"]))
        mail_changed = not is_struct_included(wanted, realm)
        if mail_changed:
            diff.append({"before_header": "realm %s" % params["realm"], "after_header": "realm %s" % params["realm"],
                         "before": {key: realm.get(key) for key in wanted}, "after": wanted})
            if not module.check_mode:
                kc.update_realm(wanted, realm=params["realm"])

    changed = mail_changed or any(client["state"] != "unchanged" for client in clients)
    module.exit_json(changed=changed, clients=clients, realm_mail_changed=mail_changed, diff=diff)


if __name__ == "__main__":
    main()
