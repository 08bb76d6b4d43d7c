from __future__ import annotations

import copy
import re

import pytest

from ansible_collections.pivoine.kompose.plugins.modules import keycloak_clients

REALM_MAIL = {"host": "messaging-mailhog", "port": "1025", "from": "keycloak@kompose.test", "auth": "false"}
PORTAL_ROLES = ["view-users", "manage-users", "view-clients", "query-groups"]
ROLE_MAPPINGS = re.compile(r"^http://kc\.test:8080/admin/realms/kompose/users/([^/]+)/role-mappings/clients/([^/]+)$")


def _role(client, name):
    return {"id": "%s-%s" % (client, name), "name": name, "composite": False, "clientRole": True, "containerId": client}


class FakeKeycloak:
    """Keycloak's admin API as the module uses it: clients by clientId, their roles, service accounts and their
    direct client role mappings, the realm; records every write (and the service-account reads)."""

    logins = 0

    def __init__(self, module, connection_header):
        FakeKeycloak.logins += 1
        self.writes = FakeKeycloak.writes
        self.baseurl = module.params["auth_keycloak_url"]

    def get_client_by_clientid(self, client_id, realm):
        client = FakeKeycloak.clients.get(client_id)
        return copy.deepcopy(client) if client else None

    def get_client_id(self, client_id, realm):
        client = FakeKeycloak.clients.get(client_id)
        return client["id"] if client else None

    def _account(self, rep):
        # as Keycloak: a client with serviceAccountsEnabled has a service-account user
        if rep.get("serviceAccountsEnabled") is True:
            FakeKeycloak.accounts.setdefault(rep["clientId"], {"id": "sa-" + rep["clientId"],
                                                               "username": "service-account-" + rep["clientId"]})

    def create_client(self, rep, realm):
        self.writes.append(("create", rep["clientId"]))
        FakeKeycloak.clients[rep["clientId"]] = dict(rep, id="new-" + rep["clientId"])
        self._account(rep)

    def update_client(self, id, rep, realm):
        self.writes.append(("update", rep["clientId"]))
        FakeKeycloak.clients[rep["clientId"]] = copy.deepcopy(rep)
        self._account(rep)

    def get_client_roles_by_id(self, cid, realm):
        return copy.deepcopy(FakeKeycloak.roles.get(cid, []))

    def get_service_account_user_by_client_id(self, client_id, realm):
        FakeKeycloak.account_reads.append(client_id)
        assert client_id in FakeKeycloak.accounts, "Keycloak answers 400: service account not enabled for " + client_id
        return copy.deepcopy(FakeKeycloak.accounts[client_id])

    def _request_and_deserialize(self, url, method):
        # the one raw read: a user's direct role mappings of one client
        uid, cid = ROLE_MAPPINGS.match(url).groups()
        assert method == "GET"
        return copy.deepcopy(FakeKeycloak.mappings.get((uid, cid), []))

    def _mapped(self, cid, role_rep):
        # as Keycloak: each role given by its id and name, both of a role of that client
        known = {(role["id"], role["name"]) for role in FakeKeycloak.roles[cid]}
        assert all((role["id"], role["name"]) in known for role in role_rep)
        return sorted(role["name"] for role in role_rep)

    def add_user_rolemapping(self, uid, cid, role_rep, realm):
        self.writes.append(("add", uid, cid, self._mapped(cid, role_rep)))
        FakeKeycloak.mappings.setdefault((uid, cid), []).extend(copy.deepcopy(role_rep))

    def delete_user_rolemapping(self, uid, cid, role_rep, realm):
        self.writes.append(("delete", uid, cid, self._mapped(cid, role_rep)))
        gone = {role["id"] for role in role_rep}
        FakeKeycloak.mappings[(uid, cid)] = [role for role in FakeKeycloak.mappings[(uid, cid)] if role["id"] not in gone]

    def get_realm_by_id(self, realm):
        return copy.deepcopy(FakeKeycloak.realm) if realm == "kompose" else None

    def update_realm(self, rep, realm):
        self.writes.append(("realm", realm))
        FakeKeycloak.realm.update(copy.deepcopy(rep))


