from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.module_utils._keycloak import MASK, desired, differences, masked, normalise

# a client as Keycloak returns it: ids, defaults it filled in, booleans as strings, URIs in its own order
BEFORE = {
    "id": "5f1c", "clientId": "grafana", "name": "Grafana", "enabled": True, "secret": "old-secret",
    "redirectUris": ["https://b.test/*", "https://a.test/cb"], "webOrigins": ["https://a.test"],
    "attributes": {"post.logout.redirect.uris": "https://a.test/*", "client.secret.creation.time": "1700000000",
                   "backchannel.logout.session.required": "true"},
    "protocolMappers": [
        {"id": "m2", "name": "groups", "protocol": "openid-connect", "protocolMapper": "oidc-group-membership-mapper",
         "consentRequired": False, "config": {"claim.name": "groups", "full.path": "false"}},
        {"id": "m1", "name": "audience", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
         "consentRequired": False, "config": {"included.client.audience": "grafana", "id.token.claim": "true"}},
    ],
}
WANTED = {
    "clientId": "grafana", "name": "Grafana", "enabled": True, "secret": "old-secret",
    "redirectUris": ["https://a.test/cb", "https://b.test/*"], "webOrigins": ["https://a.test"],
    "attributes": {"post.logout.redirect.uris": "https://a.test/*"},
    "protocolMappers": [
        {"name": "audience", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
         "config": {"included.client.audience": "grafana", "id.token.claim": True}},
        {"name": "groups", "protocol": "openid-connect", "protocolMapper": "oidc-group-membership-mapper",
         "consentRequired": False, "config": {"claim.name": "groups", "full.path": "false"}},
    ],
}


def test_same_client_in_another_order_and_form_is_no_change():
    assert differences(BEFORE, desired(BEFORE, WANTED)) == []


def test_attributes_merge_key_by_key_and_keep_keycloaks_own():
    after = desired(BEFORE, dict(WANTED, attributes={"post.logout.redirect.uris": "https://c.test/*"}))
    assert after["attributes"]["backchannel.logout.session.required"] == "true"
    assert differences(BEFORE, after) == ["attributes"]


def test_each_kind_of_change_is_named():
    assert differences(BEFORE, desired(BEFORE, dict(WANTED, secret="new-secret"))) == ["secret"]
    assert differences(BEFORE, desired(BEFORE, dict(WANTED, redirectUris=["https://a.test/cb"]))) == ["redirectUris"]
    mappers = [dict(m, config=dict(m["config"], **{"userinfo.token.claim": "false"})) for m in WANTED["protocolMappers"]]
    assert differences(BEFORE, desired(BEFORE, dict(WANTED, protocolMappers=mappers))) == ["protocolMappers"]


def test_keys_not_given_are_left_alone():
    assert desired(BEFORE, {"clientId": "grafana"})["redirectUris"] == BEFORE["redirectUris"]
    assert differences(BEFORE, desired(BEFORE, {"clientId": "grafana"})) == []


def test_normalise_does_not_touch_its_input():
    normalise(BEFORE)
    assert BEFORE["protocolMappers"][0]["id"] == "m2" and "client.secret.creation.time" in BEFORE["attributes"]


def test_masked_hides_the_secret_and_shows_only_the_keys_asked_for():
    assert masked(BEFORE, ["secret", "name"]) == {"secret": MASK, "name": "Grafana"}
    assert masked({"clientId": "x"}) == {"clientId": "x"}
