"""Custom stacks (kompose_custom_stacks): declared, validated, resolved in the catalog, rendered."""
from __future__ import annotations

import copy

import pytest
import yaml

from ansible_collections.pivoine.kompose.plugins.filter.custom import FilterModule
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog as c
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _custom as u

BUILTIN = {
    "postgres": {"stack": "core", "container": "core-postgres", "port": 5432, "image": "postgres:17"},
    "redis": {"stack": "core", "container": "core-redis", "port": 6379, "image": "redis:8"},
    "mqtt": {"stack": "core", "container": "core-mqtt", "port": 1883, "image": "eclipse-mosquitto:2"},
    "traefik": {"stack": "proxy", "container": "proxy_app", "port": 80, "image": "traefik:v3"},
    "keycloak": {"stack": "auth", "container": "auth_keycloak", "port": 8080, "host": "auth", "image": "keycloak:26"},
    "linkwarden": {"stack": "link", "container": "link_app", "port": 3000, "image": "linkwarden:2", "postgres": {}},
}
BUILTIN_REGISTRY = [{"name": name, "requires": []} for name in ("core", "proxy", "auth", "link")]
MINIFLUX = {
    "image": "kompose-lab/miniflux:2",
    "port": 8080,
    "host": "rss",
    "middleware": "public",
    "postgres": {},
    "oidc": {"redirect_paths": ["/oauth2/oidc/callback"]},
    "secrets": {"oidc": {}, "admin": {"length": 24}},
    "metrics": {},
    "health": {"path": "/healthcheck"},
    "environment": {
        "DATABASE_URL": {"ref": "postgres.url"},
        "RUN_MIGRATIONS": 1,
        "CREATE_ADMIN": True,
        "ADMIN_PASSWORD": {"ref": "secrets.admin"},
        "OAUTH2_CLIENT_ID": {"ref": "oidc.client_id"},
        "OAUTH2_CLIENT_SECRET": {"ref": "oidc.secret"},
        "OAUTH2_OIDC_DISCOVERY_ENDPOINT": {"ref": "oidc.issuer"},
        "OAUTH2_REDIRECT_URL": {"ref": "oidc.redirect_url"},
        "BASE_URL": {"ref": "url"},
        "POLLING_NOTE": "costs $5",
    },
    "volumes": {"data": "/var/lib/miniflux"},
    "healthcheck": {"test": ["CMD", "/usr/bin/miniflux", "-healthcheck", "auto"], "start_period": "30s"},
    "ca_file": "/etc/ssl/certs/kompose-ca.pem",
}
CUSTOM = {"reader": {"services": {"miniflux": MINIFLUX}}}
SECRETS = {"postgres-miniflux": "pg/pw", "miniflux-oidc": "oidc-secret", "miniflux-admin": "admin-pw", "redis-worker": "r-pw",
           "mqtt-worker": "m-pw"}
SETTINGS = {"realm": "kompose", "smtp_host": "messaging_mailhog", "smtp_port": 1025, "health_interval": 3, "health_start_interval": 1, "ca_bundle": True}


def registry(custom=None):
    return u.custom_entries(CUSTOM if custom is None else custom, BUILTIN_REGISTRY, BUILTIN)


def resolve(custom=None, overrides=None, stacks=("core", "proxy", "auth", "link")):
    reg = BUILTIN_REGISTRY + registry(custom)
    catalog = dict(BUILTIN)
    for item in reg:
        catalog.update(item.get("catalog") or {})
    return c.resolve(catalog, list(stacks), "pivoine.art", overrides=overrides, registry=reg)


def with_service(**changes):
    spec = copy.deepcopy(MINIFLUX)
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return {"reader": {"services": {"miniflux": spec}}}


def custom_error(custom):
    with pytest.raises(u.CustomError) as exc:
        registry(custom)
    return str(exc.value)


