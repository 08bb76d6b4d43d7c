"""The runtime's config: validated whole, errors name the key path and the value, never a secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from service_doubles import ENV, example_config

from kompose_events.errors import EventsError
from kompose_events.service import cli
from kompose_events.service.config import validate


def _error(config: dict[str, Any], environ: dict[str, str] | None = None) -> str:
    with pytest.raises(EventsError) as caught:
        validate(config, ENV if environ is None else environ)
    text = str(caught.value)
    for secret in ENV.values():
        assert secret not in text
    return text


def test_the_example_config_is_valid() -> None:
    config = validate(example_config(), ENV)
    assert config.mqtt_host == "core-mqtt" and config.automation.client_id == "kompose-events"
    assert config.services["linkwarden"] == "http://links_app:3000"  # the trailing / dropped
    assert config.retry.max_attempts == 8 and config.retry.open_after == 3
    assert [source.name for source in config.sources] == ["vaultwarden", "alertmanager"]
    assert config.sources[0].interval == 0.5
    assert config.secret_names() == sorted(ENV)


def test_defaults_for_the_optional_sections() -> None:
    raw = {"mqtt": {"host": "core-mqtt"}, "automation": {"client_id": "k", "subscribe": ["kompose/#"]}, "rules": []}
    config = validate(raw, {})
    assert (config.listen_host, config.listen_port, config.mqtt_port, config.keepalive) == ("0.0.0.0", 9100, 1883, 30)
    assert config.redis is None and config.smtp is None and config.sources == ()
    assert config.http_timeout == 5.0 and config.retry.max_attempts == 8


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c.update(colour="blue"), 'colour: "blue" is not a key of config (keys: mqtt, automation, rules, '),
        (lambda c: c.pop("mqtt"), "mqtt: missing; config needs mqtt, automation, rules"),
        (lambda c: c["mqtt"].update(port="1883"), 'mqtt.port: "1883" is not an integer from 1 to 65535'),
        (lambda c: c["mqtt"].update(tls=True), "mqtt.tls: true is not a key of mqtt (keys: host, port, keepalive)"),
        (lambda c: c["automation"].update(subscribe=["kompose/#/x"]), 'automation.subscribe[0]: "kompose/#/x" has'),
        (lambda c: c["redis"].update(port=0), "redis.port: 0 is not an integer from 1 to 65535"),
        (lambda c: c["services"].update(umami="track_app:3000"), 'services.umami: "track_app:3000" is not a base'),
        (lambda c: c["credentials"]["linkwarden-token"].update(header="Bad Header"), 'header: "Bad Header" is not'),
        (lambda c: c["smtp"].update(username="events"), 'smtp.username: "events" with password_env null; give both'),
        (lambda c: c["smtp"].update(starttls="no"), 'smtp.starttls: "no" is not true or false'),
        (lambda c: c["retry"].update(cap_seconds=0.5), "retry.cap_seconds: 0.5 is below base_seconds 1.0"),
        (lambda c: c["retry"].update(max_attempts=0), "retry.max_attempts: 0 is not an integer from 1 to 1000"),
        (lambda c: c.update(http_timeout=0), "http_timeout: 0 is not a number above 0 and up to 300"),
        (lambda c: c["sources"][0].update(kind="syslog"), 'sources[0].kind: "syslog" is not a kind of source'),
        (lambda c: c["sources"][0].update(path="vaultwarden.log"), 'sources[0].path: "vaultwarden.log" is not an'),
        (lambda c: c["sources"][0].update(threshold=0), "sources[0].threshold: 0 is not an integer from 1 to"),
        (lambda c: c["sources"][1].update(interval=1), "sources[1].interval: 1 is not a key of sources[1]"),
        (lambda c: c["sources"][1].update(path="/metrics"), 'sources[1].path: "/metrics" is not a webhook path'),
        (lambda c: c["sources"][1].update(name="vaultwarden"), 'sources[1].name: "vaultwarden" is already the name'),
        (
            lambda c: c["sources"][1]["mqtt"].update(client_id="kompose-events"),
            'sources[1].mqtt.client_id: "kompose-events" is already used by automation.client_id',
        ),
    ],
)
def test_errors_name_the_key_and_the_value(change: Any, expected: str) -> None:
    config = example_config()
    change(config)
    assert expected in _error(config)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c["rules"][0]["do"].update(service="matomo"),
            'rules[0].do.service: "matomo" is not a known service',
        ),
        (
            lambda c: c["variables"].pop("umami_hostname"),
            'rules[0].do.body.payload.hostname.$var: "umami_hostname" is not a known variable',
        ),
        (
            lambda c: c["credentials"].clear(),
            'rules[1].do.credential: "linkwarden-token" is not a known credential (known: none)',
        ),
        (lambda c: c["gotify"].clear(), 'rules[2].do.application: "security" is not a known Gotify application'),
        (lambda c: c.update(smtp=None), 'rules[3].do.kind: "mail" needs the smtp settings, and smtp is null'),
        (
            lambda c: c["automation"].update(subscribe=["kompose/linkwarden/#"]),
            'rules[1].on: "kompose/news/article/published" matches kompose/news/article/published, which '
            'automation.subscribe ["kompose/linkwarden/#"] does not receive',
        ),
    ],
)
def test_rules_are_checked_against_what_the_config_provides(change: Any, expected: str) -> None:
    config = example_config()
    change(config)
    assert expected in _error(config)


def test_a_process_that_only_runs_sources() -> None:
    # a source beside its app (the vault stack's vault_events): no automation client, no rule
    sidecar = {
        "listen": {"host": "0.0.0.0", "port": 9100},
        "mqtt": {"host": "core-mqtt", "port": 1883, "keepalive": 30},
        "redis": {
            "host": "core-redis",
            "port": 6379,
            "username": "vault_events",
            "password_env": "EVENTS_REDIS",
            "prefix": "events:vaultwarden:",
        },
        "automation": None,
        "services": {},
        "credentials": {},
        "gotify": {},
        "smtp": None,
        "variables": {},
        "rules": [],
        "retry": {"base_seconds": 1, "cap_seconds": 300, "max_attempts": 8, "open_after": 3},
        "http_timeout": 5,
        "sources": [
            {
                "name": "vaultwarden",
                "kind": "vaultwarden-log",
                "path": "/var/log/vaultwarden/vaultwarden.log",
                "interval": 0.5,
                "threshold": 10,
                "window_seconds": 300,
                "mqtt": {
                    "client_id": "kompose-events-vaultwarden",
                    "username": "vault_events",
                    "password_env": "EVENTS_MQTT",
                },
            }
        ],
    }
    environ = {"EVENTS_REDIS": "r", "EVENTS_MQTT": "m"}
    config = validate(sidecar, environ)
    assert (
        config.automation is None
        and config.subscribe == ()
        and config.secret_names() == ["EVENTS_MQTT", "EVENTS_REDIS"]
    )
    sidecar["rules"] = example_config()["rules"][2:3]
    with pytest.raises(EventsError) as caught:
        validate(sidecar, environ)
    assert str(caught.value) == 'rules: ["vault-failure-to-gotify"] need the automation client, and automation is null'


def test_gotify_applications_need_the_gotify_service() -> None:
    config = example_config()
    del config["services"]["gotify"]
    config["rules"] = []
    assert (
        _error(config)
        == 'gotify: ["security"] are Gotify applications, but services has no gotify address to send them to'
    )


def test_a_missing_or_empty_secret_is_named_by_its_variable_never_shown() -> None:
    environ = dict(ENV, EVENTS_REDIS="")
    assert (
        _error(example_config(), environ)
        == 'redis.password_env: "EVENTS_REDIS" is not set in the environment (or empty)'
    )
    environ = {key: value for key, value in ENV.items() if key != "EVENTS_GOTIFY_SECURITY"}
    assert _error(example_config(), environ) == (
        'gotify.security.token_env: "EVENTS_GOTIFY_SECURITY" is not set in the environment (or empty)'
    )
    config = example_config()
    config["automation"]["password_env"] = "not a name"
    assert _error(config) == 'automation.password_env: "not a name" is not the name of an environment variable'


def test_a_secret_value_put_in_the_file_by_mistake_is_not_echoed_whole() -> None:
    # the value is shown shortened (80 characters at most), like every value in an error
    config = example_config()
    config["redis"]["password_env"] = "x" * 200
    text = _error(config)
    assert "x" * 100 not in text and text.startswith("redis.password_env: ")


# ---------------------------------------------------------------------------------------------
# kompose-events check


def _write(tmp_path: Path, config: Any) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config) if not isinstance(config, str) else config)
    return str(path)


def test_check_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    path = _write(tmp_path, example_config())
    assert cli.main(["check", "--config", path]) == 0
    assert capsys.readouterr().out == f"{path}: ok: 4 rule(s), sources: vaultwarden, alertmanager\n"
    broken = example_config()
    broken["rules"][0]["do"]["path"] = "api/send"
    assert cli.main(["check", "--config", _write(tmp_path, broken)]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith('kompose-events: rules[0].do.path: "api/send" is not a path on the service')
    for secret in ENV.values():
        assert secret not in captured.err + captured.out


def test_check_without_the_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, example_config())
    assert cli.main(["check", "--config", path]) == 1
    assert '"EVENTS_MQTT_AUTOMATION" is not set' in capsys.readouterr().err
    assert cli.main(["check", "--no-env", "--config", path]) == 0


def test_check_reports_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--config", _write(tmp_path, '{"mqtt": ')]) == 1
    assert "not JSON (Expecting value at line 1 column 10)" in capsys.readouterr().err
    assert cli.main(["check", "--config", str(tmp_path / "absent.json")]) == 1
    assert "cannot be read (No such file or directory)" in capsys.readouterr().err


def test_listen_networks_are_ipv4_networks() -> None:
    config = example_config()
    config["listen"]["networks"] = ["172.16.10.0/27"]
    assert validate(config, ENV).listen_networks == ("172.16.10.0/27",)
    assert validate(example_config(), ENV).listen_networks == ()
    config["listen"]["networks"] = ["172.16.10.0/27", "fd00::/64"]
    assert 'listen.networks[1]: "fd00::/64" is not an IPv4 network' in _error(config)
    config["listen"]["networks"] = "172.16.10.0/27"
    assert 'listen.networks: "172.16.10.0/27" is not a list' in _error(config)
