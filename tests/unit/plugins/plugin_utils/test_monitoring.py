from __future__ import annotations

import copy
import json
import pathlib

import pytest
import yaml

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog, _monitoring as m

CATALOG = {
    "postgres": {"stack": "core", "container": "core-postgres", "image": "postgres:16", "port": 5432},
    "redis": {"stack": "core", "container": "core-redis", "image": "redis:7", "port": 6379},
    "mqtt": {"stack": "core", "container": "core-mqtt", "image": "eclipse-mosquitto:2", "port": 1883},
    "system": {"stack": "core", "mqtt": {"publish": ["kompose/system/#"]}},
    "prometheus": {"stack": "watch", "container": "watch_prometheus", "image": "prom/prometheus:v3", "port": 9090,
                   "host": "prometheus", "metrics": {}},
    "postgres_exporter": {"stack": "watch", "container": "watch_postgres_exporter", "image": "pe:1", "port": 9187, "metrics": {}},
    "redis_exporter": {"stack": "watch", "container": "watch_redis_exporter", "image": "re:1", "port": 9121, "metrics": {}},
    "node_exporter": {"stack": "watch", "container": "watch_node_exporter", "image": "ne:1", "port": 9100, "metrics": {}},
    "blackbox_exporter": {"stack": "watch", "container": "watch_blackbox_exporter", "image": "bb:1", "port": 9115, "metrics": {}},
    "linkwarden": {"stack": "link", "container": "link_app", "image": "lw:2", "port": 3000, "host": "links",
                   "metrics": {"target": "link_metrics:9100"}},
    "umami": {"stack": "track", "container": "track_app", "image": "umami:2", "port": 3000, "host": "analytics",
              "metrics": {"path": "/api/metrics"}},
    "vaultwarden": {"stack": "vault", "container": "vault_app", "image": "vw:1", "port": 80, "host": "vault", "metrics": {}},
    "gotify": {"stack": "messaging", "container": "messaging_gotify", "image": "gotify:2", "port": 80, "host": "gotify"},
}
KNOWN = ["core", "link", "messaging", "track", "vault", "watch"]


ROOT = pathlib.Path(__file__).resolve().parents[4]


class _VarsLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads the stacks' vars files as Ansible does, `!unsafe` strings included."""


_VarsLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def shipped_dashboards():
    """The dashboards the stacks declare beside their catalog (roles/kompose/vars/main/<stack>.yml)."""
    out = []
    for path in sorted((ROOT / "roles" / "kompose" / "vars" / "main").glob("*.yml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_VarsLoader) or {}  # nosec B506 - a SafeLoader
        out += [spec for key, value in data.items() if key.startswith("__kompose_dashboards_") for spec in value]
    return out


DASHBOARDS = sorted(shipped_dashboards(), key=lambda spec: spec["uid"])


def resolve(stacks, overrides=None):
    return _catalog.resolve(CATALOG, stacks, "pivoine.art", overrides=overrides, registry=[{"name": s} for s in KNOWN])


def jobs(catalog, **kwargs):
    return {job["job_name"]: job for job in m.scrape_configs(catalog, **kwargs)}


def targets(job):
    return [t for group in job["static_configs"] for t in group["targets"]]


# --- scrape jobs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("stacks,expected", [
    (["core"], []),
    (["core", "watch"], ["blackbox_exporter", "node_exporter", "postgres_exporter", "prometheus", "redis_exporter", "blackbox_https",
                         "blackbox_tcp"]),
    (["core", "watch", "link", "track", "vault"],
     ["blackbox_exporter", "linkwarden", "node_exporter", "postgres_exporter", "prometheus", "redis_exporter", "umami",
      "vaultwarden", "blackbox_https", "blackbox_tcp"]),
])
def test_jobs_exist_only_for_enabled_stacks(stacks, expected):
    assert [job["job_name"] for job in m.scrape_configs(resolve(stacks))] == expected


