"""Drive the lab's edge the way a browser does, through Traefik's published ports on 127.0.0.1.

Usage: sso_flow.py DOMAIN CA_FILE SECRETS_DIR > report.json

Every host name under DOMAIN resolves to 127.0.0.1 (as a lab user's /etc/hosts would say) and is
verified against CA_FILE (the root the lab's ACME CA issues under), so a certificate that Pebble
did not issue for that exact name fails. Prints one JSON report; the molecule verify asserts on it.
It follows redirects itself and fills Keycloak's real login form (no API shortcut).
"""

from __future__ import annotations

import gzip
import html
import json
import re
import socket
import sys
from urllib.parse import urljoin, urlsplit

import requests

DOMAIN, CA_FILE, SECRETS = sys.argv[1], sys.argv[2], sys.argv[3]

_getaddrinfo = socket.getaddrinfo


def _lab_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and (host == DOMAIN or host.endswith("." + DOMAIN)):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _lab_getaddrinfo


def url(host, path="/"):
    return "https://%s.%s%s" % (host, DOMAIN, path)


def secret(name):
    with open("%s/%s" % (SECRETS, name), encoding="utf-8") as handle:
        return handle.read().strip()


def walk(session, target, method="GET", data=None, limit=15):
    """Follow redirects by hand; returns (final response, [(status, url, location)])."""
    hops = []
    response = session.request(method, target, data=data, allow_redirects=False, verify=CA_FILE, timeout=30)
    for _hop in range(limit):
        location = response.headers.get("Location")
        hops.append((response.status_code, response.url, location))
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            return response, hops
        response = session.get(urljoin(response.url, location), allow_redirects=False, verify=CA_FILE, timeout=30)
    raise RuntimeError("too many redirects: %r" % hops)


def login(user, target):
    """A fresh browser session signs in as USER through Keycloak's form; returns (session, report)."""
    session = requests.Session()
    page, hops = walk(session, target)
    form = re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', page.text) or \
        re.search(r'<form[^>]*action="([^"]+)"[^>]*id="kc-form-login"', page.text)
    report = {"login_page": page.url, "login_form": bool(form), "first_hop": hops[0]}
    if not form:
        return session, report
    final, hops = walk(session, html.unescape(form.group(1)), "POST",
                       {"username": user, "password": secret("keycloak-" + user), "credentialId": ""})
    title = re.search(r"<title>([^<]*)</title>", final.text)
    report.update(status=final.status_code, url=final.url, title=title.group(1).strip() if title else "",
                  hosts=[urlsplit(hop[1]).hostname for hop in hops], headers=dict(final.headers))
    return session, report


def main():
    out = {}
    plain = requests.get("http://prometheus.%s/" % DOMAIN, allow_redirects=False, timeout=10)
    out["http_redirect"] = {"status": plain.status_code, "location": plain.headers.get("Location")}

    # every routed host answers over HTTPS with a certificate for its name from the lab CA's chain
    out["tls"] = {}
    for host in ("auth", "sso", "prometheus", "alerts", "traefik"):
        try:
            requests.get(url(host), allow_redirects=False, verify=CA_FILE, timeout=10)
            out["tls"][host] = "verified"
        except requests.exceptions.SSLError as exc:
            out["tls"][host] = "SSL error: %s" % exc

    anonymous = requests.get(url("prometheus"), allow_redirects=False, verify=CA_FILE, timeout=10)
    out["anonymous"] = {"status": anonymous.status_code, "location": anonymous.headers.get("Location", "")}

    admin, out["admin_prometheus"] = login("lab-admin", url("prometheus"))
    alerts = walk(admin, url("alerts"))[0]
    out["admin_alerts"] = {"status": alerts.status_code, "url": alerts.url,
                           "title": (re.search(r"<title>([^<]*)</title>", alerts.text) or [None, ""])[1]}
    zipped = admin.get(url("prometheus", "/classic/graph"), headers={"Accept-Encoding": "gzip"}, verify=CA_FILE,
                       timeout=10, stream=True)
    raw = zipped.raw.read()
    out["gzip"] = {"content_encoding": zipped.headers.get("Content-Encoding"),
                   "decodes": bool(raw) and zipped.headers.get("Content-Encoding") == "gzip" and len(gzip.decompress(raw)) > 0}
    api = admin.get(url("traefik", "/api/overview"), verify=CA_FILE, timeout=10)
    out["traefik_overview"] = api.json() if api.status_code == 200 else {"status": api.status_code}
    routers = admin.get(url("traefik", "/api/http/routers"), verify=CA_FILE, timeout=10)
    out["traefik_routers"] = [{"name": r["name"], "status": r["status"], "error": r.get("error")}
                              for r in routers.json()] if routers.status_code == 200 else routers.status_code
    out["admin_cookies"] = sorted({cookie.name for cookie in admin.cookies})

    # OAuth2 Proxy's sign-out clears its cookie, deletes the session and ends Keycloak's session too
    # (its backend logout): the redirect to Keycloak shows the login form again, no silent sign-in
    signout = admin.get(url("sso", "/oauth2/sign_out"), allow_redirects=False, verify=CA_FILE, timeout=10)
    after = admin.get(url("prometheus"), allow_redirects=False, verify=CA_FILE, timeout=10)
    again = walk(admin, urljoin(after.url, after.headers["Location"]))[0] if after.is_redirect else after
    out["sign_out"] = {"status": signout.status_code, "cookie_cleared": "_oauth2_proxy" not in {c.name for c in admin.cookies},
                       "after_status": after.status_code, "after_location": after.headers.get("Location", ""),
                       "after_login_form": 'id="kc-form-login"' in again.text, "after_url": again.url}

    user, out["user_prometheus"] = login("lab-user", url("prometheus"))
    out["user_alerts"] = walk(user, url("alerts"))[0].status_code

    # rate-limit on OAuth2 Proxy's own host: more than the burst at once
    codes = []
    for _attempt in range(120):
        codes.append(requests.get(url("sso", "/ping"), verify=CA_FILE, timeout=10).status_code)
    out["rate_limit"] = {"429": codes.count(429), "200": codes.count(200)}

    out["keycloak_admin_console"] = requests.get(url("auth", "/admin/master/console/"), verify=CA_FILE,
                                                 allow_redirects=False, timeout=10).status_code
    json.dump(out, sys.stdout, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
