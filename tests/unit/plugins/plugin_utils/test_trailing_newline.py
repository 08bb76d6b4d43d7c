"""Every validated value refuses a trailing newline (the patterns end in `$`, which also matches before a
final newline: they are applied as full matches)."""
from __future__ import annotations

import pytest

from ansible_collections.pivoine.kompose.plugins.module_utils import _redis as r
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog as c
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _monitoring as m
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _secrets as s
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _status

REGISTRY = [{"name": "core", "requires": []}]
APP = {"stack": "core", "container": "app", "image": "app:1", "port": 80, "host": "app"}


def resolve(entry, images=None, domain="pivoine.art"):
    return c.resolve({}, ["core"], domain, images=images, overrides={"app": dict(APP, **entry)}, registry=REGISTRY)


@pytest.mark.parametrize("entry,key", [
    ({"host": "app\n"}, "kompose_services.app.host"),
    ({"host": "app.example.org\n"}, "kompose_services.app.host"),
    ({"container": "app\n"}, "kompose_services.app.container"),
    ({"postgres": {"database": "app\n"}}, "kompose_services.app.postgres.database"),
    ({"postgres": {"owner": "app\n"}}, "kompose_services.app.postgres.owner"),
    ({"postgres": {"roles": ["pg_monitor\n"]}}, "kompose_services.app.postgres.roles"),
    ({"postgres": {"reads": ["other\n"]}}, "kompose_services.app.postgres.reads"),
    ({"postgres": {"extensions": ["pgcrypto\n"]}}, "kompose_services.app.postgres.extensions"),
    ({"redis": {"user": "app\n"}}, "kompose_services.app.redis.user"),
    ({"mqtt": {"user": "app\n"}}, "kompose_services.app.mqtt.user"),
    ({"metrics": {"target": "app:9100\n"}}, "kompose_services.app.metrics.target"),
    ({"metrics": {"path": "/metrics\n"}}, "kompose_services.app.metrics.path"),
    ({"health": {"path": "/health\n"}}, "kompose_services.app.health.path"),
    ({"oidc": {"client_id": "app\n"}, "secrets": {"oidc": {}}}, "kompose_services.app.oidc.client_id"),
    ({"oidc": {"secret": "oidc\n"}, "secrets": {"oidc": {}}}, "kompose_services.app.oidc.secret"),
    ({"secrets": {"token\n": {}}}, "kompose_services.app.secrets"),
    ({"paths": [{"name": "admin\n", "prefixes": ["/admin"], "middleware": "public"}]}, "kompose_services.app.paths[0].name"),
    ({"paths": [{"name": "admin", "prefixes": ["/admin\n"], "middleware": "public"}]}, "kompose_services.app.paths[0].prefixes"),
    ({"paths": [{"name": "admin", "exact": ["/admin\n"], "middleware": "public"}]}, "kompose_services.app.paths[0].exact"),
    ({"gotify": ["alerts\n"]}, "kompose_services.app.gotify: 'alerts\\n' is not a Gotify application name"),
    ({"volumes": ["app-data\n"]}, "kompose_services.app.volumes"),
    ({"needs": ["other\n"]}, "kompose_services.app.needs: 'other\\n' is not a service name"),
    ({"calls": ["other\n"]}, "kompose_services.app.calls"),
])
def test_catalog_keys_refuse_a_trailing_newline(entry, key):
    """``key``: how the message starts (the key, and for a few the value and the cause)."""
    with pytest.raises(c.CatalogError) as exc:
        resolve(entry)
    assert str(exc.value).startswith(key)


def test_catalog_names_refuse_a_trailing_newline():
    with pytest.raises(c.CatalogError, match=r"^kompose_domain: 'pivoine.art\\n' is not a DNS domain name"):
        resolve({}, domain="pivoine.art\n")
    with pytest.raises(c.CatalogError, match=r"^kompose_images.app: 'app:1\\n' is not a valid image reference"):
        resolve({}, images={"app": "app:1\n"})
    with pytest.raises(c.CatalogError, match=r"service name 'app\\n' must match"):
        c.resolve({}, ["core"], "pivoine.art", overrides={"app\n": APP}, registry=REGISTRY)
    # a secret name made of a valid purpose and a user name: the user name is refused first, so check the store's rule
    with pytest.raises(s.SecretError, match=r"secret name 'app\\n' must match"):
        s.normalise_spec("app\n")


@pytest.mark.parametrize("entry,key", [
    ({"metrics": {"target": "app:9100\n"}}, "kompose_services.app.metrics.target"),
    ({"metrics": {"path": "/metrics\n"}}, "kompose_services.app.metrics.path"),
    ({"health": {"path": "/health\n"}}, "kompose_services.app.health"),
])
def test_monitoring_refuses_a_trailing_newline(entry, key):
    catalog = {"app": dict(APP, name="app", **entry),
               "blackbox_exporter": {"stack": "core", "name": "blackbox_exporter", "container": "bb", "port": 9115}}
    with pytest.raises(m.MonitoringError, match="^" + key.replace(".", r"\.")):
        m.scrape_configs(catalog)


def test_monitoring_settings_refuse_a_trailing_newline():
    with pytest.raises(m.MonitoringError, match=r"down_for '2m\\n' is not a Prometheus duration"):
        m.alert_rules({}, thresholds={"down_for": "2m\n"})
    panel = {"title": "x", "type": "stat", "unit": "none", "queries": [{"expr": "up", "legend": "up"}]}
    dashboard = {"uid": "app\n", "title": "App", "panels": [panel]}
    with pytest.raises(m.MonitoringError, match=r"dashboards\[0\].uid: 'app\\n' is not a dashboard uid"):
        m.grafana_dashboards({}, [dashboard])


@pytest.mark.parametrize("params,message", [
    ({"password_hashes": ["a" * 64 + "\n"]}, "password_hashes"),
    ({"keys": ["app:*\n"]}, "keys"),
    ({"commands": ["+@all\n"]}, "commands"),
])
def test_redis_acl_options_refuse_a_trailing_newline(params, message):
    with pytest.raises(ValueError, match="^" + message):
        r.desired_user(params)


def test_status_reads_only_whole_time_stamps():
    with pytest.raises(_status.StatusError):
        _status._utc("2026-12-04T10:00:00Z\n")
    assert _status.backup_line(["20261204T100000Z\n"], "/backups", 0) == "last backup: none in /backups"