@pytest.mark.parametrize("service,target,path", [
    ("prometheus", "watch_prometheus:9090", None),         # default: container:port, /metrics
    ("linkwarden", "link_metrics:9100", None),             # a metrics sidecar
    ("umami", "track_app:3000", "/api/metrics"),           # another path
    ("vaultwarden", "vault_app:80", None),
])
def test_metrics_targets_and_paths(service, target, path):
    job = jobs(resolve(KNOWN))[service]
    assert targets(job) == [target]
    assert job.get("metrics_path") == path
    assert job["static_configs"][0]["labels"] == {"service": service, "stack": CATALOG[service]["stack"]}


def test_service_without_metrics_gets_no_job_but_a_probe():
    out = jobs(resolve(KNOWN))
    assert "gotify" not in out and "postgres" not in out
    assert "gotify.pivoine.art" in targets(out["blackbox_https"])
    assert "core-postgres:5432" in targets(out["blackbox_tcp"])


def test_probes_https_for_routed_hosts_tcp_for_unscraped_internal_services():
    out = jobs(resolve(KNOWN))
    # in the order of the service names: gotify, linkwarden, prometheus, umami, vaultwarden
    assert targets(out["blackbox_https"]) == ["gotify.pivoine.art", "links.pivoine.art", "prometheus.pivoine.art",
                                              "analytics.pivoine.art", "vault.pivoine.art"]
    # exporters are scraped on their own socket already: no TCP probe for them
    assert targets(out["blackbox_tcp"]) == ["core-mqtt:1883", "core-postgres:5432", "core-redis:6379"]


def test_health_endpoints_are_probed_over_http_inside_the_network():
    out = jobs(resolve(KNOWN, overrides={
        "vaultwarden": {"health": {"path": "/alive"}},
        "gotify": {"health": {"path": "/health", "port": 8080}},
        "postgres": {"health": {"path": "/ready"}},
    }))
    job = out["blackbox_health"]
    assert job["params"] == {"module": ["http_health"]}
    assert targets(job) == ["http://messaging_gotify:8080/health", "http://core-postgres:5432/ready", "http://vault_app:80/alive"]
    # a health endpoint replaces the TCP probe of an internal service
    assert "core-postgres:5432" not in targets(out["blackbox_tcp"])
    assert "blackbox_health" not in jobs(resolve(KNOWN))


def test_probe_relabelling():
    job = jobs(resolve(KNOWN))["blackbox_https"]
    assert job["metrics_path"] == "/probe" and job["params"] == {"module": ["http_2xx"]}
    assert job["relabel_configs"] == [
        {"source_labels": ["__address__"], "target_label": "__param_target", "replacement": "https://$1"},
        {"source_labels": ["__param_target"], "target_label": "instance"},
        {"target_label": "__address__", "replacement": "watch_blackbox_exporter:9115"},
    ]
    assert jobs(resolve(KNOWN))["blackbox_tcp"]["relabel_configs"][0]["replacement"] == "$1"


def test_not_routed_means_no_https_probes():
    assert "blackbox_https" not in jobs(resolve(KNOWN), routed=False)


def test_disabled_prober_means_no_probes():
    out = jobs(resolve(KNOWN, overrides={"blackbox_exporter": {"enabled": False}}))
    assert not {"blackbox_https", "blackbox_tcp", "blackbox_exporter"} & set(out)


@pytest.mark.parametrize("overrides,expected", [
    ({"linkwarden": {"enabled": False}}, lambda out: "linkwarden" not in out and "links.pivoine.art" not in targets(out["blackbox_https"])),
    ({"vaultwarden": {"metrics": {"target": "vault_metrics:9000", "path": "/m", "scheme": "https"}}},
     lambda out: targets(out["vaultwarden"]) == ["vault_metrics:9000"] and out["vaultwarden"]["metrics_path"] == "/m"
     and out["vaultwarden"]["scheme"] == "https"),
    ({"grocy": {"stack": "link", "container": "grocy", "image": "grocy:4", "port": 80, "metrics": {}}},
     lambda out: targets(out["grocy"]) == ["grocy:80"]),
    ({"gotify": {"metrics": {}}}, lambda out: targets(out["gotify"]) == ["messaging_gotify:80"]),
    # a metrics listener of its own (Mailpit's, apart from the UI it guards with a password)
    ({"gotify": {"metrics": {"port": 9091}}}, lambda out: targets(out["gotify"]) == ["messaging_gotify:9091"]),
])
def test_overrides(overrides, expected):
    assert expected(jobs(resolve(KNOWN, overrides=overrides)))


