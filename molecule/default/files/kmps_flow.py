"""Drive the portal (KMPS) through the lab's edge as the lab's users, the way a browser does.

Usage: kmps_flow.py DOMAIN CA_FILE SECRETS_DIR CONTAINER > report.json

Signs in through OAuth2 Proxy and Keycloak's real login form (sso_flow.py's helpers), then as
lab-admin reads the overview, the realm's users and clients (the portal asks Keycloak with its own
service account) and the audit log, restarts CONTAINER through the confirmation form (the portal
asks the socket proxy), and tries the same POST without a CSRF token; as lab-user (not an admin)
reads its own page and is refused the admin pages. Prints one JSON report; the molecule verify
asserts on it and on Docker's and the database's side of the restart.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable=wrong-import-position
import requests  # noqa: E402
from sso_flow import CA_FILE, login, url, walk  # noqa: E402  (reads DOMAIN, CA_FILE, SECRETS from argv)

CONTAINER = sys.argv[4]


def page(session, path, **kwargs):
    started = time.perf_counter()
    answer = session.get(url("kmps", path), allow_redirects=False, verify=CA_FILE, timeout=30, **kwargs)
    title = re.search(r"<title>([^<]*)</title>", answer.text)
    return {"status": answer.status_code, "location": answer.headers.get("Location", ""),
            "title": title.group(1).strip() if title else "", "ms": round((time.perf_counter() - started) * 1000),
            "text": answer.text, "headers": dict(answer.headers)}


def summary(report):
    return {key: value for key, value in report.items() if key != "text"}


def main():
    out = {}
    admin, out["admin_login"] = login("lab-admin", url("kmps"))
    out["admin_login"].pop("headers", None)
    overview = page(admin, "/")
    out["overview"] = dict(summary(overview),
                           containers=sorted(set(re.findall(r'/services/([A-Za-z0-9_.-]+)/restart', overview["text"]))),
                           # Docker, Alertmanager and Prometheus all answered: no part of the page is unknown
                           complete="Some of this page is unknown" not in overview["text"],
                           firing=bool(re.search(r"<b>[0-9]+</b> firing", overview["text"])),
                           certificates=len(re.findall(r"<td>[0-9]+ days</td>", overview["text"])))
    users = page(admin, "/users")
    out["users"] = dict(summary(users), names=sorted(set(re.findall(r">(lab-[a-z]+)<", users["text"]))))
    clients = page(admin, "/clients")
    out["clients"] = dict(summary(clients), ids=sorted(set(re.findall(r"<td>([a-z0-9_.-]+)</td>", clients["text"]))))
    out["clients"]["holds_a_secret"] = any(word in clients["text"].lower() for word in ("secret\":", "client_secret"))

    form = page(admin, "/services/%s/restart" % CONTAINER)
    token = re.search(r'name="csrf" value="([^"]+)"', form["text"])
    out["restart_form"] = dict(summary(form), csrf=bool(token))
    refused = admin.post(url("kmps", "/services/%s/restart" % CONTAINER), data={"confirm": "1"}, allow_redirects=False,
                         verify=CA_FILE, timeout=30)
    out["restart_without_csrf"] = {"status": refused.status_code}
    out["restart_requested_at"] = time.time()
    done = admin.post(url("kmps", "/services/%s/restart" % CONTAINER), data={"csrf": token.group(1) if token else ""},
                      allow_redirects=False, verify=CA_FILE, timeout=60)
    out["restart"] = {"status": done.status_code, "location": done.headers.get("Location", "")}
    audit = page(admin, "/audit")
    out["audit"] = dict(summary(audit), restart_ok=bool(re.search(
        r"service-restart.*?%s.*?\bok\b" % re.escape(CONTAINER), audit["text"], re.S)))
    out["metrics_through_traefik"] = requests.get(url("kmps", "/metrics"), allow_redirects=False, verify=CA_FILE,
                                                  timeout=10).status_code
    out["metrics_signed_in"] = page(admin, "/metrics")["status"]
    out["static"] = page(admin, "/static/kmps.css")["status"]

    user, out["user_login"] = login("lab-user", url("kmps"))
    out["user_login"].pop("headers", None)
    out["user_home"] = summary(page(user, "/"))
    me = page(user, "/me")
    out["user_me"] = dict(summary(me), account_link="/realms/kompose/account" in me["text"])
    out["user_users"] = page(user, "/users")["status"]
    out["user_restart"] = user.post(url("kmps", "/services/%s/restart" % CONTAINER), data={"csrf": "x"},
                                    allow_redirects=False, verify=CA_FILE, timeout=30).status_code
    anonymous = walk(requests.Session(), url("kmps"))[1][0]
    out["anonymous"] = {"status": anonymous[0], "location": anonymous[2] or ""}
    json.dump(out, sys.stdout, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
