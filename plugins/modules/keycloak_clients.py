#!/usr/bin/python
# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: keycloak_clients
short_description: Ensure a realm's clients, their service accounts' roles, and its mail relay, with one Keycloak login
version_added: 0.2.0
description:
  - Ensures each client of O(clients) on O(realm) (created when missing, updated when a given key differs), the client
    roles of their service accounts (O(service_account_roles)), and optionally the realm's mail relay
    (O(smtp_server)), through Keycloak's admin API with one login for all of them.
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
    details:
      - Only reads from Keycloak; reports what would be created or updated.
      - The service account of a client that would be created (or would have C(serviceAccountsEnabled) switched on)
        does not exist yet; every role of O(service_account_roles) is then reported as added, without reading it.
  diff_mode:
    support: full
    details:
      - Per changed client, the keys that differ before and after; the client secret is masked.
      - Per client whose service account's roles change, the role lists before and after of each role-holding
        client that changes.
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
  service_account_roles:
    description:
      - The client roles the service account of a client holds, by the client's C(clientId), then by the C(clientId) of
        the client that holds the roles (for example V(realm-management)), as a list of role names.
      - The service account's direct role mappings of each role-holding client named become exactly that list (the
        missing ones added, the others removed; an empty list removes them all). Role-holding clients not named,
        realm roles, and roles the account holds through a composite role or a group are left alone.
      - Each key must be a client of O(clients) with C(serviceAccountsEnabled=true); a role-holding client or a role
        that Keycloak does not have is refused. All of this is checked before anything is written.
    type: dict
    default: {}
    version_added: 0.5.0
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

- name: A portal that logs in with the client-credentials grant and may only read and manage users, clients and groups
  pivoine.kompose.keycloak_clients:
    auth_keycloak_url: http://172.18.0.5:8080
    auth_realm: master
    auth_username: admin
    auth_password: "{{ keycloak_admin_password }}"
    realm: kompose
    clients:
      - clientId: kmps
        name: Management portal
        publicClient: false
        serviceAccountsEnabled: true
        standardFlowEnabled: false
    secrets:
      kmps: "{{ kmps_client_secret }}"
    service_account_roles:
      kmps:
        realm-management: [view-users, manage-users, view-clients, query-groups]
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
    roles_changed:
      description:
        - Whether the roles of the client's service account were (or in check mode would be) changed; V(false) for a
          client not in O(service_account_roles).
        - The client counts as changed then, whatever its RV(clients[].state).
      type: bool
      version_added: 0.5.0
    service_account_roles:
      description:
        - The roles of the client's service account that were (or in check mode would be) added and removed, by the
          C(clientId) of their role-holding client; both empty when nothing changed.
        - Only for a client of O(service_account_roles).
      type: dict
      version_added: 0.5.0
      contains:
        added:
          description: The role names added, by role-holding client (only those with a change).
          type: dict
          sample: {"realm-management": ["manage-users", "view-users"]}
        removed:
          description: The role names removed, by role-holding client (only those with a change).
          type: dict
          sample: {"realm-management": ["realm-admin"]}
realm_mail_changed:
  description: Whether the realm's mail settings were (or in check mode would be) changed.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.community.general.plugins.module_utils.identity.keycloak.keycloak import (
    KeycloakAPI, KeycloakError, get_token, is_struct_included, keycloak_argument_spec)

from ansible_collections.pivoine.kompose.plugins.module_utils._keycloak import (
    desired, differences, direct_client_roles, masked, normalise)


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
        return {"client_id": client_id, "state": "created", "changed_keys": sorted(create)}, before
    after = desired(before, wanted)
    keys = differences(before, after)
    if not keys:
        return {"client_id": client_id, "state": "unchanged", "changed_keys": []}, before
    diff.append({"before_header": client_id, "after_header": client_id,
                 "before": masked(normalise(before), keys), "after": masked(normalise(after), keys)})
    if not module.check_mode:
        kc.update_client(before["id"], after, realm=realm)
    return {"client_id": client_id, "state": "updated", "changed_keys": keys}, before


def _check_service_account_roles(module):
    """Refuse an entry of service_account_roles whose client is not given with a service account, before any write."""
    given = {client.get("clientId"): client for client in module.params["clients"]}
    for client_id, holders in module.params["service_account_roles"].items():
        where = "keycloak_clients: service_account_roles.%s" % client_id
        if client_id not in given:
            module.fail_json(msg="%s: the client %s is not in clients" % (where, client_id))
        if given[client_id].get("serviceAccountsEnabled") is not True:
            module.fail_json(msg="%s: the client %s has no serviceAccountsEnabled: true" % (where, client_id))
        if not isinstance(holders, dict):
            module.fail_json(msg="%s: expected role names by the clientId of their client, got %s"
                             % (where, type(holders).__name__))
        for holder, names in holders.items():
            if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
                module.fail_json(msg="%s.%s: expected a list of role names, got %r" % (where, holder, names))


