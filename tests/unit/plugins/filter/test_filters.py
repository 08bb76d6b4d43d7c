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
    resolved = catalog_filters["catalog"]({"system": {"stack": "core", "mqtt": {"publish": ["kompose/system/#"]}}},
                                          stacks=["core"], domain="kompose.test")
    assert catalog_filters["catalog_mqtt_users"](resolved)[0]["name"] == "system"
    assert catalog_filters["catalog_secrets"](resolved) == [{"name": "mqtt-system"}]
    assert catalog_filters["catalog_databases"](resolved) == []
    assert catalog_filters["catalog_redis_users"](resolved) == []


def test_mosquitto_passwd_filter():
    assert mosquitto_passwd("pw", "alice").startswith("$7$101$")
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.mosquitto_passwd: username 'a b'"):
        mosquitto_passwd("pw", "a b")
