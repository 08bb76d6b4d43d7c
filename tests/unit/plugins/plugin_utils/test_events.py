"""The events stack's configuration (plugin_utils/_events.py): rules checked with the engine's own code."""
from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.pivoine.kompose.plugins.filter.events import FilterModule
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _events as e

CATALOG = {
    "mqtt": {"stack": "core", "container": "core-mqtt", "port": 1883},
    "redis": {"stack": "core", "container": "core-redis", "port": 6379},
    "gotify": {"stack": "messaging", "container": "messaging_gotify", "port": 80},
    "umami": {"stack": "track", "container": "track_app", "port": 3000, "fqdn": "analytics.example.org"},
    "events": {"stack": "events", "container": "events_engine", "port": 9100, "calls": ["umami", "linkwarden"],
               "gotify": ["security"], "redis": {"user": "events", "keys": ["events:*"]},
               "mqtt": {"user": "events", "subscribe": ["kompose/#"], "publish": ["kompose/automation/#"]}},
    "vault_events": {"stack": "vault", "container": "vault_events", "port": 9100, "mqtt": {"publish": ["kompose/vault/#"]},
                     "redis": {"keys": ["events:vaultwarden:*"]}},
    "events_alertmanager": {"stack": "events", "mqtt": {"publish": ["kompose/system/health/#"]}},
}
SETTINGS = {
    "default_rules": ["bookmark-added-to-umami", "article-published-to-linkwarden", "vault-failure-to-gotify", "vault-failure-to-mail"],
    "rules": [],
    "variables": {"umami_website_id": "", "linkwarden_published_collection_id": "", "security_mail_to": "sec@example.org"},
    "credentials": {},
    "mail_from": "events@example.org",
    "smtp_host": "messaging_mailhog",
    "smtp_port": 1025,
    "retry": {"base_seconds": 1},
    "http_timeout": 5,
    "vaultwarden": {"path": "/var/log/vaultwarden/vaultwarden.log", "interval": 0.5, "threshold": 10, "window_seconds": 300},
    "networks": {"events": ["172.16.10.0/27", "172.16.20.64/27"], "vault_events": ["172.16.30.0/27"]},
}
DRILL = {"name": "drill", "on": "kompose/system/health/check", "where": {"data.check": "x"},
         "do": {"kind": "gotify", "application": "security", "title": "t", "message": {"$format": "{id}"}}}


def settings(**changes):
    out = copy.deepcopy(SETTINGS)
    out.update(changes)
    return out


def test_config_names_every_secret_by_its_variable_and_holds_none():
    setup = e.config(CATALOG, settings(credentials={"linkwarden-token": {"header": "Authorization", "prefix": "Bearer ", "value": "s3cret"}}))
    assert setup["secrets"] == {
        "EVENTS_MQTT_AUTOMATION": "mqtt-events", "EVENTS_REDIS": "redis-events", "EVENTS_GOTIFY_SECURITY": "gotify-token-security",
        "EVENTS_MQTT_ALERTMANAGER": "mqtt-events_alertmanager",
    }
    assert setup["credentials"] == {"EVENTS_CRED_LINKWARDEN_TOKEN": "linkwarden-token"}
    config = setup["config"]
    assert "s3cret" not in json.dumps(setup)
    assert config["credentials"] == {"linkwarden-token": {"header": "Authorization", "prefix": "Bearer ", "env": "EVENTS_CRED_LINKWARDEN_TOKEN"}}
    # linkwarden is in calls but not enabled: left out of the services
    assert config["services"] == {"umami": "http://track_app:3000", "gotify": "http://messaging_gotify:80"}
    assert config["sources"] == [{"name": "alertmanager", "kind": "alertmanager-webhook", "path": e.ALERTMANAGER_PATH,
                                  "mqtt": {"client_id": "kompose-events-alertmanager", "username": "events_alertmanager",
                                           "password_env": "EVENTS_MQTT_ALERTMANAGER"}}]
    assert config["redis"] == {"host": "core-redis", "port": 6379, "username": "events", "password_env": "EVENTS_REDIS", "prefix": "events:"}
    assert config["listen"]["networks"] == ["172.16.10.0/27", "172.16.20.64/27"]
    assert config["variables"]["umami_hostname"] == "analytics.example.org"


