from __future__ import annotations

import copy

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils._teardown import TeardownError, plan, summary

ROOT = "/opt/kompose"
REGISTRY = [{"name": "core", "requires": []}, {"name": "watch", "requires": ["core"]},
            {"name": "vault", "requires": ["core", "proxy"]}, {"name": "proxy", "requires": []}]
KEPT = ["/var/local/data/backups", "/root/.local/share/pivoine.kompose/secrets"]


def container(name, project, state="running", mounts=(), stack_label=True):
    labels = {"com.docker.compose.project": project}
    if stack_label:
        labels["org.pivoine.kompose.stack"] = project
    return {"Names": ["/" + name], "State": state, "Labels": labels,
            "Mounts": [{"Type": "volume", "Name": m} for m in mounts] + [{"Type": "bind", "Source": "/x"}]}


def volume(name, project):
    return {"Name": name, "Labels": {"com.docker.compose.project": project}}


HOST = {
    "containers": [
        container("core-redis", "core", mounts=["core_redis-data"]),
        container("core-postgres", "core", mounts=["core_postgres-data"]),
        container("vault-app", "vault", mounts=["vault_data", "3f9a"]),
        container("vault-metrics", "vault", state="exited"),
        container("watch-prometheus", "watch"),
        container("old-thing", "legacy"),  # a stack an older collection knew
        container("other", "someone-else", stack_label=False),  # not ours
    ],
    "volumes": [volume("core_redis-data", "core"), volume("core_postgres-data", "core"), volume("vault_data", "vault"),
                volume("gone_data", "gone"), {"Name": "odd", "Labels": None}],
}
DIRS = [ROOT + "/core", ROOT + "/vault", ROOT + "/watch", ROOT + "/gone", ROOT + "/proxy"]
FILES = [ROOT + "/core/compose.yaml", ROOT + "/vault/compose.yaml", ROOT + "/watch/compose.yaml"]


def teardown(stacks=(), purge=False, kept=None, host=None):
    return plan(copy.deepcopy(HOST if host is None else host), ROOT + "/", DIRS, FILES, REGISTRY, list(stacks), purge,
                KEPT if kept is None else kept)


def test_stock_of_every_stack():
    found = teardown()["found"]
    assert list(found) == ["core", "watch", "vault", "proxy", "legacy"]
    assert found["vault"] == {
        "containers": [{"name": "vault-app", "state": "running"}, {"name": "vault-metrics", "state": "exited"}],
        "volumes": ["vault_data"], "anonymous": ["3f9a"], "dir": ROOT + "/vault", "compose": True}
    assert found["proxy"] == {"containers": [], "volumes": [], "anonymous": [], "dir": ROOT + "/proxy", "compose": False}
    assert found["legacy"]["containers"] == [{"name": "old-thing", "state": "running"}]
    assert found["core"]["containers"][0]["name"] == "core-postgres"  # sorted
    assert "someone-else" not in found and "gone" not in found


def test_every_running_stack_apps_first():
    result = teardown()
    assert result["plan"] == ["legacy", "vault", "watch", "core"]
    assert result["down"] == result["plan"]
    assert result["needed"] == [] and result["unknown"] == [] and result["inside"] == []
    assert not result["all_gone"] and not result["purge"]
    assert result["in_core"] == ["watch", "vault"]


def test_purge_of_everything_includes_leftover_directories():
    result = teardown(purge=True)
    assert result["plan"] == ["legacy", "proxy", "vault", "watch", "core"]
    assert result["down"] == ["legacy", "vault", "watch", "core"]
    assert result["volumes"] == ["vault_data", "core_postgres-data", "core_redis-data"]
    assert result["dirs"] == [ROOT + "/proxy", ROOT + "/vault", ROOT + "/watch", ROOT + "/core"]
    assert result["all_gone"]
    assert result["show"]["vault"] == {"containers": ["vault-app", "vault-metrics"], "volumes": ["vault_data", "3f9a"],
                                       "directory": ROOT + "/vault"}


def test_unknown_names_once_each():
    assert teardown(["nosuch", "vault", "nosuch"])["unknown"] == ["nosuch"]


def test_core_is_needed_by_the_running_stacks_that_require_it():
    result = teardown(["core"])
    assert result["needed"] == [{"stack": "core", "by": ["watch", "vault"]}]
    assert teardown(["core", "watch", "vault"])["needed"] == []


def test_a_stopped_requirer_does_not_block():
    host = copy.deepcopy(HOST)
    host["containers"] = [c for c in host["containers"] if not c["Names"][0].startswith(("/vault", "/watch"))]
    assert teardown(["core"], host=host)["needed"] == []


def test_purge_refuses_a_directory_holding_a_kept_path():
    result = teardown(["vault"], purge=True, kept=[ROOT + "/vault/backups", "/elsewhere"])
    assert result["inside"] == [ROOT + "/vault"]
    assert teardown(["vault"], purge=True, kept=[ROOT + "/vault/"])["inside"] == [ROOT + "/vault"]
    assert teardown(["vault"], purge=True, kept=[ROOT + "/vaultx"])["inside"] == []
    assert teardown(["vault"], purge=False, kept=[ROOT + "/vault/backups"])["inside"] == []


def test_a_purge_that_leaves_a_stack_keeps_the_network():
    assert not teardown(["vault"], purge=True)["all_gone"]


def test_bad_host_facts():
    with pytest.raises(TeardownError, match="docker_host_info"):
        plan(None, ROOT, [], [], REGISTRY, [], False, [])


def lines(result, check_mode=False, network_found=True, users=(), enabled=("core", "vault")):
    return summary(result, "lab", check_mode, "kompose", network_found, list(users), "/b", "~/s", list(enabled))


def test_summary_of_a_teardown_that_keeps_data():
    text = lines(teardown(["vault"]))
    assert text == [
        "vault: removed containers vault-app, vault-metrics; kept volumes vault_data; kept anonymous volumes 3f9a;"
        " kept directory /opt/kompose/vault",
        "Network kompose: kept (only a purge that leaves no stack on the host removes it).",
        "Kept always: the backup sets in /b (kompose_backup_dir); the controller's secret store ~/s/lab (kompose_secrets_dir).",
        "Kept in the core stack's servers: the databases and Redis users of vault (gone only with the core stack's volumes).",
        "Still enabled (kompose_stacks, kompose_custom_stacks): vault; the next site.yml run starts it again.",
    ]


def test_summary_of_a_purge_of_everything_in_check_mode():
    text = lines(teardown(purge=True), check_mode=True)
    assert text[1] == "proxy: would remove containers none; volumes none; directory /opt/kompose/proxy"
    assert "Network kompose: would remove." in text
    assert not any(line.startswith("Kept in the core") for line in text)
    assert text[-1] == "Still enabled (kompose_stacks, kompose_custom_stacks): vault, core; the next site.yml run starts them again."
    assert "Network kompose: kept, still used by probe." in lines(teardown(purge=True), users=["probe"])
    assert "Network kompose: none there." in lines(teardown(purge=True), network_found=False)


def test_summary_when_nothing_is_there():
    text = lines(teardown(host={"containers": [], "volumes": []}))
    assert text[0] == "Nothing to tear down: no stack of this site is on lab."
    assert not any(line.startswith("Network") for line in text)