def catalog_error(custom=None, overrides=None, stacks=("core", "proxy", "auth", "link")):
    with pytest.raises(c.CatalogError) as exc:
        resolve(custom, overrides, stacks)
    return str(exc.value)


def test_the_registry_is_the_builtin_stacks_then_the_custom_ones():
    assert [item["name"] for item in u.registry(CUSTOM, BUILTIN_REGISTRY, BUILTIN)] == ["core", "proxy", "auth", "link", "reader"]


def test_a_custom_stack_becomes_a_registry_entry_with_catalog_entries():
    (entry,) = registry()
    # its services keep data in the core servers: it needs the core stack
    assert entry["name"] == "reader" and entry["custom"] is True and entry["requires"] == ["core"]
    assert registry({"web": {"services": {"site": {"image": "nginx:1"}}}})[0]["requires"] == []
    svc = entry["catalog"]["miniflux"]
    assert svc["stack"] == "reader" and svc["container"] == "reader_miniflux"
    assert svc["volumes"] == ["miniflux-data"]
    assert svc["run"]["mounts"] == {"miniflux-data": "/var/lib/miniflux"}
    assert "environment" not in svc and svc["run"]["environment"]["RUN_MIGRATIONS"] == 1


def test_resolved_like_a_builtin_service():
    catalog = resolve()
    svc = catalog["miniflux"]
    assert svc["fqdn"] == "rss.pivoine.art" and svc["image"] == "kompose-lab/miniflux:2"
    assert [db["name"] for db in c.postgres_databases(catalog)] == ["linkwarden", "miniflux"]
    (client,) = c.oidc_clients(catalog)
    assert client["client"]["clientId"] == "miniflux"
    assert client["client"]["redirectUris"] == ["https://rss.pivoine.art/oauth2/oidc/callback"]
    assert {s["name"] for s in c.secret_specs(catalog)} >= {"miniflux-oidc", "miniflux-admin", "postgres-miniflux"}
    assert c.volumes(catalog)["miniflux"] == ["miniflux-data"]


def test_env_file_holds_the_secret_references_only():
    catalog = resolve()
    text = u.env_file(catalog, "miniflux", SECRETS, SETTINGS)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == [
        "DATABASE_URL='postgres://miniflux:pg%2Fpw@core-postgres:5432/miniflux?sslmode=disable'",
        "ADMIN_PASSWORD='admin-pw'",
        "OAUTH2_CLIENT_SECRET='oidc-secret'",
    ]


def test_compose_renders_the_service_without_secrets():
    catalog = resolve()
    keys = {"miniflux": {"networks": {"kompose-miniflux": {}}, "cap_drop": ["ALL"]}}
    project = u.compose(catalog, "reader", keys, {"kompose-miniflux": {"external": True}}, SETTINGS)
    svc = project["services"]["miniflux"]
    assert project["name"] == "reader" and project["volumes"] == {"miniflux-data": {}}
    assert svc["image"] == "kompose-lab/miniflux:2" and svc["container_name"] == "reader_miniflux"
    assert svc["networks"] == {"kompose-miniflux": {}} and svc["cap_drop"] == ["ALL"]
    assert svc["env_file"] == ["./miniflux.env"]
    assert svc["environment"] == {
        "RUN_MIGRATIONS": "1", "CREATE_ADMIN": "true", "OAUTH2_CLIENT_ID": "miniflux",
        "OAUTH2_OIDC_DISCOVERY_ENDPOINT": "https://auth.pivoine.art/realms/kompose",
        "OAUTH2_REDIRECT_URL": "https://rss.pivoine.art/oauth2/oidc/callback",
        "BASE_URL": "https://rss.pivoine.art", "POLLING_NOTE": "costs $$5"}
    assert "pg/pw" not in yaml.safe_dump(project) and "admin-pw" not in yaml.safe_dump(project)
    assert svc["volumes"] == ["miniflux-data:/var/lib/miniflux", "./ca.pem:/etc/ssl/certs/kompose-ca.pem:ro"]
    assert svc["healthcheck"] == {"test": ["CMD", "/usr/bin/miniflux", "-healthcheck", "auto"], "interval": "3s",
                                  "start_interval": "1s", "timeout": "5s", "retries": 10, "start_period": "30s"}
    # the site's start period applies where the catalog gives none, and the catalog's own timing wins
    plain = u.compose(resolve(with_service(healthcheck={"test": ["CMD", "true"]})), "reader", keys, {}, SETTINGS)
    assert plain["services"]["miniflux"]["healthcheck"]["start_period"] == "30s"
    tuned = u.compose(resolve(with_service(healthcheck={"test": ["CMD", "true"], "start_interval": "2s", "interval": "1m"})), "reader", keys, {}, SETTINGS)
    assert (tuned["services"]["miniflux"]["healthcheck"]["start_interval"], tuned["services"]["miniflux"]["healthcheck"]["interval"]) == ("2s", "1m")
    without_ca = u.compose(catalog, "reader", keys, {}, dict(SETTINGS, ca_bundle=False))
    assert without_ca["services"]["miniflux"]["volumes"] == ["miniflux-data:/var/lib/miniflux"]


