"""Per-path access policy: `paths` overrides merge by name, overlapping paths may only get stricter, and
every router's Traefik priority makes the more protective of two matching path routers win."""
from __future__ import annotations

import copy
import pathlib

import pytest
import yaml

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog as c

VARS = pathlib.Path(__file__).resolve().parents[4] / "roles" / "kompose" / "vars" / "main"
REGISTRY = [{"name": "core", "requires": []}, {"name": "vault", "requires": ["core"]}]
ADMIN = {"name": "admin", "prefixes": ["/admin"], "middleware": "sso-internal-only"}
CATALOG = {
    "oauth2_proxy": {"stack": "core", "container": "sso", "image": "op:7", "port": 4180, "host": "sso",
                     "middleware": "rate-limit", "oidc": True, "secrets": {"oidc": {}}},
    "vaultwarden": {"stack": "vault", "container": "vault_app", "image": "vw:1", "port": 80, "host": "vault",
                    "middleware": "public-limited", "paths": [ADMIN]},
}


def resolve(paths=None, catalog=None):
    catalog = CATALOG if catalog is None else catalog
    overrides = {"vaultwarden": {"paths": paths}} if paths is not None else {}
    return c.resolve(catalog, ["core", "vault"], "pivoine.art", overrides=overrides, registry=REGISTRY)


def vault_routes(paths=None, catalog=None):
    routes = c.routes(resolve(paths, catalog), "sso-secure", ["sso-secure", "sso-internal-only"], {})
    return {route["name"]: route for route in routes if route["fqdn"] == "vault.pivoine.art"}


class _VarsLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """A SafeLoader that reads Ansible's !unsafe strings as plain strings."""


_VarsLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def winner(routes, path):
    """The router Traefik picks for a request to ``path`` on the host: the highest priority that matches."""
    matching = [route for route in routes.values()
                if not (route["prefixes"] or route["exact"])
                or any(path.startswith(prefix) for prefix in route["prefixes"]) or path in route["exact"]]
    return max(matching, key=lambda route: route["priority"])["name"]


# --- the ranking is data, and covers exactly the middlewares a catalog entry may name ------------------

def test_policy_ranks_cover_every_defined_middleware_once():
    defined = yaml.safe_load((VARS / "proxy.yml").read_text())["__kompose_middlewares"]
    ranked = [name for names in c.POLICY_RANKS for name in names]
    assert len(ranked) == len(set(ranked))
    assert sorted(ranked) == sorted(defined)


def test_an_unranked_middleware_is_refused_naming_the_key():
    catalog = {"app": {"fqdn": "a.x.org", "container": "a", "port": 1,
                       "paths": [{"name": "api", "prefixes": ["/api"], "middleware": "open-door"}]}}
    with pytest.raises(c.CatalogError) as exc:
        c.routes(catalog, "public", [], {})
    assert str(exc.value).startswith("kompose_services.app.paths[0].middleware: 'open-door' has no rank in the access "
                                     "policy order (_catalog.POLICY_RANKS: ")


# --- paths merge by name -------------------------------------------------------------------------------

def test_adding_a_public_path_keeps_the_admin_path():
    public = {"name": "api", "prefixes": ["/api"], "middleware": "public"}
    assert resolve([public])["vaultwarden"]["paths"] == [ADMIN, public]
    routes = vault_routes([public])
    assert routes["vaultwarden-admin"]["middleware"] == "sso-internal-only"
    assert routes["vaultwarden-api"]["middleware"] == "public"


def test_a_path_of_the_same_name_is_merged_over_the_catalog_one():
    out = resolve([{"name": "admin", "prefixes": ["/admin", "/diagnostics"]}])["vaultwarden"]["paths"]
    assert out == [{"name": "admin", "prefixes": ["/admin", "/diagnostics"], "middleware": "sso-internal-only"}]


def test_enabled_false_removes_a_path_by_name():
    assert resolve([{"name": "admin", "enabled": False}])["vaultwarden"]["paths"] == []
    assert resolve([{"name": "admin", "enabled": True}])["vaultwarden"]["paths"] == [ADMIN]
    assert resolve([{"name": "other", "enabled": False}])["vaultwarden"]["paths"] == [ADMIN]
    with pytest.raises(c.CatalogError) as exc:
        resolve([{"name": "admin", "enabled": "no"}])
    assert str(exc.value) == ("kompose_services.vaultwarden.paths[0].enabled: 'no' is not a boolean "
                              "(false removes the path 'admin')")


def test_merging_paths_leaves_the_catalog_alone():
    before = copy.deepcopy(CATALOG)
    resolve([{"name": "admin", "prefixes": ["/x"]}, {"name": "api", "prefixes": ["/api"], "middleware": "public"}])
    assert CATALOG == before


def test_a_bad_override_path_is_still_refused():
    with pytest.raises(c.CatalogError, match=r"^kompose_services.vaultwarden.paths\[1\]: expected a mapping"):
        resolve(["api"])


# --- overlapping paths may only get stricter -------------------------------------------------------------

