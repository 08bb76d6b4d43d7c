"""Compare the portal's recorded upstream answers (kmps/tests/recorded) with the lab's real servers.

Usage: kmps_contract.py RECORDED_DIR SECRETS_DIR KEYCLOAK_URL REALM ALERTMANAGER_URL PROMETHEUS_URL USER > report.json

The unit tests serve answers composed from the servers' references (their README says how). This
makes the same calls to the real Keycloak (as the portal's own client, kmps, with its secret from
the store), the real Docker engine (its socket: the answers the socket proxy passes through),
Alertmanager and Prometheus, and checks that each recorded answer has the real one's shape: every
key a recorded object has (recursively; a list by its first item) is in the real answer, with a
value of the same JSON type (null matches anything), but for the few keys that are left out when
unset (OPTIONAL); an object keyed by data (MAPS) is compared by its values. USER is a user of the
realm (lab-admin).
Prints {file: [differences]} for every file compared; the verify asserts that none differs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import requests

RECORDED, SECRETS, KEYCLOAK, REALM, ALERTMANAGER, PROMETHEUS, USER = sys.argv[1:8]
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
# objects keyed by data (network names, client ids): their values are compared, the first with the first
MAPS = {"Networks", "clients", "Labels"}
# keys the servers leave out when unset (the lab's users have no names, its groups no description) or
# that the lab's older Alertmanager (Debian's 0.25; production runs 0.28) does not send
OPTIONAL = {"firstName", "lastName", "description", "mutedBy"}


def kind(value):
    return None if value is None else ("number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__)


def differences(recorded, real, at="$"):
    """What the recorded answer has that the real one has not (or has with another type)."""
    if recorded is None or real is None:
        return []
    if kind(recorded) != kind(real):
        return ["%s: recorded %s, real %s" % (at, kind(recorded), kind(real))]
    if isinstance(recorded, dict):
        if at.rsplit(".", 1)[-1] in MAPS:
            return differences(next(iter(recorded.values()), None), next(iter(real.values()), None), at + ".*")
        out = []
        for key, value in recorded.items():
            if key not in real:
                if key not in OPTIONAL:
                    out.append("%s.%s: not in the real answer" % (at, key))
            else:
                out.extend(differences(value, real[key], "%s.%s" % (at, key)))
        return out
    if isinstance(recorded, list) and recorded and real:
        return differences(recorded[0], real[0], at + "[0]")
    return []


def recorded(name):
    with open(os.path.join(RECORDED, name), encoding="utf-8") as handle:
        return json.load(handle)


def docker(path, method="GET"):
    out = subprocess.run(["curl", "--silent", "--unix-socket", "/var/run/docker.sock", "-X", method, "http://docker" + path],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main():
    with open(os.path.join(SECRETS, "kmps-oidc"), encoding="utf-8") as handle:
        secret = handle.read().strip()
    form = {"grant_type": "client_credentials", "client_id": "kmps", "client_secret": secret}
    token_url = "%s/realms/%s/protocol/openid-connect/token" % (KEYCLOAK, REALM)
    token = requests.post(token_url, data=form, timeout=10)
    api = "%s/admin/realms/%s" % (KEYCLOAK, REALM)
    auth = {"Authorization": "Bearer " + token.json()["access_token"]}

    def keycloak(path, method="GET", **kwargs):
        return requests.request(method, api + path, headers=auth, timeout=10, **kwargs).json()

    user = keycloak("/users", params={"username": USER, "exact": "true"})[0]
    pairs = {
        "keycloak/token.json": token.json(),
        "keycloak/token_invalid_client.json": requests.post(token_url, data=dict(form, client_secret="wrong"), timeout=10).json(),
        "keycloak/users.json": keycloak("/users", params={"first": 0, "max": 50, "briefRepresentation": "true"}),
        "keycloak/users_search_alice.json": keycloak("/users", params={"first": 0, "max": 50, "briefRepresentation": "true", "search": USER}),
        "keycloak/user_admin.json": keycloak("/users/" + user["id"]),
        "keycloak/user_not_found.json": keycloak("/users/" + UNKNOWN_ID),
        "keycloak/user_admin_groups.json": keycloak("/users/%s/groups" % user["id"]),
        "keycloak/groups.json": keycloak("/groups", params={"first": 0, "max": 500}),
        "keycloak/clients.json": keycloak("/clients"),
        "keycloak/forbidden.json": requests.put(api, headers=auth, json={"enabled": True}, timeout=10).json(),
        "keycloak/group_not_found.json": keycloak("/users/%s/groups/%s" % (user["id"], UNKNOWN_ID), method="DELETE"),
        "alertmanager/alerts.json": requests.get(ALERTMANAGER + "/api/v2/alerts",
                                                 params={"active": "true", "silenced": "false", "inhibited": "false"}, timeout=10).json(),
        "prometheus/cert_expiry.json": requests.get(PROMETHEUS + "/api/v1/query", params={"query": "probe_ssl_earliest_cert_expiry"},
                                                    timeout=10).json(),
        "prometheus/empty.json": requests.get(PROMETHEUS + "/api/v1/query", params={"query": "kompose_no_such_metric"}, timeout=10).json(),
        "prometheus/bad_data.json": requests.get(PROMETHEUS + "/api/v1/query", params={"query": ""}, timeout=10).json(),
        "docker/containers.json": docker('/containers/json?all=1&filters=%7B%22label%22%3A%5B%22org.pivoine.kompose.stack%22%5D%7D'),
        "docker/inspect/auth_keycloak.json": docker("/containers/auth_keycloak/json"),
        "docker/no_such_container.json": docker("/containers/%s/json" % UNKNOWN_ID),
    }
    sessions = keycloak("/users/%s/sessions" % user["id"])
    if sessions:  # the user is signed in somewhere (the browser walk signs out; the flow's session may live)
        pairs["keycloak/user_alice_sessions.json"] = sessions
    json.dump({name: differences(recorded(name), real) for name, real in sorted(pairs.items())}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
