"""The runtime's config: validated whole, errors name the key path and the value, never a secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from service_doubles import DATABASE_ENV, ENV, example_config, polled_sources

from kompose_events.errors import EventsError
from kompose_events.service import cli
from kompose_events.service.config import DatabaseSettings, ProbeTarget, validate


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


# ---------------------------------------------------------------------------------------------
# the database sources and the health probe

ALL_ENV = {**ENV, **DATABASE_ENV}


def _with_polled() -> dict[str, Any]:
    config = example_config()
    config["sources"] += polled_sources()
    return config


def _polled_error(change: Any) -> str:
    config = _with_polled()
    change(config)
    text = _error(config, ALL_ENV)
    for secret in DATABASE_ENV.values():
        assert secret not in text
    return text


def test_the_database_sources_and_the_probe() -> None:
    config = validate(_with_polled(), ALL_ENV)
    links, umami, letters, probe = config.sources[2:]
    assert (links.kind, links.interval, links.settle_seconds, links.batch, links.stats) == (
        "linkwarden-db", 5.0, 5, 100, True
    )
    assert links.database == DatabaseSettings("linkwarden_db", 5432, "linkwarden", "linkwarden_events",
                                              "EVENTS_DB_LINKWARDEN")
    assert umami.websites == ("3f2c1a9e-7b4d-4c1e-9a0b-2d6f8e1c5a47",)  # canonical form
    assert (umami.interval, umami.settle_seconds, umami.batch) == (5.0, 5, 100)  # the defaults
    assert letters.article_url == "https://news.example.org/archive/{id}"
    assert probe.targets == (
        ProbeTarget("umami", "http://track_app:3000/api/heartbeat", "umami"),
        ProbeTarget("gotify", "http://messaging_gotify:80/health", None),
    )
    assert (probe.interval, probe.timeout) == (60.0, 5.0)
    assert config.secret_names() == sorted(ALL_ENV)


def test_the_defaults_of_the_new_kinds() -> None:
    config = example_config()
    config["sources"] = [
        {"name": "letterspace", "kind": "letterspace-db", "mqtt": {"client_id": "l"},
         "database": {"host": "db", "dbname": "letterspace", "user": "ro", "password_env": "EVENTS_DB_LETTERSPACE"}},
        {"name": "umami", "kind": "umami-db", "mqtt": {"client_id": "u"},
         "database": {"host": "db", "dbname": "umami", "user": "ro", "password_env": "EVENTS_DB_UMAMI"}},
        {"name": "probe", "kind": "health-probe", "mqtt": {"client_id": "p"},
         "targets": [{"check": "web", "url": "https://example.org/"}]},
    ]
    letters, umami, probe = validate(config, ALL_ENV).sources
    assert letters.database is not None and letters.database.port == 5432 and letters.article_url is None
    assert umami.websites == ()
    assert (probe.interval, probe.timeout, probe.targets[0].service) == (60.0, 5.0, None)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c["sources"][2].pop("database"),
            "sources[2].database: missing; sources[2] needs name, kind, mqtt, database",
        ),
        (
            lambda c: c["sources"][2]["database"].pop("user"),
            "sources[2].database.user: missing; sources[2].database needs",
        ),
        (
            lambda c: c["sources"][2]["database"].update(port="5432"),
            'sources[2].database.port: "5432" is not an integer',
        ),
        (
            lambda c: c["sources"][2]["database"].update(password="x"),
            'sources[2].database.password: "x" is not a key of',
        ),
        (
            lambda c: c["sources"][2]["database"].update(host=""),
            'sources[2].database.host: "" is not a non-empty string',
        ),
        (
            lambda c: c["sources"][2].update(settle_seconds=-1),
            "sources[2].settle_seconds: -1 is not an integer from 0 to 3600",
        ),
        (lambda c: c["sources"][2].update(settle_seconds=2.5), "sources[2].settle_seconds: 2.5 is not an integer"),
        (lambda c: c["sources"][2].update(batch=0), "sources[2].batch: 0 is not an integer from 1 to 10000"),
        (lambda c: c["sources"][2].update(interval=0), "sources[2].interval: 0 is not a number above 0 and up to 3600"),
        (lambda c: c["sources"][2].update(stats="yes"), 'sources[2].stats: "yes" is not true or false'),
        (
            lambda c: c["sources"][2].update(websites=[]),
            "sources[2].websites: [] is not a key of sources[2] (keys: name",
        ),
        (
            lambda c: c["sources"][3].update(websites="3f2c1a9e"),
            'sources[3].websites: "3f2c1a9e" is not a list of website',
        ),
        (
            lambda c: c["sources"][3]["websites"].append("blog"),
            'sources[3].websites[1]: "blog" is not a website id (a UUID)',
        ),
        (lambda c: c["sources"][3].update(stats=False), "sources[3].stats: false is not a key of sources[3]"),
        (
            lambda c: c["sources"][4].update(article_url="https://news.example.org/archive"),
            'sources[4].article_url: "https://news.example.org/archive" is not a URL template with {id}',
        ),
        (
            lambda c: c["sources"][4].update(article_url="mailto:{id}@example.org"),
            'sources[4].article_url: "mailto:{id}@example.org" is not an http(s) URL template',
        ),
        (lambda c: c["sources"][5].update(targets=[]), "sources[5].targets: [] is not a non-empty list of targets"),
        (
            lambda c: c["sources"][5].pop("targets"),
            "sources[5].targets: missing; sources[5] needs name, kind, mqtt, targets",
        ),
        (
            lambda c: c["sources"][5]["targets"][1].update(check="umami"),
            'sources[5].targets[1].check: "umami" is already the check of sources[5].targets[0]',
        ),
        (
            lambda c: c["sources"][5]["targets"][0].update(url="ftp://x/"),
            'sources[5].targets[0].url: "ftp://x/" is not an http(s) URL',
        ),
        (
            lambda c: c["sources"][5]["targets"][0].update(url="http://admin:pw@track_app/"),
            'sources[5].targets[0].url: "http://admin:pw@track_app/" '
            "is not an http(s) URL (with a host, without a user",
        ),
        (
            lambda c: c["sources"][5]["targets"][0].update(url="http://h:0/"),
            'sources[5].targets[0].url: "http://h:0/" is not',
        ),
        (
            lambda c: c["sources"][5]["targets"][0].pop("check"),
            "sources[5].targets[0].check: missing; sources[5].targets[0] needs check, url",
        ),
        (
            lambda c: c["sources"][5]["targets"][0].update(service=""),
            'sources[5].targets[0].service: "" is not a non-empty string',
        ),
        (lambda c: c["sources"][5].update(timeout=0), "sources[5].timeout: 0 is not a number above 0 and up to 300"),
        (
            lambda c: c["sources"][5].update(path="/x"),
            'sources[5].path: "/x" is not a key of sources[5] (keys: name, kind, mqtt, targets, interval, timeout)',
        ),
        (
            lambda c: c["sources"][5].update(kind="probe"),
            'sources[5].kind: "probe" is not a kind of source (vaultwarden-log, alertmanager-webhook, '
            "linkwarden-db, umami-db, letterspace-db, health-probe)",
        ),
    ],
)
def test_errors_of_the_new_kinds_name_the_key_and_the_value(change: Any, expected: str) -> None:
    assert expected in _polled_error(change)


def test_a_database_password_is_named_by_its_variable() -> None:
    environ = {**ALL_ENV, "EVENTS_DB_UMAMI": ""}
    config = _with_polled()
    assert _error(config, environ) == (
        'sources[3].database.password_env: "EVENTS_DB_UMAMI" is not set in the environment (or empty)'
    )
    config["sources"][3]["database"]["password_env"] = "db-umami-secret!"
    assert "is not the name of an environment variable" in _error(config, ALL_ENV)
