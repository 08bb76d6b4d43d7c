"""The pivoine.kompose.stack action: which module it runs with which arguments, its own argument
checks, and drift / would_recreate / upgrading from the containers the module lists (a recorder
answers for the module, conftest.py)."""

from __future__ import annotations

import pytest
import yaml

from ansible.errors import AnsibleActionFail

from ansible_collections.pivoine.kompose.plugins.action.stack import ActionModule
from ansible_collections.pivoine.kompose.plugins.plugin_utils._compose import LABEL

COMPOSE = """\
name: core
services:
  redis:
    image: redis:7
    container_name: core-redis
    volumes: ['./redis.conf:/etc/redis.conf:ro']
  mqtt:
    image: eclipse-mosquitto:2
    container_name: core-mqtt
  worker:
    image: redis:7
  built:
    build: ./built
"""
ROOT = "/opt/kompose/core"
IMAGES = {"redis:7": "sha256:r7", "eclipse-mosquitto:2": "sha256:m2"}


def container(service, digest, image="redis:7", image_id="sha256:r7", state="running", status="Up 2 hours (healthy)"):
    return {"Names": ["/core-%s" % service], "Image": image, "ImageID": image_id, "State": state, "Status": status,
            "Labels": {"com.docker.compose.service": service, "com.docker.compose.project": "core", LABEL: digest}}


@pytest.fixture
def stack(tmp_path, make_action):
    """run(module answer, **args) -> (action result, recorder); the answer may be a function of the module's arguments."""
    (tmp_path / "templates" / "compose.yaml.j2").write_text(COMPOSE)
    (tmp_path / "templates" / "redis.conf.j2").write_text("maxmemory {{ maxmemory }}\n")

    def run(answer=None, task_vars=None, **changes):
        args = dict({"root": ROOT, "templates": [{"src": "compose.yaml.j2"}, {"src": "redis.conf.j2"}],
                     "project": "core", "network": "kompose", "holders": ["core-redis"]}, **changes)
        action, recorder = make_action(ActionModule, args, answer)
        return action.run(task_vars=dict({"maxmemory": "256mb"}, **(task_vars or {}))), recorder
    return run


def listing(containers, compose_state="unchanged", images=None, **more):
    """The stack module's answer: the files it wrote, the containers and images it listed."""
    def answer(module_args):
        files = [{"path": "%s/%s" % (ROOT, spec["path"]), "state": compose_state if spec["path"] == "compose.yaml" else "unchanged"}
                 for spec in module_args["files"]]
        hashes = {name: svc["labels"][LABEL]
                  for name, svc in yaml.safe_load(module_args["files"][-1]["content"])["services"].items()}
        return dict({"changed": False, "files": files, "images": dict(IMAGES) if images is None else images,
                     "containers": containers(hashes), "addresses": {"core-redis": "172.20.0.2"}}, **more)
    return answer


def as_rendered(hashes):
    return [container("redis", hashes["redis"]), container("mqtt", hashes["mqtt"], "eclipse-mosquitto:2", "sha256:m2"),
            container("worker", hashes["worker"]), container("built", hashes["built"], "core-built", "sha256:b")]


def test_inspect_runs_the_stack_module_with_the_rendered_images(stack):
    result, recorder = stack(listing(as_rendered))
    (call,) = recorder.calls
    assert call["module_name"] == "pivoine.kompose.stack"
    args = call["module_args"]
    # the images of the rendered compose file, once each, sorted; the action's own options stay here
    assert args["images"] == ["eclipse-mosquitto:2", "redis:7"]
    assert (args["project"], args["network"], args["inspect"], args["root"]) == ("core", "kompose", True, ROOT)
    assert not {"holders", "templates", "role", "hash_key"} & set(args)
    # everything runs as rendered: nothing to do
    assert (result["drift"], result["would_recreate"], result["upgrading"]) == ([], [], [])
    assert result["addresses"] == {"core-redis": "172.20.0.2"} and result["stack_exists"] is True
    assert "containers" not in result and "images" not in result  # consumed, not returned


def test_render_only_runs_the_lighter_module(stack):
    for inspect in (False, "no", "false", 0):
        result, recorder = stack({"changed": True, "files": [{"path": ROOT + "/compose.yaml", "state": "created"}]}, inspect=inspect)
        (call,) = recorder.calls
        assert call["module_name"] == "pivoine.kompose.stack_files"
        assert not {"project", "network", "inspect", "images", "holders"} & set(call["module_args"])
        assert (result["drift"], result["would_recreate"], result["upgrading"], result["addresses"]) == ([], [], [], {})
        assert result["stack_exists"] is False and set(result["config_hashes"]) == {"redis", "mqtt", "worker", "built"}


