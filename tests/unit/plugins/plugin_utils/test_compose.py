from __future__ import annotations

import yaml
import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils._compose import (
    LABEL, ComposeError, config_hashes, mounted_sources, not_ready, stack_drift, stale_services, upgrading, with_config_hashes)

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
    assert set(hashes) == {"redis", "mqtt", "postgres"}
    # a file nobody mounts changes nothing
    assert config_hashes(services, dict(FILES, **{"redis/admin-password": b"other\n"})) == hashes
    # a file inside a mounted directory changes only that service
    changed = config_hashes(services, dict(FILES, **{"mosquitto/acl": b"user b\n"}))
    assert changed["mqtt"] != hashes["mqtt"] and changed["redis"] == hashes["redis"]
    changed = config_hashes(services, dict(FILES, **{"redis/redis.conf": b"maxmemory 300mb\n"}))
    assert changed["redis"] != hashes["redis"] and changed["mqtt"] == hashes["mqtt"]


def test_hash_covers_the_definition_and_the_project_networks_not_its_own_label():
    project = yaml.safe_load(COMPOSE)
    hashes = config_hashes(project["services"], FILES, project=project)
    edited = yaml.safe_load(COMPOSE)
    edited["services"]["postgres"]["environment"] = {"TZ": "UTC"}
    changed = config_hashes(edited["services"], FILES, project=edited)
    assert changed["postgres"] != hashes["postgres"] and changed["redis"] == hashes["redis"]
    # a top-level change (networks, volumes) counts for every service
    edited = yaml.safe_load(COMPOSE)
    edited["networks"] = {"default": {"name": "kompose", "external": True}}
    changed = config_hashes(edited["services"], FILES, project=edited)
    assert all(changed[name] != hashes[name] for name in hashes)
    # the label the digest is written to does not count, so stamping is stable
    stamped = yaml.safe_load(with_config_hashes(COMPOSE, FILES)[0])
    assert config_hashes(stamped["services"], FILES, project=stamped) == hashes


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
    # every service carries its stack (the project's name), stamped like the digest
    assert project["services"]["mqtt"]["labels"] == {"org.pivoine.kompose.stack": "core", LABEL: hashes["mqtt"]}
    assert project["services"]["postgres"]["labels"] == {"org.pivoine.kompose.stack": "core", LABEL: hashes["postgres"]}
    for service in project["services"].values():
        service.pop("labels", None)
    for service in original["services"].values():
        service.pop("labels", None)
    assert project == original
    # rendering twice gives the same text: the file does not churn
    assert with_config_hashes(COMPOSE, FILES) == (text, hashes)
    # the stamped labels do not count: the stamped text gives the same digests
    assert with_config_hashes(text, FILES)[1] == hashes


def test_the_stack_label_is_the_project_name_and_not_a_template_choice():
    text, dummy = with_config_hashes(COMPOSE.replace("org.pivoine.kompose.stack: core", "org.pivoine.kompose.stack: other"), FILES)
    assert yaml.safe_load(text)["services"]["redis"]["labels"]["org.pivoine.kompose.stack"] == "core"


def test_list_labels_replaced_not_duplicated():
    compose = "services:\n  a:\n    image: x\n    volumes: ['./a.conf:/a.conf']\n    labels: ['%s=old', 'k=v']\n" % LABEL
    text, hashes = with_config_hashes(compose, {"a.conf": b"1"})
    assert yaml.safe_load(text)["services"]["a"]["labels"] == ["k=v", "%s=%s" % (LABEL, hashes["a"])]


def test_no_services_leaves_text_alone():
    compose = "name: x # comment kept\nservices: {}\n"
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


def _container(service, digest, state="running", status="Up 3 minutes (healthy)", image="redis:7", image_id="sha256:r"):
    return {"Names": ["/core-%s" % service], "Image": image, "ImageID": image_id, "State": state, "Status": status,
            "Labels": {"com.docker.compose.service": service, LABEL: digest}}


SERVICES = {"redis": {"image": "redis:7", "container_name": "core-redis"},
            "mqtt": {"image": "mosquitto:2", "container_name": "core-mqtt"}}
HASHES = {"redis": "aaa", "mqtt": "bbb"}
IMAGES = {"redis:7": "sha256:r", "mosquitto:2": "sha256:m"}


def _running():
    return [_container("redis", "aaa"), _container("mqtt", "bbb", status="Up 1 hour", image="mosquitto:2", image_id="sha256:m")]


def test_drift_none_when_everything_runs_as_rendered():
    assert stack_drift(SERVICES, HASHES, _running(), IMAGES) == []


