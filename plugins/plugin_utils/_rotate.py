# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the servers answered to the old and the new credentials of a rotation
(roles/day2/tasks/rotate_verify.yml): each old value must be refused, each new one accepted,
and each service holding a rotated `restart` secret must run healthy."""

from __future__ import annotations

ACCEPTED, REFUSED = "accepted", "refused"


class RotateError(ValueError):
    pass


def _results(register):
    """The loop results of a registered task (none when it was skipped or not run)."""
    if register is None:
        return []
    if not isinstance(register, dict):
        raise RotateError("expected a registered loop result, got %s" % type(register).__name__)
    return register.get("results") or []


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


def answers(postgres=None, redis=None, mqtt=None, http=None, restarted=None):
    """[secret, 'old' or 'new', answer] for every probe: ``accepted``, ``refused`` or what the server said.

    Each argument is a registered loop over [secret, 'old' or 'new'] (``restarted``: a
    docker_container_info loop over the `restart` secrets, each proven by its service running healthy).
    """
    out = []
    for register, judge in ((postgres, _postgres), (redis, _redis), (mqtt, _mqtt), (http, _http)):
        for result in _results(register):
            out.append([result["item"][0], result["item"][1], judge(result)])
    for result in _results(restarted):
        state = (result.get("container") or {}).get("State") or {}
        healthy = result.get("exists") and state.get("Running") and (state.get("Health") or {}).get("Status", "healthy") == "healthy"
        out.append([result["item"], "new", ACCEPTED if healthy else "service not running healthy"])
    return out


def failures(postgres=None, redis=None, mqtt=None, http=None, restarted=None):
    """One line per probe that did not answer as it must (empty: every rotation is proven)."""
    lines = []
    for secret, which, answer in answers(postgres, redis, mqtt, http, restarted):
        if answer != (REFUSED if which == "old" else ACCEPTED):
            said = answer if answer in (ACCEPTED, REFUSED) else "not checked: " + answer
            lines.append("%s: the %s value was %s" % (secret, which, said))
    return lines