@pytest.mark.parametrize("changes, message", [
    ({"inspect": "maybe"}, "stack: inspect: "),
    ({"inspect": None}, "stack: inspect: "),
    ({"holders": "core-redis"}, "stack: holders must be a list of container names, got 'core-redis'"),
    ({"holders": {"core-redis": 1}}, "stack: holders must be a list"),
    ({"hash": "x"}, "Invalid options for pivoine.kompose.test: hash"),
])
def test_bad_arguments(stack, changes, message):
    with pytest.raises(AnsibleActionFail) as exc:
        stack(listing(as_rendered), **changes)
    assert message in str(exc.value)


def test_drift_and_would_recreate_after_a_changed_file(stack):
    # the containers carry the labels of the last render; now redis.conf changes
    old = stack(listing(as_rendered))[0]["config_hashes"]
    result, dummy = stack(listing(lambda hashes: as_rendered(old)), task_vars={"maxmemory": "512mb"})
    assert result["config_hashes"]["redis"] != old["redis"]
    assert result["drift"] == ["redis: definition or mounted files changed"]
    assert result["would_recreate"] == ["redis"]
    assert result["upgrading"] == []


def test_a_new_stack_would_recreate_nothing_yet(stack):
    result, dummy = stack(listing(lambda hashes: [], compose_state="created"))
    assert result["stack_exists"] is False and result["would_recreate"] == []
    assert result["drift"] == ["built: no container", "mqtt: no container", "redis: no container", "worker: no container"]


def test_drift_names_stopped_unhealthy_stale_images_and_orphans(stack):
    def containers(hashes):
        out = as_rendered(hashes)
        out[1].update(State="exited", Status="Exited (0) 1 minute ago")
        out[2].update(Status="Up 3 seconds (health: starting)")
        out[0].update(ImageID="sha256:r6")
        return out + [container("old", "x")]
    result, dummy = stack(listing(containers))
    assert result["drift"] == ["old: orphan container core-old", "mqtt: exited",
                               "redis: redis:7 resolves to sha256:r7, the container runs sha256:r6", "worker: starting"]
    assert result["would_recreate"] == []  # the labels match: no recreate, up just starts or replaces


def test_upgrading_lists_the_holders_that_would_start_another_image(stack):
    def containers(hashes):
        out = as_rendered(hashes)
        for item in out:
            item["Image"] = "redis:6" if item["Image"] == "redis:7" else item["Image"]
        return out
    result, dummy = stack(listing(containers), holders=["core-redis", "core-mqtt"])
    # worker runs redis:6 too but holds no data; mqtt holds data but keeps its image
    assert result["upgrading"] == [{"service": "redis", "container": "core-redis", "from": "redis:6", "to": "redis:7"}]
    assert stack(listing(containers), holders=[])[0]["upgrading"] == []


def test_a_failed_module_skips_the_comparison(stack):
    result, dummy = stack({"failed": True, "msg": "Error connecting: docker.sock"})
    assert result["failed"] and result["msg"] == "Error connecting: docker.sock"
    assert (result["drift"], result["would_recreate"], result["upgrading"], result["addresses"]) == ([], [], [], {})
    assert "config_hashes" not in result


def test_a_retried_task_runs_with_its_own_arguments_again(tmp_path, make_action):
    # `until:` runs the same task (and its arguments) again: the action must not consume them
    (tmp_path / "templates" / "compose.yaml.j2").write_text(COMPOSE)
    args = {"root": ROOT, "templates": [{"src": "compose.yaml.j2"}], "project": "core", "network": "kompose",
            "holders": ["core-redis"]}
    action, recorder = make_action(ActionModule, args, listing(as_rendered))
    first = action.run(task_vars={})
    second = action.run(task_vars={})
    assert [call["module_name"] for call in recorder.calls] == ["pivoine.kompose.stack"] * 2
    assert recorder.calls[0]["module_args"] == recorder.calls[1]["module_args"]
    assert (recorder.calls[1]["module_args"]["project"], recorder.calls[1]["module_args"]["network"]) == ("core", "kompose")
    assert first["config_hashes"] == second["config_hashes"]
    assert set(action._task.args) == {"root", "templates", "project", "network", "holders"}