@pytest.mark.parametrize("change, reason", [
    (lambda c: c[0]["Labels"].update({LABEL: "old"}), "redis: definition or mounted files changed"),
    (lambda c: c.pop(1), "mqtt: no container"),
    (lambda c: c[0].update(State="exited", Status="Exited (1) 2 minutes ago"), "redis: exited"),
    (lambda c: c[0].update(Status="Up 1 minute (unhealthy)"), "redis: unhealthy"),
    (lambda c: c[0].update(Status="Up 2 seconds (health: starting)"), "redis: starting"),
    (lambda c: c[0].update(ImageID="sha256:older"), "redis: redis:7 resolves to sha256:r, the container runs sha256:older"),
    (lambda c: c.append(_container("old", "x")), "old: orphan container core-old"),
])
def test_drift_names_the_service_and_what_differs(change, reason):
    containers = _running()
    change(containers)
    assert stack_drift(SERVICES, HASHES, containers, IMAGES) == [reason]


def test_drift_when_the_image_is_gone_from_the_host():
    assert stack_drift(SERVICES, HASHES, _running(), dict(IMAGES, **{"redis:7": None})) == [
        "redis: redis:7 resolves to no image on the host, the container runs sha256:r"]


def test_upgrading_only_the_holders_with_another_image_reference():
    containers = _running()
    containers[0]["Image"] = "redis:6"
    containers[1]["Image"] = "mosquitto:1"
    assert upgrading(SERVICES, containers, {"core-redis"}) == [
        {"service": "redis", "container": "core-redis", "from": "redis:6", "to": "redis:7"}]
    assert upgrading(SERVICES, _running(), {"core-redis", "core-mqtt"}) == []


def test_a_scaled_service_is_stale_while_any_of_its_containers_is():
    replicas = [_container("redis", "aaa"), _container("redis", "old")]
    assert stale_services(replicas + [_container("mqtt", "bbb")], HASHES) == ["redis"]
    assert stale_services([_container("redis", "aaa"), _container("redis", "aaa"), _container("mqtt", "bbb")], HASHES) == []
    running = replicas + [_container("mqtt", "bbb", status="Up 1 hour", image="mosquitto:2", image_id="sha256:m")]
    assert stack_drift(SERVICES, HASHES, running, IMAGES) == ["redis: definition or mounted files changed"]


def test_not_ready_names_what_is_not_running_or_not_yet_healthy():
    ps = [
        {"Name": "core-postgres", "State": "running", "Health": "healthy"},
        {"Name": "core-redis", "State": "running", "Health": "starting"},
        {"Name": "core-mqtt", "State": "running", "Health": "unhealthy"},
        {"Name": "watch_otel", "State": "running", "Health": ""},
        {"Name": "watch_cadvisor", "State": "exited", "Health": ""},
        {"Name": "watch_alertmanager", "State": "restarting", "Health": "unhealthy"},
    ]
    assert not_ready(ps) == ["core-redis", "core-mqtt", "watch_cadvisor", "watch_alertmanager"]


def test_not_ready_none_when_everything_runs_healthy():
    assert not_ready([{"Name": "a", "State": "running", "Health": "healthy"}, {"Name": "b", "State": "running"}]) == []
    assert not_ready(None) == []


def test_drift_when_a_container_is_off_its_networks_or_on_another():
    services = {"redis": dict(SERVICES["redis"], networks={"kompose-umami": {}, "kompose-redis": {"ipv4_address": "172.16.0.3"}}),
                "mqtt": dict(SERVICES["mqtt"], network_mode="none")}
    containers = _running()
    containers[0]["NetworkSettings"] = {"Networks": {"kompose-redis": {}, "kompose": {}}}
    containers[1]["NetworkSettings"] = {"Networks": {"none": {}}}
    assert stack_drift(services, HASHES, containers, IMAGES) == [
        "redis: networks differ (not on kompose-umami; also on kompose)"]
    containers[0]["NetworkSettings"]["Networks"] = {"kompose-redis": {}, "kompose-umami": {}}
    assert stack_drift(services, HASHES, containers, IMAGES) == []
    containers[1]["NetworkSettings"]["Networks"] = {"kompose-mqtt": {}}
    assert stack_drift(services, HASHES, containers, IMAGES) == ["mqtt: networks differ (not on none; also on kompose-mqtt)"]


def test_no_network_drift_for_a_service_that_names_no_networks():
    containers = _running()
    containers[0]["NetworkSettings"] = {"Networks": {"core_default": {}}}
    assert stack_drift(SERVICES, HASHES, containers, IMAGES) == []