@pytest.mark.parametrize("entry,message", [
    ({"stack": "link", "metrics": {}}, "kompose_services.bad.metrics.target: service 'bad' has no container and port"),
    ({"stack": "link", "container": "x", "port": 1, "metrics": {"target": "http://x:1"}}, "kompose_services.bad.metrics.target: 'http://x:1' is not host:port"),
    ({"stack": "link", "container": "x", "port": 1, "metrics": {"target": "x:99999"}}, "'x:99999' is not host:port"),
    ({"stack": "link", "container": "x", "port": 1, "metrics": {"path": "metrics"}},
     "kompose_services.bad.metrics.path: 'metrics' is not an absolute URL path"),
    ({"stack": "link", "container": "x", "port": 1, "metrics": {"scheme": "ftp"}}, "kompose_services.bad.metrics.scheme: 'ftp' is neither http nor https"),
    ({"stack": "link", "container": "x", "port": 1, "metrics": {"url": "/"}}, "kompose_services.bad.metrics: unknown key(s) url"),
    ({"stack": "link", "container": "x", "port": 1, "metrics": "yes"}, "kompose_services.bad.metrics: expected a mapping"),
])
def test_bad_metrics_entries_name_the_service(entry, message):
    catalog = {"bad": dict(entry, name="bad")}
    with pytest.raises(m.MonitoringError) as exc:
        m.scrape_configs(catalog)
    assert message in str(exc.value)


def test_input_is_not_mutated():
    catalog = resolve(KNOWN)
    before = copy.deepcopy(catalog)
    m.scrape_configs(catalog)
    m.alert_rules(catalog)
    m.grafana_dashboards(catalog, DASHBOARDS)
    assert catalog == before


# --- alert rules ---------------------------------------------------------------------------------

def alerts(catalog, **kwargs):
    return {rule["alert"]: rule for group in m.alert_rules(catalog, **kwargs)["groups"] for rule in group["rules"]}


@pytest.mark.parametrize("stacks,overrides,present,absent", [
    (["core", "watch"], None,
     ["TargetDown", "ProbeFailing", "CertificateExpiring", "PostgresDown", "PostgresTooManyConnections", "RedisDown",
      "RedisMemoryNearMaxmemory", "MQTTBrokerDown", "HostDiskPressure", "HostMemoryPressure", "BackupTooOld", "TooManyFailedLogins"], []),
    (["core"], None, ["TargetDown", "BackupTooOld", "TooManyFailedLogins"],
     ["ProbeFailing", "PostgresDown", "RedisDown", "MQTTBrokerDown", "HostDiskPressure"]),
    (["core", "watch"], {"postgres_exporter": {"enabled": False}, "node_exporter": {"enabled": False}},
     ["RedisDown"], ["PostgresDown", "PostgresTooManyConnections", "HostDiskPressure", "HostMemoryPressure"]),
    (["core", "watch"], {"blackbox_exporter": {"enabled": False}}, ["PostgresDown"], ["ProbeFailing", "MQTTBrokerDown"]),
])
def test_rules_follow_the_catalog(stacks, overrides, present, absent):
    out = alerts(resolve(stacks, overrides))
    assert set(present) <= set(out)
    assert not set(absent) & set(out)


def test_every_rule_has_severity_category_and_annotations():
    for rule in alerts(resolve(KNOWN)).values():
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["labels"]["category"]
        assert set(rule["annotations"]) == {"summary", "description", "priority"}


def test_security_rule_is_the_seeds():
    rule = alerts(resolve(KNOWN))["TooManyFailedLogins"]
    assert rule["labels"] == {"severity": "critical", "category": "security"}
    assert rule["expr"] == ("sum by (job, instance) ((failed_logins_total unless failed_logins_total offset 5m)"
                            " or increase(failed_logins_total[5m])) > 10")


