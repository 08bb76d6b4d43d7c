"""The config: validated whole, every error names the key path and the value, never a secret."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ENV, raw_config

from kmps_portal.__main__ import main
from kmps_portal.config import load_config, validate
from kmps_portal.errors import ConfigError


def problem(raw: Any, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        validate(raw, ENV if environ is None else environ)
    return str(caught.value)


def test_the_test_config_is_valid_with_its_defaults() -> None:
    config = validate(raw_config(), ENV)
    assert config.keycloak.realm == "kompose"
    assert config.keycloak.public_url == "https://auth.example.org"
    assert config.keycloak.action_lifespan is None
    assert config.prometheus.backup_metric == "kompose_backup_last_success_timestamp_seconds"
    assert config.prometheus.cert_metric == "probe_ssl_earliest_cert_expiry"
    assert config.prometheus.backup_max_age_seconds == 93600
    assert config.database.port == 5432 and config.database.sslmode == "prefer"
    assert config.mqtt is not None and config.mqtt.topic_prefix == "kompose/system/audit" and config.mqtt.port == 1883
    assert config.csrf_max_age == 28800 and config.overview_timeout == 2.0 and config.restart_timeout == 10
    assert config.trusted_proxies == ()
    assert len(config.site.services) == 41 and config.site.stacks[0] == "auth"
    assert config.site.by_container()["core-postgres"].name == "postgres"
    assert config.secret_names() == ["KMPS_CSRF_SECRET", "KMPS_DATABASE_PASSWORD", "KMPS_KEYCLOAK_SECRET", "KMPS_MQTT_PASSWORD"]


def test_public_url_defaults_to_url_and_mqtt_may_be_null() -> None:
    raw = raw_config()
    del raw["keycloak"]["public_url"]
    raw["mqtt"] = None
    config = validate(raw, ENV)
    assert config.keycloak.public_url == "http://auth_keycloak:8080"
    assert config.mqtt is None
    assert "KMPS_MQTT_PASSWORD" not in config.secret_names()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r.pop("keycloak"), "keycloak: missing; config needs keycloak, docker,"),
        (lambda r: r.update(extra=1), "extra: 1 is not a key of config (keys: keycloak,"),
        (lambda r: r["keycloak"].update(realm="master"), 'keycloak.realm: "master" is the administration realm'),
        (lambda r: r["keycloak"].update(realm="a/b"), 'keycloak.realm: "a/b" is not a realm name'),
        (lambda r: r["keycloak"].update(url="ftp://x"), 'keycloak.url: "ftp://x" is not a base address'),
        (lambda r: r["docker"].update(url="http://proxy:2375?x=1"), 'docker.url: "http://proxy:2375?x=1" is not a base address'),
        (lambda r: r["keycloak"].update(secret_env="not a name"), 'keycloak.secret_env: "not a name" is not the name of an environment variable'),
        (lambda r: r["keycloak"].update(action_lifespan=5), "keycloak.action_lifespan: 5 is not an integer from 60 to 2592000"),
        (lambda r: r["prometheus"].update(cert_metric="up{job='x'}"), "prometheus.cert_metric: \"up{job='x'}\" is not a Prometheus metric name"),
        (lambda r: r["database"].update(port="5432"), 'database.port: "5432" is not an integer from 1 to 65535'),
        (lambda r: r.update(trusted_proxies="172.16.0.2"), 'trusted_proxies: "172.16.0.2" is not a list of addresses'),
        (lambda r: r.update(trusted_proxies=["172.16.0.0/27"]), 'trusted_proxies[0]: "172.16.0.0/27" is not an IP address'),
        (lambda r: r["database"].update(sslmode="maybe"), 'database.sslmode: "maybe" is not one of disable, allow'),
        (lambda r: r["mqtt"].update(topic_prefix="kompose/#"), 'mqtt.topic_prefix: "kompose/#" is not a topic prefix'),
        (lambda r: r.update(admin_group="/"), 'admin_group: "/" names no group'),
        (lambda r: r.update(overview_timeout=0), "overview_timeout: 0 is not a number above 0 and up to 60"),
        (lambda r: r["site"].update(domain="exa mple"), 'site.domain: "exa mple" is not a DNS domain'),
        (lambda r: r["site"]["stacks"].append("auth"), 'site.stacks[14]: "auth" is listed twice'),
        (lambda r: r["site"]["services"]["keycloak"].update(stack="nope"), 'site.services.keycloak.stack: "nope" is not one of site.stacks'),
        (lambda r: r["site"]["services"]["redis"].update(container="core-postgres"),
         'site.services.redis.container: "core-postgres" is already the container of postgres'),
        (lambda r: r["site"]["services"]["keycloak"].update(fqdn="auth..example.org"), 'site.services.keycloak.fqdn: "auth..example.org" is not a host name'),
        (lambda r: r["site"]["services"]["keycloak"].update(port=1), "site.services.keycloak.port: 1 is not a key of site.services.keycloak"),
    ],
)
def test_errors_name_the_key_path_and_the_value(change: Any, expected: str) -> None:
    raw = raw_config()
    change(raw)
    assert expected in problem(raw)


def test_a_secret_is_named_by_its_variable_never_shown() -> None:
    environ = dict(ENV, KMPS_KEYCLOAK_SECRET="")
    assert problem(raw_config(), environ) == 'keycloak.secret_env: "KMPS_KEYCLOAK_SECRET" is not set in the environment (or empty)'
    short = dict(ENV, KMPS_CSRF_SECRET="short-secret-value")
    text = problem(raw_config(), short)
    assert text == 'csrf_secret_env: "KMPS_CSRF_SECRET" holds 18 characters; it needs at least 32'
    assert "short-secret-value" not in text


def test_credentials_in_an_address_are_refused_without_echoing_them() -> None:
    raw = raw_config()
    raw["alertmanager"]["url"] = "http://admin:hunter2@watch_alertmanager:9093"
    text = problem(raw)
    assert text.startswith("alertmanager.url: the address holds credentials")
    assert "hunter2" not in text


def test_check_env_false_checks_names_only() -> None:
    config = validate(raw_config(), {}, check_env=False)
    assert config.csrf_secret_env == "KMPS_CSRF_SECRET"


def test_load_config_reports_unreadable_and_non_json_files(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(str(tmp_path / "absent.json"), ENV)
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not JSON \(Expecting property name enclosed in double quotes at line 1 column 2\)"):
        load_config(str(bad), ENV)


def test_check_command(tmp_path: Any, capsys: Any, monkeypatch: Any) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw_config()), encoding="utf-8")
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert main(["check", "--config", str(path)]) == 0
    assert "ok: realm kompose, 14 stack(s), 41 service(s)" in capsys.readouterr().out
    monkeypatch.delenv("KMPS_MQTT_PASSWORD")
    assert main(["check", "--config", str(path)]) == 1
    assert 'mqtt.password_env: "KMPS_MQTT_PASSWORD" is not set' in capsys.readouterr().err
    assert main(["check", "--no-env", "--config", str(path)]) == 0


def test_the_example_config_is_valid() -> None:
    from pathlib import Path

    config = load_config(str(Path(__file__).parent.parent / "config.example.json"), ENV)
    assert config.keycloak.realm == "kompose" and len(config.site.services) == 8
