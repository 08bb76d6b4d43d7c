# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of a rotation (roles/day2/tasks/rotate.yml, rotate_verify.yml).

``plan``: where each rotated server credential is proven from - a throwaway container on the network of
the service that owns it, speaking to its server over that network - and whose sessions are ended.
``failures``: what the servers answered to the old and the new credentials: each old value must be
refused, each new one accepted, and each service holding a rotated `restart` secret must run healthy.
``vaultwarden_override``: why Vaultwarden's saved settings would keep the old admin token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

ACCEPTED, REFUSED = "accepted", "refused"

# kind of a rotated secret -> the catalog entry of the server that checks it
SERVER_OF = {"postgres": "postgres", "postgres_superuser": "postgres", "redis": "redis", "redis_admin": "redis",
             "mqtt": "mqtt"}
# Vaultwarden's saved settings (the admin page writes them), which win over its environment
VAULTWARDEN_CONFIG = "/data/config.json"


class RotateError(ValueError):
    pass


def _results(register):
    """The loop results of a registered task (none when it was skipped or not run)."""
    if register is None:
        return []
    if not isinstance(register, dict):
        raise RotateError("expected a registered loop result, got %s" % type(register).__name__)
    return register.get("results") or []


def _networks(containers):
    """Container name -> its networks (name -> endpoint), from a docker_container_info loop over names."""
    out = {}
    for result in _results(containers):
        if result.get("exists") and result.get("container"):
            out[result["item"]] = (result["container"].get("NetworkSettings") or {}).get("Networks") or {}
    return out


def probe_network(service, networks, kompose_network):
    """The network to reach a server from on behalf of ``service``, out of the server's ``networks``: the
    service's own (``<kompose_network>-<service>``, ``_`` as ``-``, as plugin_utils/_networks.py names it)
    where the server is on it, else the shared ``kompose_network`` (a site from before per-service
    networks), else the first of the server's networks (a server's own credentials: any network that
    reaches it will do). None when the server is on no network."""
    for name in ("%s-%s" % (kompose_network, service.replace("_", "-")), kompose_network):
        if name in networks:
            return name
    return sorted(networks)[0] if networks else None


def plan(rotations, names, catalog, containers, network="kompose", superuser="postgres", redis_admin="kompose"):
    """What rotate_verify.yml does for the rotated secrets ``names``.

    ``rotations``: the catalog's rotations (filter catalog_rotations); ``containers``: a docker_container_info
    loop over the servers' container names. Returns ``containers`` (the probe containers to start: name,
    image - the server's own, with its client -, network), ``postgres``, ``redis``, ``mqtt`` (each
    [secret, 'old' or 'new', login]: login is the probe container, the server's host and port, the user and
    for PostgreSQL the database) and ``sessions`` (the PostgreSQL roles and Redis users whose sessions end).
    Other kinds are proven elsewhere (Keycloak, Gotify, Vaultwarden's admin page, healthy services).
    """
    if not isinstance(rotations, Mapping) or not isinstance(catalog, Mapping):
        raise RotateError("expected the catalog's rotations and the catalog, got %s and %s"
                          % (type(rotations).__name__, type(catalog).__name__))
    networks = _networks(containers)
    out = {"containers": [], "postgres": [], "redis": [], "mqtt": [], "sessions": {"postgres": [], "redis": []}}
    for secret in names:
        if secret not in rotations:
            raise RotateError("%s is not a secret of this host's services" % secret)
        spec = rotations[secret]
        server = SERVER_OF.get(spec["kind"])
        if server is None:
            continue
        entry = catalog.get(server) or {}
        if entry.get("container") not in networks:
            raise RotateError("%s: the server's container %s does not exist, nothing can prove the rotation"
                              % (secret, entry.get("container", server)))
        where = probe_network(spec["service"], networks[entry["container"]], network)
        if where is None:
            raise RotateError("%s: the server's container %s is on no network" % (secret, entry["container"]))
        probe = {"name": "kompose-day2-probe-%s-%s" % (server, where), "image": entry["image"], "network": where}
        if probe not in out["containers"]:
            out["containers"].append(probe)
        login = {"container": probe["name"], "host": entry["container"], "port": entry["port"]}
        if server == "postgres":
            login.update(user=spec.get("role", superuser), database=spec.get("database", "postgres"))
        else:
            login["user"] = spec.get("user", redis_admin)  # the Redis administrator is not a catalog user
        if server in out["sessions"]:
            out["sessions"][server].append(login["user"])
        out[server].extend([secret, which, login] for which in ("old", "new"))
    return out