def test_a_source_that_reads_an_app_runs_beside_it_with_users_of_its_own():
    sidecar = e.config(CATALOG, settings())["sidecars"]["vault_events"]
    assert sidecar["secrets"] == {"EVENTS_MQTT": "mqtt-vault_events", "EVENTS_REDIS": "redis-vault_events"}
    config = sidecar["config"]
    assert config["automation"] is None and config["rules"] == [] and config["smtp"] is None
    assert config["listen"] == {"host": "0.0.0.0", "port": 9100, "networks": ["172.16.30.0/27"]}
    assert config["redis"]["username"] == "vault_events" and config["redis"]["prefix"] == "events:vaultwarden:"
    assert config["sources"] == [{
        "name": "vaultwarden", "kind": "vaultwarden-log",
        "mqtt": {"client_id": "kompose-events-vaultwarden", "username": "vault_events", "password_env": "EVENTS_MQTT"},
        "path": "/var/log/vaultwarden/vaultwarden.log", "interval": 0.5, "threshold": 10, "window_seconds": 300}]
    assert "vault_events" not in e.config({k: v for k, v in CATALOG.items() if k != "vault_events"}, settings())["sidecars"]


def test_default_rules_left_out_with_the_reason():
    setup = e.config(CATALOG, settings())
    assert [rule["name"] for rule in setup["config"]["rules"]] == ["bookmark-added-to-umami", "vault-failure-to-gotify", "vault-failure-to-mail"]
    assert setup["left_out"] == [
        {"name": "article-published-to-linkwarden",
         "why": "its service linkwarden is not enabled (or not in kompose_services.events.calls)"},
    ]
    # Umami without a host name: no website of the engine's own, and none named by the inventory
    catalog = copy.deepcopy(CATALOG)
    del catalog["umami"]["fqdn"]
    assert e.config(catalog, settings())["left_out"][0] == {
        "name": "bookmark-added-to-umami", "why": "events_variables.umami_hostname and events_variables.umami_website_id are not set"}


def test_the_umami_website_is_derived_from_umamis_host_unless_the_inventory_names_one():
    website = e.umami_website(CATALOG)
    assert website == {"id": website["id"], "name": "Kompose events", "domain": "analytics.example.org"}
    assert website["id"] == e.umami_website(copy.deepcopy(CATALOG))["id"]  # the same on every run
    other = copy.deepcopy(CATALOG)
    other["umami"]["fqdn"] = "stats.example.org"
    assert e.umami_website(other)["id"] != website["id"]
    assert e.config(CATALOG, settings())["config"]["variables"]["umami_website_id"] == website["id"]
    own = "0b0e8f9e-1111-4222-8333-444455556666"
    variables = dict(SETTINGS["variables"], umami_website_id=own)
    assert e.config(CATALOG, settings(variables=variables))["config"]["variables"]["umami_website_id"] == own
    assert e.umami_website({k: v for k, v in CATALOG.items() if k != "umami"}) is None


def test_no_relay_leaves_the_mail_rule_out_and_no_gotify_the_gotify_rule():
    catalog = {k: v for k, v in CATALOG.items() if k != "gotify"}
    setup = e.config(catalog, settings(smtp_host=""))
    assert setup["config"]["smtp"] is None
    assert {item["name"]: item["why"] for item in setup["left_out"]}["vault-failure-to-mail"] == \
        "there is no mail relay (kompose_smtp_host is empty)"
    assert "vault-failure-to-gotify" in [item["name"] for item in setup["left_out"]]


def test_own_rules_are_kept_after_the_defaults():
    setup = e.config(CATALOG, settings(rules=[DRILL]))
    assert [rule["name"] for rule in setup["config"]["rules"]][-1] == "drill"


