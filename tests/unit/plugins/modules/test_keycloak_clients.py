from __future__ import annotations

import copy

import pytest

from ansible_collections.pivoine.kompose.plugins.modules import keycloak_clients

REALM_MAIL = {"host": "messaging-mailhog", "port": "1025", "from": "keycloak@kompose.test", "auth": "false"}


class FakeKeycloak:
    """Keycloak's admin API as the module uses it: clients by clientId, the realm; records every write."""

    logins = 0

    def __init__(self, module, connection_header):
        FakeKeycloak.logins += 1
        self.writes = FakeKeycloak.writes

    def get_client_by_clientid(self, client_id, realm):
        client = FakeKeycloak.clients.get(client_id)
        return copy.deepcopy(client) if client else None

    def create_client(self, rep, realm):
        self.writes.append(("create", rep["clientId"]))
        FakeKeycloak.clients[rep["clientId"]] = dict(rep, id="new-" + rep["clientId"])

    def update_client(self, id, rep, realm):
        self.writes.append(("update", rep["clientId"]))
        FakeKeycloak.clients[rep["clientId"]] = copy.deepcopy(rep)

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
    assert result["clients"][0] == {"client_id": "grafana", "state": "updated", "changed_keys": ["secret"]}
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
