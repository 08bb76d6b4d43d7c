from __future__ import annotations

import datetime

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils._status import StatusError, table

NOW = datetime.datetime(2026, 12, 5, 12, 0, 0, tzinfo=datetime.timezone.utc).timestamp()


def inspected(name, stack, running=True, health="healthy", label="h1", started="2026-12-04T10:29:30.123456789Z"):
    state = {"Status": "running" if running else "exited", "Running": running, "StartedAt": started}
    if health:
        state["Health"] = {"Status": health}
    labels = {"org.pivoine.kompose.config-hash": label} if label else {}
    config = {"Image": "kompose-lab/%s:1" % name, "Labels": labels}
    return {"item": {"name": name, "stack": stack, "container": "%s-%s" % (stack, name), "image": "x:1"}, "exists": True,
            "container": {"State": state, "RestartCount": 2, "Config": config}}


def test_rows_state_uptime_and_config():
    results = [inspected("redis", "core"), inspected("mqtt", "core", label="old"),
               inspected("grafana", "watch", running=False, health=None, label=""),
               {"item": {"name": "umami", "stack": "track", "container": "track-app", "image": "umami:3"}, "exists": False}]
    lines = table(results, {"redis": "h1", "mqtt": "h2"}, NOW, [], "/b")
    assert lines[0].split() == ["STACK", "CONTAINER", "IMAGE", "STATE", "UPTIME", "RESTARTS", "CONFIG"]
    assert lines[1].split() == ["core", "core-redis", "kompose-lab/redis:1", "running/healthy", "1d01h30m", "2", "current"]
    assert lines[2].endswith("DRIFT: up would recreate it")
    assert lines[3].split()[3:6] == ["exited", "-", "2"] and lines[3].endswith("n/a (mounts no rendered file)")
    assert lines[4].split() == ["track", "track-app", "umami:3", "MISSING", "-", "-", "-"]
    assert lines[5] == "last backup: none in /b"


def test_newest_backup_and_certificates():
    certs = [{"item": {"domain": {"main": "a.example.com"}}, "not_after": "20270301000000Z"}, {"skipped": True}]
    lines = table([], {}, NOW, ["20261204T060000Z", "20261205T060000Z", "junk"], "/b", certs, "/acme.json")
    assert lines[1:] == ["last backup: 20261205T060000Z (6.0 h ago) in /b", "certificate a.example.com: expires 20270301000000Z"]
    assert table([], {}, NOW, [], "/b", [], "/acme.json")[-1] == "certificates: none found in /acme.json"
    assert not any(line.startswith("certificate") for line in table([], {}, NOW, [], "/b", None))


def test_bad_time_stamp_is_named():
    with pytest.raises(StatusError, match="not a UTC time stamp: 'yesterday'"):
        table([inspected("redis", "core", started="yesterday")], {}, NOW, [], "/b")