@pytest.mark.parametrize("path,message", [
    # a public path inside the admin prefix would open part of it
    ({"name": "api", "prefixes": ["/admin/api"], "middleware": "public"},
     "kompose_services.vaultwarden.paths[1].prefixes: '/admin/api' (middleware 'public') is inside "
     "kompose_services.vaultwarden.paths[0].prefixes '/admin' (middleware 'sso-internal-only') but not more protective"),
    # PathPrefix compares characters: /admin also takes /admin-tools
    ({"name": "tools", "prefixes": ["/admin-tools"], "middleware": "sso-secure"},
     "paths[1].prefixes: '/admin-tools' (middleware 'sso-secure') is inside"),
    ({"name": "login", "exact": ["/admin/login"], "middleware": "public-limited"},
     "paths[1].exact: '/admin/login' (middleware 'public-limited') is inside"),
    # the same prefix with another middleware: neither is the more specific one
    ({"name": "again", "prefixes": ["/admin"], "middleware": "deny-all"},
     "paths[0].prefixes: '/admin' (middleware 'sso-internal-only') is inside kompose_services.vaultwarden.paths[1]"),
])
def test_a_less_protective_path_inside_another_is_refused(path, message):
    with pytest.raises(c.CatalogError) as exc:
        resolve([path])
    assert message in str(exc.value)
    assert "public < rate-limit/public-limited < ip-allowlist" in str(exc.value)  # the order, to choose from


@pytest.mark.parametrize("paths", [
    [{"name": "api", "prefixes": ["/api"], "middleware": "public"},
     {"name": "api-admin", "prefixes": ["/api/admin"], "middleware": "sso-internal-only"}],
    [{"name": "api", "prefixes": ["/api"], "middleware": "public"},
     {"name": "send", "exact": ["/api/send"], "middleware": "public-limited"}],
    [{"name": "same", "prefixes": ["/admin/x"], "middleware": "sso-internal-only"}],  # the same middleware
    # /admin (sso-internal-only) is inside /adm, and stricter; /ad overlaps nothing
    [{"name": "outer", "prefixes": ["/adm"], "exact": ["/ad"], "middleware": "public"}],
])
def test_a_stricter_or_equal_path_inside_another_is_fine(paths):
    assert resolve(paths)


def test_the_shipped_catalog_paths_have_no_refused_overlap():
    checked = 0
    for path in sorted(VARS.glob("*.yml")):
        text = path.read_text(encoding="utf-8").replace("{{ kompose_realm }}", "kompose")
        data = yaml.load(text, Loader=_VarsLoader) or {}  # nosec B506 - a SafeLoader
        for key, entries in data.items():
            if not key.startswith("__kompose_catalog_"):
                continue
            for name, entry in entries.items():
                if entry.get("paths"):
                    c._check_paths("kompose_services.%s.paths" % name, entry["paths"], None)
                    checked += 1
    assert checked >= 5


# --- priorities: the more protective router wins, whatever the length of the rules --------------------------

def test_priorities_rank_protection_over_rule_length():
    public = {"name": "api", "prefixes": ["/api/" + "x" * 40, "/identity", "/notifications", "/icons"], "middleware": "public"}
    routes = vault_routes([public])
    assert routes["vaultwarden"]["priority"] == c.HOST_PRIORITY == 1
    assert routes["vaultwarden-admin"]["priority"] == 1000 * (c.POLICY_RANK["sso-internal-only"] + 1) + len("/admin")
    assert routes["vaultwarden-api"]["priority"] == 1000 * (c.POLICY_RANK["public"] + 1) + len("/api/" + "x" * 40)
    assert routes["vaultwarden-admin"]["priority"] > routes["vaultwarden-api"]["priority"] > routes["vaultwarden"]["priority"]
    assert routes["vaultwarden-admin"]["oauth2"] and routes["vaultwarden-admin"]["oauth2_priority"] == c.OAUTH2_PRIORITY
    assert c.OAUTH2_PRIORITY > max(route["priority"] for route in routes.values())
    assert [winner(routes, path) for path in ("/admin", "/admin/users", "/api/" + "x" * 40, "/identity/x", "/", "/alive")] == [
        "vaultwarden-admin", "vaultwarden-admin", "vaultwarden-api", "vaultwarden-api", "vaultwarden", "vaultwarden"]


def test_a_stricter_path_inside_a_public_one_wins_it():
    paths = [{"name": "api", "prefixes": ["/api"], "middleware": "public"},
             {"name": "api-admin", "prefixes": ["/api/admin"], "middleware": "sso-internal-only"},
             {"name": "send", "exact": ["/api/send"], "middleware": "public-limited"}]
    routes = vault_routes(paths)
    assert [winner(routes, path) for path in ("/api/x", "/api/admin/users", "/api/send", "/api/sendx", "/admin")] == [
        "vaultwarden-api", "vaultwarden-api-admin", "vaultwarden-send", "vaultwarden-api", "vaultwarden-admin"]


def test_among_equally_protective_paths_the_longer_one_wins_and_length_is_capped():
    long_prefix = "/" + "a" * 5000
    routes = vault_routes([{"name": "short", "prefixes": ["/a"], "middleware": "public"},
                           {"name": "long", "prefixes": [long_prefix], "middleware": "public"}])
    assert routes["vaultwarden-long"]["priority"] == 1000 * (c.POLICY_RANK["public"] + 1) + 999
    assert routes["vaultwarden-long"]["priority"] < routes["vaultwarden-admin"]["priority"]
    assert winner(routes, long_prefix) == "vaultwarden-long" and winner(routes, "/ab") == "vaultwarden-short"