def test_mqtt_rule_uses_the_probe_and_the_exporter():
    catalog = resolve(["core", "watch"], {"mqtt_exporter": {"stack": "watch", "container": "watch_mqtt_exporter", "image": "me:1",
                                                            "port": 9000, "metrics": {}}})
    assert alerts(catalog)["MQTTBrokerDown"]["expr"] == 'probe_success{job="blackbox_tcp", service="mqtt"} == 0 or up{job="mqtt_exporter"} == 0'


def test_thresholds():
    out = alerts(resolve(KNOWN), thresholds={"failed_logins": 20, "down_for": "5m", "redis_memory_ratio": 0.75, "backup_max_age_seconds": 3600})
    assert out["TooManyFailedLogins"]["expr"].endswith("> 20")
    assert out["TargetDown"]["for"] == "5m"
    assert out["RedisMemoryNearMaxmemory"]["expr"].endswith("> 0.75")
    assert out["BackupTooOld"]["expr"] == "time() - kompose_backup_last_success_timestamp_seconds > 3600"


@pytest.mark.parametrize("thresholds,message", [
    ({"failed_login": 3}, "unknown key(s) failed_login"),
    ({"down_for": "two minutes"}, "down_for 'two minutes' is not a Prometheus duration"),
    ({"failed_logins": 0}, "failed_logins 0 is not a positive number"),
    ({"failed_logins": True}, "failed_logins True is not a positive number"),
    ({"disk_free_ratio": 10}, "disk_free_ratio 10 must be a ratio below 1"),
])
def test_bad_thresholds(thresholds, message):
    with pytest.raises(m.MonitoringError, match=r".*" + message.replace("(", r"\(").replace(")", r"\)")):
        m.alert_rules(resolve(KNOWN), thresholds=thresholds)


# --- dashboards ----------------------------------------------------------------------------------

def dashboards(catalog):
    return {item["path"]: json.loads(item["content"]) for item in m.grafana_dashboards(catalog, DASHBOARDS, directory="grafana/dashboards/")}


def test_dashboards_follow_the_catalog():
    assert sorted(dashboards(resolve(["core", "watch"]))) == [
        "grafana/dashboards/kompose-mqtt.json", "grafana/dashboards/kompose-postgres.json", "grafana/dashboards/kompose-redis.json",
        "grafana/dashboards/kompose-system.json"]
    assert sorted(dashboards(resolve(["core"]))) == ["grafana/dashboards/kompose-system.json"]
    # one per app stack that is enabled
    assert sorted(dashboards(resolve(KNOWN))) == [
        "grafana/dashboards/kompose-content-pipeline.json", "grafana/dashboards/kompose-link.json",
        "grafana/dashboards/kompose-messaging.json", "grafana/dashboards/kompose-mqtt.json",
        "grafana/dashboards/kompose-postgres.json", "grafana/dashboards/kompose-redis.json", "grafana/dashboards/kompose-system.json",
        "grafana/dashboards/kompose-track.json", "grafana/dashboards/kompose-vault.json"]


def test_app_dashboards_show_only_panels_whose_service_is_enabled():
    vault = dashboards(resolve(KNOWN))["grafana/dashboards/kompose-vault.json"]
    # no vault_metrics sidecar and no traefik in this catalog: only the probe panel
    assert [panel["title"] for panel in vault["panels"]] == ["Health probe"]
    assert vault["panels"][0]["targets"][0]["expr"] == 'probe_success{job="blackbox_health", service="vaultwarden"}'


