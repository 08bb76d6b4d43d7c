"""depends_on in the catalog: validated, rendered as compose's depends_on, and the waves day-2 starts in."""
from __future__ import annotations

import pytest

from ansible_collections.pivoine.kompose.plugins.filter.catalog import FilterModule
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog as c

CATALOG = {
    "postgres": {"stack": "core", "container": "core-postgres", "port": 5432},
    "keycloak": {"stack": "auth", "container": "auth_keycloak", "port": 8080},
    "gateway": {"stack": "auth", "container": "auth_gateway", "depends_on": ["keycloak"]},
    "linkwarden": {"stack": "link", "container": "link_app", "postgres": {}},
    "link_metrics": {"stack": "link", "container": "link_metrics", "depends_on": ["linkwarden"], "postgres": {"database": None}},
    "umami": {"stack": "track", "container": "track_app", "postgres": {}},
}
REGISTRY = [{"name": name, "requires": []} for name in ("core", "auth", "link", "track")]


def resolve(overrides=None, stacks=("core", "auth", "link", "track")):
    return c.resolve(CATALOG, list(stacks), "pivoine.art", images={name: "img:1" for name in CATALOG},
                     overrides=overrides, registry=REGISTRY)


def error(overrides):
    with pytest.raises(c.CatalogError) as exc:
        resolve(overrides)
    return str(exc.value)


def test_resolved_and_rendered_as_compose_depends_on():
    catalog = resolve()
    assert catalog["gateway"]["depends_on"] == ["keycloak"]
    assert c.compose_dependencies(catalog) == {
        "gateway": {"depends_on": {"keycloak": {"condition": "service_healthy"}}},
        "link_metrics": {"depends_on": {"linkwarden": {"condition": "service_healthy"}}},
    }


def test_a_dependency_that_is_not_enabled_is_left_out():
    catalog = resolve({"linkwarden": {"enabled": False}, "link_metrics": {"postgres": {"database": "figures"}}})
    assert catalog["link_metrics"]["depends_on"] == []
    assert "link_metrics" not in c.compose_dependencies(catalog)


@pytest.mark.parametrize("overrides,message", [
    ({"umami": {"depends_on": ["keycloak"]}},
     "kompose_services.umami.depends_on: 'keycloak' is in the auth stack, but Compose waits only for a service of the "
     "same stack (track)"),
    ({"umami": {"depends_on": ["nobody"]}}, "kompose_services.umami.depends_on: 'nobody' is not a service of the catalog"),
    ({"umami": {"depends_on": "keycloak"}}, "kompose_services.umami.depends_on: expected a list, got 'keycloak'"),
    ({"umami": {"depends_on": ["Bad Name"]}}, "kompose_services.umami.depends_on"),
    ({"keycloak": {"depends_on": ["gateway"]}},
     "kompose_services.gateway.depends_on: the services wait for each other (gateway -> keycloak -> gateway)"),
    ({"umami": {"depends_on": ["umami"]}}, "kompose_services.umami.depends_on: the services wait for each other (umami -> umami)"),
    ({"tracker": {"stack": "track", "depends_on": ["umami"]}},
     "kompose_services.tracker.depends_on: 'umami', but only a container waits for a container (tracker has none)"),
])
def test_refused(overrides, message):
    assert message in error(overrides)


def test_start_waves_start_every_app_before_any_call_waits():
    catalog = resolve()
    services = {"auth": ["keycloak", "gateway"], "link": ["linkwarden", "link_metrics"], "track": ["umami"]}
    assert c.start_waves(services, catalog) == [
        {"stack": "auth", "services": ["keycloak"]},
        {"stack": "link", "services": ["linkwarden"]},
        {"stack": "track", "services": ["umami"]},
        {"stack": "auth", "services": ["gateway"]},
        {"stack": "link", "services": ["link_metrics"]},
    ]


def test_start_waves_ignore_a_dependency_that_is_not_started():
    # Keycloak runs already (not in the list): OAuth2 Proxy starts in the first wave
    catalog = resolve()
    assert c.start_waves({"auth": ["gateway"], "track": ["umami"]}, catalog) == [
        {"stack": "auth", "services": ["gateway"]}, {"stack": "track", "services": ["umami"]}]
    assert c.start_waves({}, catalog) == []


def test_start_waves_follow_chains():
    catalog = resolve({"umami": {"depends_on": ["tracker"]},
                       "tracker": {"stack": "track", "container": "track_tracker", "image": "img:1", "depends_on": ["cache"]},
                       "cache": {"stack": "track", "container": "track_cache", "image": "img:1"}})
    assert c.start_waves({"track": ["umami", "tracker", "cache"]}, catalog) == [
        {"stack": "track", "services": ["cache"]}, {"stack": "track", "services": ["tracker"]},
        {"stack": "track", "services": ["umami"]}]


@pytest.mark.parametrize("services", [["umami"], {"track": "umami"}, {"track": [1]}])
def test_start_waves_refuse_what_is_not_stack_to_services(services):
    with pytest.raises(c.CatalogError, match="expected stack -> list of service names"):
        c.start_waves(services, resolve())


def test_filters_are_registered():
    filters = FilterModule().filters()
    assert filters["catalog_start_waves"]({"auth": ["keycloak", "gateway"]}, resolve()) == [
        {"stack": "auth", "services": ["keycloak"]}, {"stack": "auth", "services": ["gateway"]}]
    assert filters["catalog_depends_on"](resolve())["gateway"] == {"depends_on": {"keycloak": {"condition": "service_healthy"}}}