def test_redis_mqtt_and_smtp_references():
    custom = {"jobs": {"services": {"worker": {
        "image": "ghcr.io/example/worker:1.2", "redis": {}, "mqtt": {"publish": ["kompose/worker/#"]}, "smtp": True,
        "environment": {"REDIS_URL": {"ref": "redis.url"}, "PREFIX": {"ref": "redis.prefix"},
                        "MQTT_HOST": {"ref": "mqtt.host"}, "MQTT_USER": {"ref": "mqtt.user"},
                        "MQTT_PASSWORD": {"ref": "mqtt.password"}, "SMTP": {"ref": "smtp.host"}, "SMTP_PORT": {"ref": "smtp.port"}}}}}}
    catalog = resolve(custom)
    assert u.env_file(catalog, "worker", SECRETS, SETTINGS).splitlines()[1:] == [
        "REDIS_URL='redis://worker:r-pw@core-redis:6379'", "MQTT_PASSWORD='m-pw'"]
    env = u.compose(catalog, "jobs", {}, {}, SETTINGS)["services"]["worker"]["environment"]
    assert env == {"PREFIX": "worker:", "MQTT_HOST": "core-mqtt", "MQTT_USER": "worker", "SMTP": "messaging_mailhog",
                   "SMTP_PORT": "1025"}
    with pytest.raises(u.CustomError, match=r"worker: \{ref: smtp.host\}, but the site has no mail relay"):
        u.compose(catalog, "jobs", {}, {}, dict(SETTINGS, smtp_host=""))


