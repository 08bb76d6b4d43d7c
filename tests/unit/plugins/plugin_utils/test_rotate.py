from __future__ import annotations

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils._rotate import (
    RotateError, failures, plan, probe_network, vaultwarden_override)


def loop(*results):
    return {"results": list(results)}


def test_every_rotation_proven():
    assert failures(
        loop({"item": ["postgres-keycloak", "old"], "rc": 2, "stderr": "FATAL:  password authentication failed for user"},
             {"item": ["postgres-keycloak", "new"], "rc": 0, "stderr": ""}),
        redis=loop({"item": ["redis-admin", "old"], "stdout": "", "stderr": "WRONGPASS invalid username-password pair"},
                   {"item": ["redis-admin", "new"], "stdout": "PONG", "stderr": ""}),
        mqtt=loop({"item": ["mqtt-healthcheck", "old"], "rc": 5, "stderr": "Connection error: Connection Refused: not authorised."},
                  {"item": ["mqtt-healthcheck", "new"], "rc": 0, "stderr": ""}),
        http=loop({"item": ["oauth2_proxy-client", "old"], "status": 401}, {"item": ["oauth2_proxy-client", "new"], "status": 200}),
        restarted=loop({"item": "oauth2_proxy-cookie", "exists": True,
                        "container": {"State": {"Running": True, "Health": {"Status": "healthy"}}}})) == []


def test_an_old_value_still_accepted_and_an_unclear_answer():
    assert failures(loop({"item": ["postgres-alpha", "old"], "rc": 0, "stderr": ""},
                         {"item": ["postgres-alpha", "new"], "rc": 2, "stderr": "could not connect to server\n"})) == [
        "postgres-alpha: the old value was accepted", "postgres-alpha: the new value was not checked: could not connect to server"]


def test_skipped_probes_and_an_unhealthy_service():
    assert failures({"skipped": True}, mqtt=None, restarted=loop(
        {"item": "grafana-secret", "exists": True, "container": {"State": {"Running": True, "Health": {"Status": "starting"}}}},
        {"item": "other", "exists": False, "container": None})) == [
        "grafana-secret: the new value was not checked: service not running healthy",
        "other: the new value was not checked: service not running healthy"]


def test_not_a_registered_result():
    with pytest.raises(RotateError, match="registered loop result"):
        failures(["x"])


# --- the plan: where each rotated server credential is proven from, whose sessions end ---------------

CATALOG = {
    "postgres": {"container": "core-postgres", "image": "postgres:16", "port": 5432},
    "redis": {"container": "core-redis", "image": "redis:7.2", "port": 6379},
    "mqtt": {"container": "core-mqtt", "image": "eclipse-mosquitto:2", "port": 1883},
}
ROTATIONS = {
    "postgres-keycloak": {"kind": "postgres", "service": "keycloak", "role": "keycloak", "database": "keycloak"},
    "postgres-superuser": {"kind": "postgres_superuser", "service": "postgres"},
    "redis-oauth2_proxy": {"kind": "redis", "service": "oauth2_proxy", "user": "oauth2_proxy"},
    "redis-admin": {"kind": "redis_admin", "service": "redis"},
    "mqtt-healthcheck": {"kind": "mqtt", "service": "mqtt", "user": "healthcheck"},
    "oauth2_proxy-cookie": {"kind": "restart", "service": "oauth2_proxy"},
    "oauth2_proxy-client": {"kind": "oidc", "service": "oauth2_proxy", "client_id": "oauth2-proxy"},
}


def servers(**networks):
    """A docker_container_info loop over the servers: container -> its network names."""
    return loop(*({"item": container, "exists": True,
                   "container": {"NetworkSettings": {"Networks": {name: {"IPAddress": "10.0.0.9"} for name in names}}}}
                  for container, names in networks.items()))


PER_SERVICE = servers(**{"core-postgres": ["kompose-keycloak", "kompose-gotify"],
                         "core-redis": ["kompose-oauth2-proxy", "kompose-umami"],
                         "core-mqtt": ["kompose-system", "kompose-mqtt-exporter"]})


def test_probe_network_prefers_the_services_own_then_the_shared_one():
    assert probe_network("oauth2_proxy", {"kompose-oauth2-proxy": {}, "kompose": {}}, "kompose") == "kompose-oauth2-proxy"
    assert probe_network("keycloak", {"kompose": {}}, "kompose") == "kompose"  # before per-service networks
    assert probe_network("postgres", {"kompose-umami": {}, "kompose-gotify": {}}, "kompose") == "kompose-gotify"
    assert probe_network("keycloak", {}, "kompose") is None