def test_system_dashboard_panels_and_layout():
    model = dashboards(resolve(["core", "watch"]))["grafana/dashboards/kompose-system.json"]
    titles = [panel["title"] for panel in model["panels"]]
    assert "Targets up" in titles and "Host CPU busy" in titles
    assert "Container CPU" not in titles  # cAdvisor is not in this catalog
    assert [p["id"] for p in model["panels"]] == list(range(1, len(titles) + 1))
    for panel in model["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
    assert model["uid"] == "kompose-system" and model["title"] == "System Overview"


def test_every_stack_declares_its_dashboards():
    assert sorted(spec["uid"] for spec in DASHBOARDS) == [
        "kompose-content-pipeline", "kompose-events", "kompose-link", "kompose-messaging", "kompose-mqtt", "kompose-news",
        "kompose-postgres", "kompose-redis", "kompose-system", "kompose-track", "kompose-vault"]


def _bad(mutate):
    specs = copy.deepcopy(DASHBOARDS[:1])
    mutate(specs[0])
    return specs


@pytest.mark.parametrize("specs,message", [
    ("nope", "dashboards: expected a list of dashboards, got 'nope'"),
    ([{"uid": "x", "title": "X"}], "dashboards[0]: {'uid': 'x', 'title': 'X'} is not a mapping with uid, title, panels"),
    (_bad(lambda d: d.update(uid="Bad uid")), "dashboards[0].uid: 'Bad uid' is not a dashboard uid"),
    (_bad(lambda d: d.update(title=" ")), "dashboards[kompose-content-pipeline].title: ' ' is not a non-empty string"),
    (_bad(lambda d: d.update(requires="umami")), "dashboards[kompose-content-pipeline].requires: 'umami' is not a list of service names"),
    (_bad(lambda d: d.update(panels=[])), "dashboards[kompose-content-pipeline].panels: [] is not a non-empty list of panels"),
    (_bad(lambda d: d["panels"][0].update(type="pie")), "dashboards[kompose-content-pipeline].panels[0].type: 'pie' is not one of stat"),
    (_bad(lambda d: d["panels"][1].update(needs=["traefik"])), "panels[1].needs: ['traefik'] is not a service name"),
    (_bad(lambda d: d["panels"][0].update(queries=[{"expr": "up"}])), "panels[0].queries[0]: {'expr': 'up'} is not a mapping with expr, legend"),
    (_bad(lambda d: d["panels"][0]["queries"][0].update(expr="")), "panels[0].queries[0].expr: '' is not a non-empty string"),
    (DASHBOARDS[:1] * 2, "dashboards: uid kompose-content-pipeline declared twice"),
])
def test_bad_dashboard_specs_name_the_dashboard_and_key(specs, message):
    with pytest.raises(m.MonitoringError) as exc:
        m.grafana_dashboards(resolve(KNOWN), specs)
    assert message in str(exc.value)


def test_a_tcp_routed_service_is_probed_over_tcp_not_https():
    from ansible_collections.pivoine.kompose.plugins.plugin_utils._monitoring import scrape_configs
    catalog = {
        "mqtt": {"stack": "core", "container": "core-mqtt", "port": 1883, "host": "mqtt", "fqdn": "mqtt.example.org", "tcp": 8883},
        "blackbox_exporter": {"stack": "watch", "container": "watch_blackbox_exporter", "port": 9115, "metrics": {}},
    }
    jobs = {job["job_name"]: job for job in scrape_configs(catalog)}
    targets = {job: [t for sc in jobs[job]["static_configs"] for t in sc["targets"]] for job in jobs if job != "blackbox_exporter"}
    assert all("mqtt.example.org" not in found for found in targets.values())
    assert ["core-mqtt:1883"] in targets.values()


def test_event_engine_rules_only_with_the_engine():
    engine = {"events": {"stack": "watch", "container": "events_engine", "image": "kompose-local/events", "port": 9100, "metrics": {}}}
    with_engine = alerts(resolve(["core", "watch"], engine))
    assert {"EventsBrokerDisconnected", "EventsRuleFailing", "EventsParked", "EventsSourceLagging"} <= set(with_engine)
    assert with_engine["EventsRuleFailing"]["expr"] == "kompose_events_rule_consecutive_failures >= 3"
    assert with_engine["EventsBrokerDisconnected"]["labels"] == {"severity": "critical", "category": "events"}
    assert not {name for name in alerts(resolve(["core", "watch"])) if name.startswith("Events")}