@pytest.mark.parametrize("custom, message", [
    ({"core": {"services": {"x": {"image": "a:1"}}}}, "kompose_custom_stacks: 'core' is the name of a built-in stack"),
    ({"Bad": {"services": {"x": {"image": "a:1"}}}}, "kompose_custom_stacks: 'Bad' is not a stack name"),
    ({"reader": {"services": {}}}, "kompose_custom_stacks.reader.services: expected a mapping"),
    ({"reader": {"services": {"x": {}}, "color": 1}}, "kompose_custom_stacks.reader: unknown key(s) color"),
    ({"reader": {"services": {"linkwarden": {"image": "a:1"}}}},
     "kompose_custom_stacks.reader.services.linkwarden: 'linkwarden' is the name of a built-in service (of the link stack)"),
    ({"a": {"services": {"x": {"image": "a:1"}}}, "b": {"services": {"x": {"image": "a:1"}}}},
     "kompose_custom_stacks.b.services.x: 'x' is already a service of the custom stack a"),
    (with_service(colour="red"), "kompose_custom_stacks.reader.services.miniflux: unknown key(s) colour"),
    (with_service(stack="core"), "kompose_custom_stacks.reader.services.miniflux.stack: 'core'"),
    (with_service(environment={"A B": "x"}), "environment: 'A B' is not an environment variable name"),
    (with_service(environment={"A": {"ref": "postgres.nope"}}),
     "environment.A: {ref: postgres.nope} is not a known reference"),
    (with_service(environment={"A": {"ref": "redis.url"}}), "environment.A: {ref: redis.url} needs the service's 'redis' key"),
    (with_service(environment={"A": {"ref": "secrets.api"}}),
     "environment.A: {ref: secrets.api} names the secret 'api', which the service does not declare"),
    (with_service(environment={"A": {"ref": "url", "x": 1}}), "environment.A: {'ref': 'url', 'x': 1} is not a reference"),
    (with_service(environment={"A": ["x"]}), "environment.A: ['x'] is neither a value"),
    (with_service(environment={"A": "two\nlines"}), "environment.A: a value spans more than one line"),
    (with_service(volumes=["data"]), "miniflux.volumes: expected a mapping of volume name to mount path"),
    (with_service(volumes={"data": "relative"}), "miniflux.volumes.data: 'relative' is not an absolute path"),
    (with_service(healthcheck={"test": ["curl", "x"]}), "miniflux.healthcheck.test: ['curl', 'x'] is neither"),
    (with_service(healthcheck={"test": "true", "interval": "often"}), "miniflux.healthcheck.interval: 'often' is not a duration"),
    (with_service(command=[]), "miniflux.command: [] is neither a string nor a non-empty list"),
    (with_service(ca_file="certs/"), "miniflux.ca_file: 'certs/' is not an absolute file path"),
])
def test_refused_before_anything_is_written(custom, message):
    assert message in custom_error(custom)


@pytest.mark.parametrize("custom, message", [
    (with_service(image="not an image"), "kompose_custom_stacks.reader.services.miniflux.image: 'not an image' is not a valid image"),
    (with_service(image=None), "kompose_custom_stacks.reader.services.miniflux.image: no image for service 'miniflux'"),
    (with_service(host="Bad Host"), "kompose_custom_stacks.reader.services.miniflux.host: 'Bad Host' is neither a DNS label"),
    (with_service(container="link_app"),
     "kompose_custom_stacks.reader.services.miniflux.container: 'link_app' is already the container of service linkwarden"),
    (with_service(postgres={"database": "linkwarden"}),
     "kompose_custom_stacks.reader.services.miniflux.postgres.database: 'linkwarden' is already the PostgreSQL database"),
    (with_service(host="auth"), "kompose_custom_stacks.reader.services.miniflux.host: 'auth.pivoine.art' is already the host name of service keycloak"),
    (with_service(mqtt={"publish": ["a/#/b"]}), "kompose_custom_stacks.reader.services.miniflux.mqtt.publish: 'a/#/b' is not a valid MQTT"),
    (with_service(depends_on=["linkwarden"]), "kompose_custom_stacks.reader.services.miniflux.depends_on"),
])
def test_catalog_rules_name_the_declaration(custom, message):
    assert message in catalog_error(custom)


def test_references_to_a_disabled_server_or_keycloak_are_refused():
    assert "kompose_custom_stacks.reader.services.miniflux.environment.OAUTH2_CLIENT_ID: {ref: oidc.client_id} needs Keycloak" \
        in catalog_error(stacks=("core", "proxy", "link"))
    assert "kompose_custom_stacks.reader: needs the core stack (its services keep data in its servers), which is not in " \
           "kompose_stacks (proxy, auth)" in catalog_error(stacks=("proxy", "auth"))


def test_a_custom_stack_is_not_listed_in_kompose_stacks():
    assert "kompose_stacks: 'reader' is a custom stack" in catalog_error(stacks=("core", "proxy", "auth", "link", "reader"))