def test_plan_proves_each_credential_from_its_services_network():
    out = plan(ROTATIONS, list(ROTATIONS), CATALOG, PER_SERVICE, network="kompose", superuser="postgres", redis_admin="kompose")
    assert out["containers"] == [
        {"name": "kompose-day2-probe-postgres-kompose-keycloak", "image": "postgres:16", "network": "kompose-keycloak"},
        {"name": "kompose-day2-probe-postgres-kompose-gotify", "image": "postgres:16", "network": "kompose-gotify"},
        {"name": "kompose-day2-probe-redis-kompose-oauth2-proxy", "image": "redis:7.2", "network": "kompose-oauth2-proxy"},
        {"name": "kompose-day2-probe-mqtt-kompose-mqtt-exporter", "image": "eclipse-mosquitto:2", "network": "kompose-mqtt-exporter"},
    ]
    keycloak = {"container": "kompose-day2-probe-postgres-kompose-keycloak", "host": "core-postgres", "port": 5432,
                "user": "keycloak", "database": "keycloak"}
    superuser = {"container": "kompose-day2-probe-postgres-kompose-gotify", "host": "core-postgres", "port": 5432,
                 "user": "postgres", "database": "postgres"}
    assert out["postgres"] == [["postgres-keycloak", "old", keycloak], ["postgres-keycloak", "new", keycloak],
                               ["postgres-superuser", "old", superuser], ["postgres-superuser", "new", superuser]]
    redis = {"container": "kompose-day2-probe-redis-kompose-oauth2-proxy", "host": "core-redis", "port": 6379}
    assert out["redis"] == [["redis-oauth2_proxy", "old", dict(redis, user="oauth2_proxy")],
                            ["redis-oauth2_proxy", "new", dict(redis, user="oauth2_proxy")],
                            ["redis-admin", "old", dict(redis, user="kompose")], ["redis-admin", "new", dict(redis, user="kompose")]]
    assert [probe[2]["user"] for probe in out["mqtt"]] == ["healthcheck", "healthcheck"]
    # the sessions of every rotated role and Redis user end (MQTT's with the broker, which is recreated)
    assert out["sessions"] == {"postgres": ["keycloak", "postgres"], "redis": ["oauth2_proxy", "kompose"]}


def test_plan_on_the_shared_network_and_for_other_kinds():
    shared = servers(**{"core-postgres": ["kompose"]})
    out = plan(ROTATIONS, ["postgres-keycloak", "oauth2_proxy-cookie", "oauth2_proxy-client"], CATALOG, shared)
    assert out["containers"] == [{"name": "kompose-day2-probe-postgres-kompose", "image": "postgres:16", "network": "kompose"}]
    assert out["redis"] == out["mqtt"] == [] and out["sessions"]["redis"] == []
    assert plan(ROTATIONS, ["oauth2_proxy-cookie"], CATALOG, None)["containers"] == []


def test_plan_refusals_name_the_secret_and_the_cause():
    with pytest.raises(RotateError, match="^nosuch is not a secret"):
        plan(ROTATIONS, ["nosuch"], CATALOG, PER_SERVICE)
    with pytest.raises(RotateError, match="^redis-admin: the server's container core-redis does not exist"):
        plan(ROTATIONS, ["redis-admin"], CATALOG, servers(**{"core-postgres": ["kompose"]}))
    with pytest.raises(RotateError, match="^redis-admin: the server's container core-redis is on no network"):
        plan(ROTATIONS, ["redis-admin"], CATALOG, servers(**{"core-redis": []}))
    with pytest.raises(RotateError, match="rotations and the catalog"):
        plan([], [], CATALOG, None)


# --- Vaultwarden's saved settings -------------------------------------------------------------------------

def test_vaultwarden_without_saved_settings_or_without_an_admin_token_there():
    assert vaultwarden_override({"rc": 0, "stdout": ""}) == ""
    assert vaultwarden_override({"rc": 0, "stdout": '{"domain": "https://vault.example", "admin_token": ""}'}) == ""
    assert vaultwarden_override({"rc": 0, "stdout": '{"admin_token": null}'}) == ""
    assert vaultwarden_override({"skipped": True}) == ""


def test_vaultwarden_admin_token_in_config_json_is_refused_without_its_value():
    why = vaultwarden_override({"rc": 0, "stdout": '{\n  "admin_token": "s3cr3t-old",\n  "smtp_password": "x"\n}'}, "vault_app")
    assert why.startswith("/data/config.json in vault_app sets admin_token, which overrides ADMIN_TOKEN")
    assert "s3cr3t" not in why


def test_vaultwarden_settings_that_cannot_be_checked_are_refused():
    assert vaultwarden_override({"rc": 0, "stdout": "{not json s3cr3t"}).endswith(
        "is not a JSON object: cannot tell whether it sets admin_token, which would override the environment")
    assert "s3cr3t" not in vaultwarden_override({"rc": 0, "stdout": "{not json s3cr3t"})
    assert vaultwarden_override({"failed": False, "msg": 'Container "vault_app" is not running'}).startswith(
        'could not read /data/config.json in vault_app (Container "vault_app" is not running): Vaultwarden must run')
    with pytest.raises(RotateError, match="expected the result"):
        vaultwarden_override(None)


# --- the proofs over the network --------------------------------------------------------------------------

def test_vaultwarden_admin_page_old_token_refused_new_one_accepted():
    admin = loop({"item": ["vaultwarden-admin", "old"], "status": 401, "cookies": {}},
                 {"item": ["vaultwarden-admin", "new"], "status": 200, "cookies": {"VW_ADMIN": "jwt"}})
    assert failures(admin=admin) == []


def test_vaultwarden_admin_page_still_taking_the_old_token():
    admin = loop({"item": ["vaultwarden-admin", "old"], "status": 200, "cookies": {"VW_ADMIN": "jwt"}},
                 {"item": ["vaultwarden-admin", "new"], "status": 429, "cookies": {}},
                 {"item": ["vaultwarden-admin", "new"], "status": -1, "msg": "Request failed: connection refused"})
    assert failures(admin=admin) == ["vaultwarden-admin: the old value was accepted",
                                     "vaultwarden-admin: the new value was not checked: HTTP 429",
                                     "vaultwarden-admin: the new value was not checked: Request failed: connection refused"]


def test_postgres_over_the_network_old_password_refused():
    # what psql says from a probe container when the server checks the password over TCP
    pg = loop({"item": ["postgres-keycloak", "old", {}], "rc": 2,
               "stderr": 'psql: error: connection to server at "core-postgres" (10.0.0.3), port 5432 failed: '
                         'FATAL:  password authentication failed for user "keycloak"'},
              {"item": ["postgres-keycloak", "new", {}], "rc": 0, "stdout": "1", "stderr": ""})
    assert failures(pg) == []
