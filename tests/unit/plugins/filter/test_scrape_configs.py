from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.filter.scrape_configs import FilterModule

filters = FilterModule().filters()
CATALOG = {"prometheus": {"stack": "watch", "name": "prometheus", "container": "watch_prometheus", "port": 9090, "metrics": {}}}


def test_filters_are_wired():
    assert filters["scrape_configs"](CATALOG)[0]["job_name"] == "prometheus"
    assert filters["alert_rules"](CATALOG)["groups"][0]["rules"][0]["alert"] == "TargetDown"
    system = {"uid": "kompose-system", "title": "System",
              "panels": [{"title": "Up", "type": "stat", "unit": "none", "queries": [{"expr": "up", "legend": "up"}]}]}
    assert [d["path"] for d in filters["grafana_dashboards"](CATALOG, [system])] == ["dashboards/kompose-system.json"]


@pytest.mark.parametrize("name,args,kwargs,message", [
    ("scrape_configs", ({"x": {"stack": "watch", "metrics": {}}},), {}, "kompose_services.x.metrics.target"),
    ("scrape_configs", (["not", "a", "mapping"],), {}, "expected the resolved catalog"),
    ("alert_rules", (CATALOG,), {"thresholds": {"nope": 1}}, "unknown key(s) nope"),
])
def test_errors_name_the_plugin(name, args, kwargs, message):
    with pytest.raises(AnsibleFilterError) as exc:
        filters[name](*args, **kwargs)
    assert str(exc.value).startswith("pivoine.kompose.%s: " % name)
    assert message in str(exc.value)