def test_a_custom_service_is_changed_where_it_is_declared():
    assert "kompose_services.miniflux: 'miniflux' is a service of a custom stack: change it where it is declared, " \
           "kompose_custom_stacks.reader.services.miniflux" in catalog_error(overrides={"miniflux": {"port": 1}})


def test_depends_on_a_custom_service_without_a_healthcheck_is_refused():
    custom = {"reader": {"services": {"miniflux": dict(MINIFLUX, depends_on=["cache"]), "cache": {"image": "valkey:8"}}}}
    assert "kompose_custom_stacks.reader.services.miniflux.depends_on: 'cache' has no healthcheck" in catalog_error(custom)


def test_a_disabled_custom_stack_is_left_out():
    assert registry({"reader": {"enabled": False, "services": {"miniflux": MINIFLUX}}}) == []
    assert "miniflux" not in resolve({"reader": {"enabled": False, "services": {"miniflux": MINIFLUX}}})


def test_host_layers_add_to_the_group_without_restating_it():
    group = {"reader": {"services": {"miniflux": MINIFLUX}}}
    host = {"reader": {"services": {"miniflux": {"environment": {"POLLING_FREQUENCY": 30}}, "extra": {"image": "a:1"}}},
            "jobs": {"services": {"worker": {"image": "b:2"}}}}
    merged = u.merge_layers([group, None, host], "kompose_custom_stacks")
    assert set(merged) == {"reader", "jobs"} and set(merged["reader"]["services"]) == {"miniflux", "extra"}
    env = merged["reader"]["services"]["miniflux"]["environment"]
    assert env["POLLING_FREQUENCY"] == 30 and env["DATABASE_URL"] == {"ref": "postgres.url"}
    with pytest.raises(u.CustomError, match=r"kompose_custom_stacks: layer 1 .* is not a mapping: \['x'\]"):
        u.merge_layers([group, ["x"]], "kompose_custom_stacks")


def test_kompose_services_layers_merge_in_order():
    catalog = resolve(overrides=[{"linkwarden": {"host": "links", "port": 3001}}, {"linkwarden": {"port": 3002}}])
    assert catalog["linkwarden"]["host"] == "links" and catalog["linkwarden"]["port"] == 3002


def test_the_filters_are_registered():
    assert set(FilterModule().filters()) == {"custom_stacks", "custom_compose", "custom_files", "custom_refs"}


def test_files_are_the_env_files_and_the_ca_bundle():
    catalog = resolve()
    files = u.files(catalog, "reader", SECRETS, SETTINGS, "-----BEGIN CERTIFICATE-----\n")
    assert [f["path"] for f in files] == ["miniflux.env", "ca.pem"]
    assert files[0]["mode"] == "0600" and "DATABASE_URL='postgres://" in files[0]["secret_content"]
    assert u.files(catalog, "reader", SECRETS, SETTINGS, "")[1:] == []
    # a service without secret references gets no env file
    plain = resolve({"web": {"services": {"site": {"image": "nginx:1", "environment": {"A": "1"}}}}})
    assert u.files(plain, "web", SECRETS, SETTINGS, "") == []
    assert "env_file" not in u.compose(plain, "web", {}, {}, SETTINGS)["services"]["site"]


def test_refs_matching_names_where_each_reference_is_declared():
    custom = {"jobs": {"services": {"worker": {"image": "w:1", "smtp": True, "environment": {
        "SMTP": {"ref": "smtp.host"}, "PORT": {"ref": "smtp.port"}, "PLAIN": "smtp.host"}}}}}
    catalog = resolve(custom)
    assert u.refs_matching(catalog, "^smtp[.]") == ["kompose_custom_stacks.jobs.services.worker.environment.SMTP",
                                                    "kompose_custom_stacks.jobs.services.worker.environment.PORT"]
    assert u.refs_matching(catalog, "^redis[.]") == []