def vaultwarden_override(result, container="vault_app"):
    """Why the rotation of Vaultwarden's admin token would not take effect ('' when it would).

    ``result``: the docker_container_exec result that printed Vaultwarden's /data/config.json (nothing when
    there is none). Settings saved in the admin page land there and win over the environment, so an
    ``admin_token`` in it would keep the old token working. Never returns the file's content.
    """
    if not isinstance(result, Mapping):
        raise RotateError("expected the result of reading %s, got %s" % (VAULTWARDEN_CONFIG, type(result).__name__))
    if result.get("skipped"):
        return ""
    where = "%s in %s" % (VAULTWARDEN_CONFIG, container)
    if result.get("rc") != 0:
        cause = result.get("msg") or (result.get("stderr") or "").strip() or "exit code %s" % result.get("rc")
        return ("could not read %s (%s): Vaultwarden must run, so that the rotation can check that its admin page "
                "takes the token from the environment" % (where, cause))
    text = (result.get("stdout") or "").strip()
    if not text:
        return ""
    try:
        settings = json.loads(text)
    except ValueError:
        settings = None
    if not isinstance(settings, Mapping):
        return "%s is not a JSON object: cannot tell whether it sets admin_token, which would override the environment" % where
    if settings.get("admin_token"):
        return ("%s sets admin_token, which overrides ADMIN_TOKEN from the environment: the old token would keep "
                "opening /admin. Remove admin_token from it (settings saved in the admin page land there), restart "
                "Vaultwarden, then rotate again" % where)
    return ""


def _postgres(result):
    if result.get("rc") == 0:
        return ACCEPTED
    return REFUSED if "password authentication failed" in (result.get("stderr") or "") else (result.get("stderr") or "").strip()


def _redis(result):
    out = (result.get("stdout") or "") + (result.get("stderr") or "")
    if (result.get("stdout") or "") == "PONG":
        return ACCEPTED
    return REFUSED if "WRONGPASS" in out else out.strip()


def _mqtt(result):
    if "not authori" in (result.get("stderr") or ""):
        return REFUSED
    return ACCEPTED if result.get("rc") == 0 else (result.get("stderr") or "").strip()


def _http(result):
    # Keycloak's introspection answers 401 to a client it does not authenticate, Gotify to an unknown token
    return REFUSED if result.get("status") == 401 else ACCEPTED


def _admin(result):
    # Vaultwarden's admin login: 401 for a wrong token, 200 (the admin page, a VW_ADMIN cookie) for the right one
    status = result.get("status")
    if status == 401:
        return REFUSED
    if status == 200 and "VW_ADMIN" in (result.get("cookies") or {}):
        return ACCEPTED
    return "HTTP %s" % status if status and status > 0 else (result.get("msg") or "no answer")


def answers(postgres=None, redis=None, mqtt=None, http=None, restarted=None, admin=None):
    """[secret, 'old' or 'new', answer] for every probe: ``accepted``, ``refused`` or what the server said.

    Each argument is a registered loop over [secret, 'old' or 'new', ...] (``restarted``: a
    docker_container_info loop over the `restart` secrets, each proven by its service running healthy;
    ``admin``: the logins to Vaultwarden's admin page).
    """
    out = []
    for register, judge in ((postgres, _postgres), (redis, _redis), (mqtt, _mqtt), (http, _http), (admin, _admin)):
        for result in _results(register):
            out.append([result["item"][0], result["item"][1], judge(result)])
    for result in _results(restarted):
        state = (result.get("container") or {}).get("State") or {}
        healthy = result.get("exists") and state.get("Running") and (state.get("Health") or {}).get("Status", "healthy") == "healthy"
        out.append([result["item"], "new", ACCEPTED if healthy else "service not running healthy"])
    return out


def failures(postgres=None, redis=None, mqtt=None, http=None, restarted=None, admin=None):
    """One line per probe that did not answer as it must (empty: every rotation is proven)."""
    lines = []
    for secret, which, answer in answers(postgres, redis, mqtt, http, restarted, admin):
        if answer != (REFUSED if which == "old" else ACCEPTED):
            said = answer if answer in (ACCEPTED, REFUSED) else "not checked: " + answer
            lines.append("%s: the %s value was %s" % (secret, which, said))
    return lines