@pytest.fixture
def keycloak(monkeypatch):
    FakeKeycloak.logins, FakeKeycloak.writes = 0, []
    FakeKeycloak.clients = {"grafana": {"id": "g1", "clientId": "grafana", "name": "Grafana", "secret": "s1",
                                        "redirectUris": ["https://g.test/*"], "attributes": {"x": "1"}}}
    FakeKeycloak.clients["realm-management"] = {"id": "rm", "clientId": "realm-management", "bearerOnly": True}
    FakeKeycloak.clients["broker"] = {"id": "br", "clientId": "broker", "bearerOnly": True}
    FakeKeycloak.roles = {"rm": [_role("rm", name) for name in PORTAL_ROLES + ["realm-admin", "view-realm"]],
                          "br": [_role("br", "read-token")]}
    FakeKeycloak.accounts, FakeKeycloak.mappings, FakeKeycloak.account_reads = {}, {}, []
    FakeKeycloak.realm = {"realm": "kompose", "smtpServer": {}, "resetPasswordAllowed": False}
    monkeypatch.setattr(keycloak_clients, "KeycloakAPI", FakeKeycloak)
    monkeypatch.setattr(keycloak_clients, "get_token", lambda params: {"Authorization": "Bearer t"})
    return FakeKeycloak


def _args(**extra):
    args = {"auth_keycloak_url": "http://kc.test:8080", "auth_realm": "master", "auth_username": "admin",
            "auth_password": "pw", "realm": "kompose",
            "clients": [{"clientId": "grafana", "name": "Grafana", "redirectUris": ["https://g.test/*"]},
                        {"clientId": "umami", "name": "Umami", "redirectUris": ["https://u.test/*"]}],
            "secrets": {"grafana": "s1", "umami": "s2"}, "smtp_server": REALM_MAIL}
    args.update(extra)
    return args


def test_check_mode_reports_and_writes_nothing(keycloak, module_result):
    result = module_result(keycloak_clients.main, _args(_ansible_check_mode=True, _ansible_diff=True))
    assert result["changed"] and keycloak.writes == []
    assert [(c["client_id"], c["state"]) for c in result["clients"]] == [("grafana", "unchanged"), ("umami", "created")]
    assert result["realm_mail_changed"] is True
    # the new client's secret is masked in the diff and never returned
    assert "s2" not in str(result) and result["diff"][0]["after"]["secret"] == "********"


def test_one_login_converges_then_a_second_run_changes_nothing(keycloak, module_result):
    first = module_result(keycloak_clients.main, _args())
    assert first["changed"] and keycloak.writes == [("create", "umami"), ("realm", "kompose")]
    assert keycloak.logins == 1
    assert keycloak.clients["umami"]["secret"] == "s2" and keycloak.clients["umami"]["protocol"] == "openid-connect"
    assert keycloak.realm["smtpServer"] == REALM_MAIL and keycloak.realm["resetPasswordAllowed"] is True
    keycloak.writes.clear()
    second = module_result(keycloak_clients.main, _args())
    assert not second["changed"] and keycloak.writes == []


def test_a_changed_secret_updates_only_that_client_and_names_the_key(keycloak, module_result):
    module_result(keycloak_clients.main, _args())
    keycloak.writes.clear()
    result = module_result(keycloak_clients.main, _args(secrets={"grafana": "rotated", "umami": "s2"}))
    assert keycloak.writes == [("update", "grafana")]
    assert result["clients"][0] == {"client_id": "grafana", "state": "updated", "changed_keys": ["secret"],
                                    "roles_changed": False}
    assert keycloak.clients["grafana"]["attributes"] == {"x": "1"}  # Keycloak's own attributes kept
    assert "rotated" not in str(result)


def test_without_a_relay_the_realm_is_left_alone(keycloak, module_result):
    result = module_result(keycloak_clients.main, _args(smtp_server=None))
    assert result["realm_mail_changed"] is False and ("realm", "kompose") not in keycloak.writes


def test_a_client_without_client_id_is_refused_naming_the_option(keycloak, module_result):
    result = module_result(keycloak_clients.main, _args(clients=[{"name": "nameless"}]))
    assert result["failed"] and "clients[]: each client needs a clientId" in result["msg"]


def test_a_missing_realm_is_refused_naming_it(keycloak, module_result):
    result = module_result(keycloak_clients.main, _args(realm="other", clients=[]))
    assert result["failed"] and "realm 'other' does not exist on http://kc.test:8080" in result["msg"]


def test_a_failed_login_names_the_server(keycloak, module_result, monkeypatch):
    def refuse(params):
        raise keycloak_clients.KeycloakError("401 Unauthorized")
    monkeypatch.setattr(keycloak_clients, "get_token", refuse)
    result = module_result(keycloak_clients.main, _args())
    assert result["failed"] and result["msg"] == "keycloak_clients: cannot log in to http://kc.test:8080: 401 Unauthorized"


