"""The pivoine.kompose.stack_files action: its argument checks, the file specs it hands to the module
(templates rendered on the controller, compose.yaml last, secrets as secret_content) and the
config-hash labels stamped into compose.yaml; _execute_module is a recorder (conftest.py)."""

from __future__ import annotations

import copy
import os

import pytest
import yaml

from ansible.errors import AnsibleActionFail

from ansible_collections.pivoine.kompose.plugins.action import stack_files
from ansible_collections.pivoine.kompose.plugins.action.stack_files import ActionModule
from ansible_collections.pivoine.kompose.plugins.plugin_utils._compose import LABEL, STACK_LABEL

COMPOSE = """\
# Managed by pivoine.kompose
name: core
services:
  app:
    image: "{{ app_image }}"
    volumes:
      - ./app/app.conf:/etc/app.conf:ro
      - ./app/secrets:/run/secrets:ro
  db:
    image: postgres:16
    env_file: ./db.env
  seed:
    image: busybox:1
    volumes:
      - ./seed:/docker-entrypoint-initdb.d:ro
"""
APP_CONF = "level={{ level }}\n{% if debug %}\ndebug=true\n{% endif %}\n{% include 'footer.j2' %}\n"
VARS = {"app_image": "app:1", "level": "info", "debug": True, "ansible_search_path": []}


@pytest.fixture
def stack(tmp_path, make_action):
    """run(args changes, vars changes, result) -> (action result, the module's arguments); templates in tmp_path."""
    templates = tmp_path / "templates"
    (templates / "compose.yaml.j2").write_text(COMPOSE)
    (templates / "app.conf.j2").write_text(APP_CONF)
    (templates / "footer.j2").write_text("# end {{ level }}\n")

    def run(result=None, task_vars=None, **changes):
        args = {"root": "/opt/kompose/core", "root_mode": "0755", "directories": [{"path": "app/secrets", "mode": "0700"}],
                "templates": [{"src": "compose.yaml.j2"}, {"src": "app.conf.j2", "dest": "app/app.conf", "mode": "0640", "owner": None}],
                "files": [{"path": "app/secrets/token", "secret_content": "t0k", "mode": "0600"},
                          {"path": "db.env", "content": "X=1\n", "secret": True},
                          {"path": "seed/init.sql", "content": "create table t();\n", "force": False},
                          {"path": "seed/notes.txt", "content": "read once\n", "recreate": False}]}
        args.update(copy.deepcopy(changes))
        before = copy.deepcopy(args)
        action, recorder = make_action(ActionModule, args, result)
        out = action.run(task_vars=dict(VARS, **(task_vars or {})))
        assert args == before  # the task's own arguments are not changed
        assert len(recorder.calls) == 1 and recorder.calls[0]["module_name"] == "pivoine.kompose.stack_files"
        return out, recorder.calls[0]["module_args"]
    return run


def specs(module_args):
    return {spec["path"]: spec for spec in module_args["files"]}


def test_templates_rendered_on_the_controller_compose_last(stack):
    result, module_args = stack()
    assert [spec["path"] for spec in module_args["files"]] == [
        "app/app.conf", "app/secrets/token", "db.env", "seed/init.sql", "seed/notes.txt", "compose.yaml"]
    files = specs(module_args)
    # trim_blocks, the task's vars, includes from the templates dir; dest, else the src without .j2
    assert files["app/app.conf"] == {"path": "app/app.conf", "mode": "0640", "content": "level=info\ndebug=true\n# end info\n"}
    assert {k: v for k, v in module_args.items() if k != "files"} == {
        "root": "/opt/kompose/core", "root_mode": "0755", "directories": [{"path": "app/secrets", "mode": "0700"}]}
    # the action's own options never reach the module; neither does recreate
    assert "recreate" not in files["seed/notes.txt"] and "templates" not in module_args
    compose = yaml.safe_load(files["compose.yaml"]["content"])
    assert files["compose.yaml"]["content"].startswith("# Managed by pivoine.kompose\n")
    assert compose["services"]["app"]["image"] == "app:1"
    assert result["changed"] is True and set(result["config_hashes"]) == {"app", "db", "seed"}