def _role_holders(kc, module, realm):
    """Each role-holding client named in service_account_roles: (its id, its roles by name); unknown ones refused."""
    holders = {}
    for client_id, wanted in sorted(module.params["service_account_roles"].items()):
        for holder, names in sorted(wanted.items()):
            where = "keycloak_clients: service_account_roles.%s.%s" % (client_id, holder)
            if holder not in holders:
                cid = kc.get_client_id(holder, realm=realm)
                if cid is None:
                    module.fail_json(msg="%s: there is no client %s in realm %s" % (where, holder, realm))
                roles = kc.get_client_roles_by_id(cid, realm=realm) or []
                holders[holder] = (cid, {role["name"]: role for role in roles})
            unknown = sorted(set(names) - set(holders[holder][1]))
            if unknown:
                module.fail_json(msg="%s: the client %s has no role %s" % (where, holder, ", ".join(unknown)))
    return holders


def _ensure_roles(kc, module, realm, client_id, account_exists, holders, diff):
    """Make the service account's direct roles of each named role-holding client exactly the given ones."""
    wanted = {holder: sorted(set(names)) for holder, names in module.params["service_account_roles"][client_id].items()}
    uid = None
    if account_exists:
        account = kc.get_service_account_user_by_client_id(client_id, realm=realm)
        if not account or not account.get("id"):
            module.fail_json(msg="keycloak_clients: service_account_roles.%s: the client %s has no service account in realm %s"
                             % (client_id, client_id, realm))
        uid = account["id"]
    added, removed, before, after = {}, {}, {}, {}
    for holder in sorted(wanted):
        cid, roles = holders[holder]
        # the client that would be created in check mode has no account yet: it holds nothing
        current = {role["name"]: role for role in direct_client_roles(kc, uid, cid, realm)} if uid else {}
        add = [name for name in wanted[holder] if name not in current]
        remove = sorted(name for name in current if name not in wanted[holder])
        if not add and not remove:
            continue
        if add:
            added[holder] = add
        if remove:
            removed[holder] = remove
        before[holder], after[holder] = sorted(current), wanted[holder]
        if not module.check_mode:
            if remove:
                kc.delete_user_rolemapping(uid, cid, [current[name] for name in remove], realm=realm)
            if add:
                kc.add_user_rolemapping(uid, cid, [roles[name] for name in add], realm=realm)
    if before:
        header = "%s service account roles" % client_id
        diff.append({"before_header": header, "after_header": header, "before": before, "after": after})
    return {"added": added, "removed": removed}


def main():
    spec = keycloak_argument_spec()
    spec.update(
        realm=dict(type="str", required=True),
        clients=dict(type="list", elements="dict", default=[]),
        secrets=dict(type="dict", default={}, no_log=True),
        smtp_server=dict(type="dict"),
        service_account_roles=dict(type="dict", default={}),
        reset_password_allowed=dict(type="bool", default=True, no_log=False),
    )
    module = AnsibleModule(
        argument_spec=spec,
        supports_check_mode=True,
        required_one_of=[["token", "auth_realm", "auth_username", "auth_password", "auth_client_id", "auth_client_secret"]],
        required_together=[["auth_username", "auth_password"]],
    )
    params = module.params
    _check_service_account_roles(module)
    try:
        kc = KeycloakAPI(module, get_token(params))
    except KeycloakError as exc:
        module.fail_json(msg="keycloak_clients: cannot log in to %s: %s" % (params["auth_keycloak_url"], exc))

    holders = _role_holders(kc, module, params["realm"])
    diff, clients = [], []
    for wanted in params["clients"]:
        client, before = _ensure_client(kc, module, params["realm"], wanted, diff)
        client["roles_changed"] = False
        if client["client_id"] in params["service_account_roles"]:
            # in check mode a client that would be created, or would have its service account switched on, has none yet
            account_exists = not module.check_mode or (before or {}).get("serviceAccountsEnabled") is True
            roles = _ensure_roles(kc, module, params["realm"], client["client_id"], account_exists, holders, diff)
            client["service_account_roles"] = roles
            client["roles_changed"] = bool(roles["added"] or roles["removed"])
        clients.append(client)

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

    changed = mail_changed or any(client["state"] != "unchanged" or client["roles_changed"] for client in clients)
    module.exit_json(changed=changed, clients=clients, realm_mail_changed=mail_changed, diff=diff)


if __name__ == "__main__":
    main()