@pytest.mark.parametrize("rule, message", [
    ({**DRILL, "on": "kompose/nowhere/x"}, 'events_rules[0].on: "kompose/nowhere/x"'),
    ({**DRILL, "do": {**DRILL["do"], "application": "other"}}, 'events_rules[0].do.application: "other"'),
    ({**DRILL, "do": {"kind": "http", "service": "keycloak", "method": "POST", "path": "/x"}},
     'events_rules[0].do.service: "keycloak" is not a known service (known: gotify, umami)'),
    ({**DRILL, "name": "vault-failure-to-gotify"}, "events_rules[0].name: 'vault-failure-to-gotify' is also a default rule"),
])
def test_a_bad_own_rule_fails_naming_its_place_and_value(rule, message):
    with pytest.raises(e.EventsConfigError) as failed:
        e.config(CATALOG, settings(rules=[rule]))
    assert message in str(failed.value)


def test_an_own_mail_rule_without_a_relay_fails():
    rule = {"name": "m", "on": "kompose/system/health/check", "do": {"kind": "mail", "to": "a@b.c", "subject": "s", "body": "b"}}
    with pytest.raises(e.EventsConfigError, match=r"events_rules\[0\]\.do\.kind: 'mail', but there is no mail relay"):
        e.config(CATALOG, settings(rules=[rule], smtp_host=""))


def test_an_unknown_default_rule_and_bad_credentials_fail():
    with pytest.raises(e.EventsConfigError, match=r"events_default_rules\[1\]: 'nope' is not a default rule"):
        e.config(CATALOG, settings(default_rules=["vault-failure-to-gotify", "nope"]))
    with pytest.raises(e.EventsConfigError, match=r"events_credentials\.tok: needs a header and a value"):
        e.config(CATALOG, settings(credentials={"tok": {"header": "X"}}))
    with pytest.raises(e.EventsConfigError, match=r"events_credentials\.tok\.extra: not a key"):
        e.config(CATALOG, settings(credentials={"tok": {"header": "X", "value": "v", "extra": 1}}))
    with pytest.raises(e.EventsConfigError, match=r"events_credentials\.tok\.value: must be a string of one line") as failed:
        e.config(CATALOG, settings(credentials={"tok": {"header": "X", "value": "it's"}}))
    assert "it's" not in str(failed.value)


def test_the_filter_wraps_the_errors():
    with pytest.raises(Exception, match=r"pivoine.kompose.events_config: events_default_rules\[0\]"):
        FilterModule().filters()["events_config"](CATALOG, settings(default_rules=["nope"]))


def test_a_publish_rule_needs_the_engine_broker_user_to_be_allowed_the_topic():
    rule = {"name": "p", "on": "kompose/vault/security/failed",
            "do": {"kind": "publish", "topic": "kompose/system/health/check", "data": {"check": "vault", "status": "fail"}}}
    expected = (r"events_rules\[0\]\.do\.topic: 'kompose/system/health/check' is not a topic "
                r"the engine's broker user may publish \(kompose/automation/#\): add it")
    with pytest.raises(e.EventsConfigError, match=expected):
        e.config(CATALOG, settings(rules=[rule]))
    catalog = copy.deepcopy(CATALOG)
    catalog["events"]["mqtt"]["publish"].append("kompose/system/health/check")
    assert e.config(catalog, settings(rules=[rule]))["config"]["rules"][-1]["name"] == "p"


DB_CATALOG = dict(CATALOG, **{
    "postgres": {"stack": "core", "container": "core-postgres", "port": 5432},
    "linkwarden": {"stack": "link", "container": "link_app", "port": 3000, "postgres": {"database": "linkwarden"},
                   "health": {"path": "/"}},
    "letterspace": {"stack": "news", "container": "news_backend", "port": 5000, "fqdn": "news.example.org",
                    "postgres": {"database": "letterspace"}},
    "link_events": {"stack": "link", "container": "link_events", "port": 9100, "mqtt": {"publish": ["kompose/linkwarden/#"]},
                    "redis": {"keys": ["events:linkwarden:*"]}, "postgres": {"database": None, "owner": "link_events"}},
    "news_events": {"stack": "news", "container": "news_events", "port": 9100, "mqtt": {"publish": ["kompose/news/#"]},
                    "redis": {"keys": ["events:letterspace:*"]}, "postgres": {"database": None, "owner": "news_events"}},
    "events_probe": {"stack": "events", "mqtt": {"publish": ["kompose/system/health/#"]}},
})
DB_SETTINGS = {"polling": {"interval": 1.0, "settle_seconds": 2, "batch": 50}, "probe": {"interval": 60.0, "timeout": 5.0},
               "sources": {"letterspace": {"article_url": ""}}}