# service_account_roles: a portal (kmps) that logs in with the client-credentials grant

PORTAL = {"clientId": "kmps", "name": "Portal", "publicClient": False, "serviceAccountsEnabled": True,
          "standardFlowEnabled": False}


def _portal_args(roles=None, **extra):
    roles = {"kmps": {"realm-management": PORTAL_ROLES}} if roles is None else roles
    args = dict(clients=[PORTAL], secrets={"kmps": "portal-secret"}, smtp_server=None, service_account_roles=roles)
    args.update(extra)
    return _args(**args)


def _existing_portal(keycloak, direct):
    """The portal as an earlier run left it, its account holding ``direct`` (client id: role names) directly."""
    keycloak.clients["kmps"] = dict(PORTAL, id="p1", secret="portal-secret")
    keycloak.accounts["kmps"] = {"id": "sa-kmps", "username": "service-account-kmps"}
    for cid, names in direct.items():
        keycloak.mappings[("sa-kmps", cid)] = [_role(cid, name) for name in names]


def _direct(keycloak, cid):
    return sorted(role["name"] for role in keycloak.mappings.get(("sa-kmps", cid), []))


def test_a_created_client_gets_exactly_its_roles(keycloak, module_result):
    result = module_result(keycloak_clients.main, _portal_args())
    assert result["changed"]
    assert keycloak.writes == [("create", "kmps"), ("add", "sa-kmps", "rm", sorted(PORTAL_ROLES))]
    assert _direct(keycloak, "rm") == sorted(PORTAL_ROLES)
    portal = result["clients"][0]
    assert portal["state"] == "created" and portal["roles_changed"] is True
    assert portal["service_account_roles"] == {"added": {"realm-management": sorted(PORTAL_ROLES)}, "removed": {}}
    assert "portal-secret" not in str(result)


def test_unchanged_roles_write_nothing(keycloak, module_result):
    _existing_portal(keycloak, {"rm": PORTAL_ROLES})
    result = module_result(keycloak_clients.main, _portal_args(_ansible_diff=True))
    assert not result["changed"] and keycloak.writes == [] and result["diff"] == []
    assert result["clients"] == [{"client_id": "kmps", "state": "unchanged", "changed_keys": [], "roles_changed": False,
                                  "service_account_roles": {"added": {}, "removed": {}}}]


def test_the_second_run_after_a_creation_changes_nothing(keycloak, module_result):
    module_result(keycloak_clients.main, _portal_args())
    keycloak.writes.clear()
    result = module_result(keycloak_clients.main, _portal_args())
    assert not result["changed"] and keycloak.writes == []


def test_missing_roles_are_added_and_extra_ones_removed_other_holders_left_alone(keycloak, module_result):
    _existing_portal(keycloak, {"rm": ["view-users", "realm-admin", "view-realm"], "br": ["read-token"]})
    result = module_result(keycloak_clients.main, _portal_args())
    assert result["changed"]
    assert keycloak.writes == [("delete", "sa-kmps", "rm", ["realm-admin", "view-realm"]),
                               ("add", "sa-kmps", "rm", ["manage-users", "query-groups", "view-clients"])]
    assert _direct(keycloak, "rm") == sorted(PORTAL_ROLES)
    assert _direct(keycloak, "br") == ["read-token"]  # broker is not named: not touched
    portal = result["clients"][0]
    assert portal["state"] == "unchanged" and portal["roles_changed"] is True
    assert portal["service_account_roles"] == {"added": {"realm-management": ["manage-users", "query-groups", "view-clients"]},
                                               "removed": {"realm-management": ["realm-admin", "view-realm"]}}


def test_an_empty_list_removes_every_direct_role_of_that_holder(keycloak, module_result):
    _existing_portal(keycloak, {"rm": ["realm-admin"], "br": ["read-token"]})
    result = module_result(keycloak_clients.main, _portal_args({"kmps": {"broker": []}}))
    assert keycloak.writes == [("delete", "sa-kmps", "br", ["read-token"])]
    assert _direct(keycloak, "rm") == ["realm-admin"]
    assert result["clients"][0]["service_account_roles"] == {"added": {}, "removed": {"broker": ["read-token"]}}


