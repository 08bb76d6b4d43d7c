from __future__ import annotations

import yaml
import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils._compose import (
    LABEL, ComposeError, config_hashes, mounted_sources, stale_services, with_config_hashes)

COMPOSE = """\
# Managed by pivoine.kompose
name: core
services:
  redis:
    image: redis:7
    volumes:
      - redis-data:/data
      - ./redis/redis.conf:/usr/local/etc/redis/redis.conf:ro
      - ./redis/acl:/usr/local/etc/redis/acl
    labels:
      org.pivoine.kompose.stack: core
  mqtt:
    image: eclipse-mosquitto:2
    volumes:
      - type: bind
        source: ./mosquitto
        target: /mosquitto/config
    env_file: ./mqtt.env
  postgres:
    image: postgres:16
    volumes:
      - postgres-data:/var/lib/postgresql/data
      - /etc/localtime:/etc/localtime:ro
volumes:
  redis-data:
  postgres-data:
"""
FILES = {"redis/redis.conf": b"maxmemory 256mb\n", "mosquitto/acl": b"user a\n", "mosquitto/passwd": b"a:$7$\n",
         "mqtt.env": b"X=1\n", "redis/admin-password": b"secret\n"}


def test_mounted_sources_short_long_and_env_file():
    services = yaml.safe_load(COMPOSE)["services"]
    assert mounted_sources(services["redis"]) == ["redis/acl", "redis/redis.conf"]
    assert mounted_sources(services["mqtt"]) == ["mosquitto", "mqtt.env"]
    # named volumes and absolute host paths are not the stack's files
    assert mounted_sources(services["postgres"]) == []


def test_hash_covers_exactly_the_mounted_files():
    services = yaml.safe_load(COMPOSE)["services"]
    hashes = config_hashes(services, FILES)
    assert set(hashes) == {"redis", "mqtt"}
    # a file nobody mounts changes nothing
    assert config_hashes(services, dict(FILES, **{"redis/admin-password": b"other\n"})) == hashes
    # a file inside a mounted directory changes only that service
    changed = config_hashes(services, dict(FILES, **{"mosquitto/acl": b"user b\n"}))
    assert changed["mqtt"] != hashes["mqtt"] and changed["redis"] == hashes["redis"]
    changed = config_hashes(services, dict(FILES, **{"redis/redis.conf": b"maxmemory 300mb\n"}))
    assert changed["redis"] != hashes["redis"] and changed["mqtt"] == hashes["mqtt"]


def test_keyed_digest_differs_from_plain_and_is_stable():
    services = yaml.safe_load(COMPOSE)["services"]
    plain = config_hashes(services, FILES)
    keyed = config_hashes(services, FILES, key="k" * 32)
    assert keyed != plain and keyed == config_hashes(services, FILES, key="k" * 32)
    assert config_hashes(services, FILES, key="j" * 32) != keyed
    assert all(len(digest) == 16 for digest in keyed.values())


def test_labels_written_header_kept_rest_unchanged():
    text, hashes = with_config_hashes(COMPOSE, FILES)
    assert text.startswith("# Managed by pivoine.kompose\n")
    project = yaml.safe_load(text)
    original = yaml.safe_load(COMPOSE)
    assert project["services"]["redis"]["labels"] == {"org.pivoine.kompose.stack": "core", LABEL: hashes["redis"]}
    assert project["services"]["mqtt"]["labels"] == {LABEL: hashes["mqtt"]}
    assert "labels" not in project["services"]["postgres"]
    for service in project["services"].values():
        service.pop("labels", None)
    for service in original["services"].values():
        service.pop("labels", None)
    assert project == original
    # rendering twice gives the same text: the file does not churn
    assert with_config_hashes(COMPOSE, FILES) == (text, hashes)


def test_list_labels_replaced_not_duplicated():
    compose = "services:\n  a:\n    image: x\n    volumes: ['./a.conf:/a.conf']\n    labels: ['%s=old', 'k=v']\n" % LABEL
    text, hashes = with_config_hashes(compose, {"a.conf": b"1"})
    assert yaml.safe_load(text)["services"]["a"]["labels"] == ["k=v", "%s=%s" % (LABEL, hashes["a"])]


def test_no_mounts_leaves_text_alone():
    compose = "name: x\nservices:\n  a:\n    image: x # comment kept\n"
    assert with_config_hashes(compose, {"a.conf": b"1"}) == (compose, {})


@pytest.mark.parametrize("text", ["services: [a", "- just a list\n", "services: 3\n"])
def test_bad_compose_is_a_clear_error(text):
    with pytest.raises(ComposeError, match="compose.yaml"):
        with_config_hashes(text, {})


def test_stale_services():
    containers = [
        {"Labels": {"com.docker.compose.service": "redis", LABEL: "aaa"}},
        {"Labels": {"com.docker.compose.service": "mqtt", LABEL: "old"}},
        {"Labels": {"com.docker.compose.service": "postgres"}},
        {"Labels": None},
    ]
    assert stale_services(containers, {"redis": "aaa", "mqtt": "bbb", "otel": "ccc"}) == ["mqtt", "otel"]
    assert stale_services([], {}) == []