def test_secret_files_go_as_secret_content(stack, tmp_path):
    (tmp_path / "templates" / "token.j2").write_text("{{ level }}-token")
    result, module_args = stack(templates=[{"src": "token.j2", "dest": "app/secrets/other", "secret": True}])
    files = specs(module_args)
    assert files["app/secrets/other"] == {"path": "app/secrets/other", "secret": True, "secret_content": "info-token"}
    assert files["db.env"] == {"path": "db.env", "secret": True, "secret_content": "X=1\n"}
    assert files["app/secrets/token"] == {"path": "app/secrets/token", "secret_content": "t0k", "mode": "0600"}
    assert result["config_hashes"] == {}  # no compose.yaml among the templates: nothing stamped


def test_labels_in_compose_are_the_returned_hashes(stack):
    result, module_args = stack()
    services = yaml.safe_load(specs(module_args)["compose.yaml"]["content"])["services"]
    assert {name: svc["labels"][LABEL] for name, svc in services.items()} == result["config_hashes"]
    assert all(svc["labels"][STACK_LABEL] == "core" for svc in services.values())


@pytest.mark.parametrize("change, recreated", [
    # a mounted template, a file in a mounted directory, an env_file, a service's own definition
    ({"task_vars": {"level": "debug"}}, {"app"}),
    ({"files": [{"path": "app/secrets/token", "secret_content": "other"}, {"path": "db.env", "content": "X=1\n", "secret": True},
                {"path": "seed/init.sql", "content": "create table t();\n", "force": False}]}, {"app"}),
    ({"files": [{"path": "app/secrets/token", "secret_content": "t0k", "mode": "0600"}, {"path": "db.env", "content": "X=2\n"},
                {"path": "seed/init.sql", "content": "create table t();\n", "force": False}]}, {"db"}),
    ({"task_vars": {"app_image": "app:2"}}, {"app"}),
    # a seed the service keeps itself (force: false), a file read once (recreate: false), a file nothing
    # mounts, a mode: no recreate
    ({"files": [{"path": "app/secrets/token", "secret_content": "t0k", "mode": "0600"}, {"path": "db.env", "content": "X=1\n", "secret": True},
                {"path": "seed/init.sql", "content": "drop table t;\n", "force": False},
                {"path": "seed/notes.txt", "content": "changed\n", "recreate": False},
                {"path": "unmounted.txt", "content": "x"}]}, set()),
    ({"files": [{"path": "app/secrets/token", "secret_content": "t0k", "mode": "0644"}, {"path": "db.env", "content": "X=1\n", "secret": True},
                {"path": "seed/init.sql", "content": "create table t();\n", "force": False},
                {"path": "seed/notes.txt", "content": "read once\n", "recreate": False}]}, set()),
])
def test_hashes_change_exactly_for_the_services_to_recreate(stack, change, recreated):
    before = stack()[0]["config_hashes"]
    after = stack(**change)[0]["config_hashes"]
    assert {name for name in before if before[name] != after[name]} == recreated


def test_a_file_in_a_mounted_directory_counts_unless_exempt(stack):
    base = stack()[0]["config_hashes"]
    files = [{"path": "app/secrets/token", "secret_content": "t0k", "mode": "0600"}, {"path": "db.env", "content": "X=1\n", "secret": True},
             {"path": "seed/init.sql", "content": "create table t();\n", "force": False},
             {"path": "seed/notes.txt", "content": "read once\n", "recreate": False}]
    assert stack(files=files + [{"path": "seed/more.sql", "content": "x"}])[0]["config_hashes"]["seed"] != base["seed"]
    assert stack(files=files + [{"path": "seed/more.sql", "content": "x", "force": False}])[0]["config_hashes"] == base
    # absolute paths are not the stack's files (the same digest as without them)
    assert stack(files=files + [{"path": "/opt/kompose/core/seed/abs.sql", "content": "x"}])[0]["config_hashes"] == base


def test_hash_key_makes_the_digest_keyed(stack):
    plain = stack()[0]["config_hashes"]
    keyed = stack(hash_key="k" * 32)[0]["config_hashes"]
    assert set(keyed) == set(plain) and all(keyed[name] != plain[name] for name in plain)
    assert stack(hash_key="k" * 32)[0]["config_hashes"] == keyed
    assert stack(hash_key="j" * 32)[0]["config_hashes"] != keyed