def test_a_database_source_reads_its_apps_database_as_its_own_login():
    setup = e.config(DB_CATALOG, settings(**DB_SETTINGS))
    link = setup["sidecars"]["link_events"]
    source = link["config"]["sources"][0]
    assert source["kind"] == "linkwarden-db"
    assert source["database"] == {"host": "core-postgres", "port": 5432, "dbname": "linkwarden", "user": "link_events",
                                  "password_env": "EVENTS_DB"}
    assert (source["interval"], source["settle_seconds"], source["batch"]) == (1.0, 2, 50)
    assert link["secrets"] == {"EVENTS_MQTT": "mqtt-link_events", "EVENTS_REDIS": "redis-link_events", "EVENTS_DB": "postgres-link_events"}
    assert link["config"]["redis"]["prefix"] == "events:linkwarden:"
    # LetterSpace has no public page of a campaign: its dashboard's, unless the inventory names one
    news = setup["sidecars"]["news_events"]["config"]["sources"][0]
    assert news["article_url"] == "https://news.example.org/dashboard/campaigns/{id}"
    own = dict(DB_SETTINGS)
    own["sources"] = {"letterspace": {"article_url": "https://blog.example.org/{id}"}}
    assert e.config(DB_CATALOG, settings(**own))["sidecars"]["news_events"]["config"]["sources"][0]["article_url"] == \
        "https://blog.example.org/{id}"


def test_the_probe_checks_the_services_the_rules_call_that_have_a_health_path():
    setup = e.config(DB_CATALOG, settings(**DB_SETTINGS))
    probe = [source for source in setup["config"]["sources"] if source["kind"] == "health-probe"][0]
    assert probe["targets"] == [{"check": "events-target-linkwarden", "service": "linkwarden", "url": "http://link_app:3000/"}]
    assert (probe["interval"], probe["timeout"]) == (60.0, 5.0)
    assert setup["secrets"]["EVENTS_MQTT_PROBE"] == "mqtt-events_probe"


def test_column_grants_come_from_the_mappings():
    grants = e.column_grants(DB_CATALOG)
    assert [(grant["database"], grant["role"]) for grant in grants] == [("linkwarden", "link_events"), ("letterspace", "news_events")]
    link = grants[0]["tables"]
    assert "textContent" not in link["Link"] and "url" in link["Link"]
    assert link["User"] == ["id"]
    # a source whose app is not enabled grants nothing
    assert e.column_grants({k: v for k, v in DB_CATALOG.items() if k != "letterspace"})[-1]["role"] == "link_events"


def test_subnets_and_sidecar_files():
    networks = [{"subnet": "172.16.1.0/27", "members": ["events", "umami"]}, {"subnet": "172.16.2.0/27", "members": ["events"]}]
    assert e.subnets(networks) == {"events": ["172.16.1.0/27", "172.16.2.0/27"], "umami": ["172.16.1.0/27"]}
    sidecars = e.config(DB_CATALOG, settings(**DB_SETTINGS))["sidecars"]
    secrets = {name: "v-" + name for name in ["mqtt-link_events", "redis-link_events", "postgres-link_events", "mqtt-news_events",
                                              "redis-news_events", "postgres-news_events", "mqtt-vault_events", "redis-vault_events"]}
    files = e.sidecar_files(sidecars, secrets)
    assert [item["path"] for item in files["link_events"]] == ["events/config.json", "events/events.env"]
    assert json.loads(files["link_events"][0]["content"]) == sidecars["link_events"]["config"]
    env = files["link_events"][1]
    assert env["mode"] == "0600" and env["secret"]
    assert "EVENTS_DB='v-postgres-link_events'\n" in env["secret_content"]
    del secrets["postgres-news_events"]
    with pytest.raises(e.EventsConfigError, match="secret postgres-news_events of service news_events is missing"):
        e.sidecar_files(sidecars, secrets)
