from __future__ import annotations

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils._rotate import RotateError, failures


def loop(*results):
    return {"results": list(results)}


def test_every_rotation_proven():
    assert failures(
        loop({"item": ["postgres-keycloak", "old"], "rc": 2, "stderr": "FATAL:  password authentication failed for user"},
             {"item": ["postgres-keycloak", "new"], "rc": 0, "stderr": ""}),
        redis=loop({"item": ["redis-admin", "old"], "stdout": "", "stderr": "WRONGPASS invalid username-password pair"},
                   {"item": ["redis-admin", "new"], "stdout": "PONG", "stderr": ""}),
        mqtt=loop({"item": ["mqtt-healthcheck", "old"], "rc": 5, "stderr": "Connection error: Connection Refused: not authorised."},
                  {"item": ["mqtt-healthcheck", "new"], "rc": 0, "stderr": ""}),
        http=loop({"item": ["oauth2_proxy-client", "old"], "status": 401}, {"item": ["oauth2_proxy-client", "new"], "status": 200}),
        restarted=loop({"item": "oauth2_proxy-cookie", "exists": True,
                        "container": {"State": {"Running": True, "Health": {"Status": "healthy"}}}})) == []


def test_an_old_value_still_accepted_and_an_unclear_answer():
    assert failures(loop({"item": ["postgres-alpha", "old"], "rc": 0, "stderr": ""},
                         {"item": ["postgres-alpha", "new"], "rc": 2, "stderr": "could not connect to server\n"})) == [
        "postgres-alpha: the old value was accepted", "postgres-alpha: the new value was not checked: could not connect to server"]


def test_skipped_probes_and_an_unhealthy_service():
    assert failures({"skipped": True}, mqtt=None, restarted=loop(
        {"item": "grafana-secret", "exists": True, "container": {"State": {"Running": True, "Health": {"Status": "starting"}}}},
        {"item": "other", "exists": False, "container": None})) == [
        "grafana-secret: the new value was not checked: service not running healthy",
        "other: the new value was not checked: service not running healthy"]


def test_not_a_registered_result():
    with pytest.raises(RotateError, match="registered loop result"):
        failures(["x"])