@pytest.mark.parametrize("state, exists", [("unchanged", True), ("updated", True), ("attributes", True), ("created", False), (None, False)])
def test_stack_exists_from_the_state_of_compose_yaml(stack, state, exists):
    files = [{"path": "/opt/kompose/core/app/app.conf", "state": "created"}]
    if state:
        files.append({"path": "/opt/kompose/core/./compose.yaml", "state": state})
    result, dummy = stack(result={"changed": False, "files": files})
    assert result["stack_exists"] is exists


def test_a_failed_module_adds_nothing(stack):
    result, dummy = stack(result={"failed": True, "msg": "permission denied"})
    assert result["failed"] and result["msg"] == "permission denied"
    assert "config_hashes" not in result and "stack_exists" not in result


# --- argument checks -----------------------------------------------------------------------------
@pytest.mark.parametrize("changes, message", [
    ({"templates": {"src": "a"}}, "templates and files must be lists"),
    ({"files": "db.env"}, "templates and files must be lists"),
    ({"templates": ["compose.yaml.j2"]}, "each templates entry needs a src, got 'compose.yaml.j2'"),
    ({"templates": [{"dest": "x"}]}, "each templates entry needs a src"),
    ({"templates": [{"src": "compose.yaml.j2", "content": "x", "backup": True}]}, "unknown key(s) backup, content in templates entry compose.yaml.j2"),
    ({"files": [{"content": "x"}]}, "each files entry needs a path"),
    ({"files": ["db.env"]}, "each files entry needs a path"),
    ({"files": [{"path": "db.env", "src": "db.env.j2"}]}, "unknown key(s) src in files entry db.env"),
    ({"templates": [{"src": "missing.j2"}]}, "template 'missing.j2' not found"),
    ({"role": "proxy", "templates": [{"src": "missing.j2"}]}, "template 'missing.j2' not found in role proxy ("),
    ({"unknown_option": 1}, "Invalid options for pivoine.kompose.test: unknown_option"),
])
def test_bad_arguments_fail_before_the_module_runs(make_action, changes, message):
    args = dict({"root": "/r", "templates": [], "files": []}, **changes)
    action, recorder = make_action(ActionModule, args)
    with pytest.raises(AnsibleActionFail) as exc:
        action.run(task_vars=dict(VARS))
    assert message in str(exc.value)
    assert recorder.calls == []


def test_render_errors_name_the_template(stack, tmp_path):
    (tmp_path / "templates" / "broken.j2").write_text("{{ nowhere_defined }}")
    with pytest.raises(AnsibleActionFail, match="stack_files: cannot render broken.j2: .*nowhere_defined"):
        stack(templates=[{"src": "broken.j2"}])


def test_an_invalid_compose_file_is_refused(stack, tmp_path):
    (tmp_path / "templates" / "compose.yaml.j2").write_text("services: [unclosed\n")
    with pytest.raises(AnsibleActionFail, match="stack_files: the rendered compose.yaml is not valid YAML"):
        stack()
    (tmp_path / "templates" / "compose.yaml.j2").write_text("services: 3\n")
    with pytest.raises(AnsibleActionFail, match="stack_files: the rendered compose.yaml has no 'services' mapping"):
        stack()


def test_role_templates_come_from_the_collections_roles(make_action):
    action, dummy = make_action(ActionModule, {})
    path = action._source("traefik.yml.j2", "proxy")
    assert path == os.path.normpath(os.path.join(os.path.dirname(stack_files.__file__), "..", "..", "roles", "proxy", "templates",
                                                 "traefik.yml.j2"))
    assert os.path.isfile(path)
    # a role's template is never looked up elsewhere, nor outside the role
    with pytest.raises(AnsibleActionFail, match="not found in role proxy"):
        action._source("footer.j2", "proxy")


def test_compose_yaml_is_found_by_its_normalized_path(stack, tmp_path):
    result, module_args = stack(templates=[{"src": "compose.yaml.j2", "dest": "./compose.yaml"}, {"src": "app.conf.j2", "dest": "app/app.conf"}])
    assert module_args["files"][-1]["path"] == "./compose.yaml" and set(result["config_hashes"]) == {"app", "db", "seed"}
    assert not (tmp_path / "compose.yaml").exists()  # the action itself writes nothing