def test_the_diff_shows_the_changed_holders_role_lists(keycloak, module_result):
    _existing_portal(keycloak, {"rm": ["view-users", "realm-admin"], "br": ["read-token"]})
    roles = {"kmps": {"realm-management": PORTAL_ROLES, "broker": ["read-token"]}}
    result = module_result(keycloak_clients.main, _portal_args(roles, _ansible_diff=True))
    assert result["diff"] == [{"before_header": "kmps service account roles", "after_header": "kmps service account roles",
                               "before": {"realm-management": ["realm-admin", "view-users"]},
                               "after": {"realm-management": sorted(PORTAL_ROLES)}}]
    assert "portal-secret" not in str(result)


def test_check_mode_for_a_client_to_create_reports_the_roles_without_reading_its_account(keycloak, module_result):
    result = module_result(keycloak_clients.main, _portal_args(_ansible_check_mode=True, _ansible_diff=True))
    assert result["changed"] and keycloak.writes == [] and keycloak.account_reads == []
    portal = result["clients"][0]
    assert portal["state"] == "created" and portal["roles_changed"] is True
    assert portal["service_account_roles"] == {"added": {"realm-management": sorted(PORTAL_ROLES)}, "removed": {}}
    assert result["diff"][1] == {"before_header": "kmps service account roles", "after_header": "kmps service account roles",
                                 "before": {"realm-management": []}, "after": {"realm-management": sorted(PORTAL_ROLES)}}
    assert "portal-secret" not in str(result)


def test_check_mode_for_an_existing_client_reads_its_account_and_writes_nothing(keycloak, module_result):
    _existing_portal(keycloak, {"rm": ["realm-admin"]})
    result = module_result(keycloak_clients.main, _portal_args(_ansible_check_mode=True))
    assert result["changed"] and keycloak.writes == [] and keycloak.account_reads == ["kmps"]
    assert result["clients"][0]["service_account_roles"] == {"added": {"realm-management": sorted(PORTAL_ROLES)},
                                                             "removed": {"realm-management": ["realm-admin"]}}
    assert _direct(keycloak, "rm") == ["realm-admin"]


def test_check_mode_for_a_client_whose_service_account_would_be_switched_on(keycloak, module_result):
    _existing_portal(keycloak, {})
    keycloak.clients["kmps"]["serviceAccountsEnabled"] = False
    del keycloak.accounts["kmps"]
    result = module_result(keycloak_clients.main, _portal_args(_ansible_check_mode=True))
    assert keycloak.writes == [] and keycloak.account_reads == []
    assert result["clients"][0]["state"] == "updated"
    assert result["clients"][0]["service_account_roles"]["added"] == {"realm-management": sorted(PORTAL_ROLES)}


def test_an_unknown_role_is_refused_before_any_write(keycloak, module_result):
    roles = {"kmps": {"realm-management": ["view-users", "realm-admn", "manage-user"]}}
    result = module_result(keycloak_clients.main, _portal_args(roles))
    assert result["failed"] and keycloak.writes == []
    assert result["msg"] == ("keycloak_clients: service_account_roles.kmps.realm-management: "
                             "the client realm-management has no role manage-user, realm-admn")


def test_an_unknown_role_holding_client_is_refused_before_any_write(keycloak, module_result):
    result = module_result(keycloak_clients.main, _portal_args({"kmps": {"realm-managment": ["view-users"]}}))
    assert result["failed"] and keycloak.writes == []
    assert result["msg"] == ("keycloak_clients: service_account_roles.kmps.realm-managment: "
                             "there is no client realm-managment in realm kompose")


def test_a_client_without_service_accounts_enabled_is_refused_before_login(keycloak, module_result):
    result = module_result(keycloak_clients.main, _portal_args(clients=[dict(PORTAL, serviceAccountsEnabled=False)]))
    assert result["failed"] and keycloak.logins == 0 and keycloak.writes == []
    assert result["msg"] == "keycloak_clients: service_account_roles.kmps: the client kmps has no serviceAccountsEnabled: true"


def test_a_client_not_in_clients_is_refused_before_login(keycloak, module_result):
    roles = {"kmps": {"realm-management": PORTAL_ROLES}, "other": {"realm-management": ["view-users"]}}
    result = module_result(keycloak_clients.main, _portal_args(roles))
    assert result["failed"] and keycloak.logins == 0 and keycloak.writes == []
    assert result["msg"] == "keycloak_clients: service_account_roles.other: the client other is not in clients"


def test_roles_that_are_not_a_list_of_names_are_refused(keycloak, module_result):
    result = module_result(keycloak_clients.main, _portal_args({"kmps": {"realm-management": "view-users"}}))
    assert result["failed"] and keycloak.logins == 0
    assert result["msg"] == "keycloak_clients: service_account_roles.kmps.realm-management: expected a list of role names, got 'view-users'"
