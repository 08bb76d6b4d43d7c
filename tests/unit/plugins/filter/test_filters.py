from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.filter.catalog import FilterModule as CatalogFilters
from ansible_collections.pivoine.kompose.plugins.filter.mosquitto_passwd import FilterModule as MosquittoFilters

catalog_filters = CatalogFilters().filters()
mosquitto_passwd = MosquittoFilters().filters()["mosquitto_passwd"]


def test_catalog_filter_errors_name_the_plugin():
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.catalog: kompose_domain: 'x' is not a DNS domain name"):
        catalog_filters["catalog"]({}, stacks=["core"], domain="x")


def test_catalog_filters_are_wired():
    resolved = catalog_filters["catalog"]({"mqtt": {"stack": "core"},
                                           "system": {"stack": "core", "mqtt": {"publish": ["kompose/system/#"]}}},
                                          stacks=["core"], domain="kompose.test")
    assert catalog_filters["catalog_mqtt_users"](resolved)[0]["name"] == "system"
    assert catalog_filters["catalog_secrets"](resolved) == [{"name": "mqtt-system"}]
    assert catalog_filters["catalog_databases"](resolved) == []
    assert catalog_filters["catalog_redis_users"](resolved) == []


KEY = "k" * 16 + "-site-one"


def test_mosquitto_passwd_filter():
    line = mosquitto_passwd("pw", "alice", salt_key=KEY)
    assert line.startswith("$7$101$")
    assert line == mosquitto_passwd("pw", "alice", salt_key=KEY)
    assert line != mosquitto_passwd("pw", "alice", salt_key=KEY + "2")
    assert line == mosquitto_passwd("pw", "alice", salt=line.split("$")[3])
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.mosquitto_passwd: username 'a b'"):
        mosquitto_passwd("pw", "a b", salt_key=KEY)


@pytest.mark.parametrize("kwargs,message", [
    (dict(), "salt_key is required (the per-site secret kompose-hash-key)"),
    (dict(salt_key="hunter2-key"), "salt_key is too short: it needs at least 16 characters"),
    (dict(salt_key=KEY, salt="AAECAwQFBgcICQoL"), "salt_key and salt are mutually exclusive"),
])
def test_mosquitto_passwd_filter_key_errors(kwargs, message):
    with pytest.raises(AnsibleFilterError) as info:
        mosquitto_passwd("top-secret-pw", "alice", **kwargs)
    assert str(info.value) == "pivoine.kompose.mosquitto_passwd: " + message
    assert "hunter2" not in str(info.value) and "top-secret" not in str(info.value)
