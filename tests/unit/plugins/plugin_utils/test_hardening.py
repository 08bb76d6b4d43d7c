from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.filter.hardening import FilterModule
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _hardening as h

ROOT = pathlib.Path(__file__).resolve().parents[4]
DEFAULTS = {"memory": "512m", "pids": 512}
NNP = ["no-new-privileges:true"]
# a small resolved catalog: a server that switches users, the edge, a read-only exporter, an identity
CATALOG = {
    "postgres": {"stack": "core", "container": "core-postgres", "image": "x:1", "port": 5432,
                 "hardening": {"cap_add": ["SETUID", "CHOWN", "SETGID", "CHOWN"], "memory": "1g"}},
    "traefik": {"stack": "proxy", "container": "proxy_app", "image": "x:1", "port": 8080,
                "hardening": {"cap_add": ["NET_BIND_SERVICE"], "read_only": True, "tmpfs": ["/tmp"], "memory": "256m"}},
    "node_exporter": {"stack": "watch", "container": "watch_node_exporter", "image": "x:1", "port": 9100,
                      "hardening": {"read_only": True, "pids": 64, "user": "65534:65534"}},
    "cadvisor": {"stack": "watch", "container": "watch_cadvisor", "image": "x:1", "port": 8080, "hardening": {"cap_add": ["DAC_OVERRIDE"]}},
    "grafana": {"stack": "watch", "container": "watch_grafana", "image": "x:1", "port": 3000},
    "system": {"stack": "core", "description": "an identity without a container"},
}


def test_every_container_drops_every_capability_but_its_own():
    keys = h.compose_keys(CATALOG, DEFAULTS)
    assert sorted(keys) == ["cadvisor", "grafana", "node_exporter", "postgres", "traefik"]  # no container, no keys
    assert keys["postgres"] == {"security_opt": NNP, "cap_drop": ["ALL"], "cap_add": ["CHOWN", "SETGID", "SETUID"],
                                "mem_limit": "1g", "pids_limit": 512}
    assert keys["traefik"] == {"security_opt": NNP, "cap_drop": ["ALL"], "cap_add": ["NET_BIND_SERVICE"], "read_only": True,
                               "tmpfs": ["/tmp"], "mem_limit": "256m", "pids_limit": 512}
    assert keys["node_exporter"] == {"security_opt": NNP, "cap_drop": ["ALL"], "read_only": True, "mem_limit": "512m",
                                     "pids_limit": 64, "user": "65534:65534"}
    # an entry without hardening: the defaults, no capability at all
    assert keys["grafana"] == {"security_opt": NNP, "cap_drop": ["ALL"], "mem_limit": "512m", "pids_limit": 512}


def test_read_only_false_and_empty_lists_emit_nothing():
    catalog = {"app": {"stack": "x", "container": "app", "hardening": {"cap_add": [], "read_only": False, "tmpfs": []}}}
    assert h.compose_keys(catalog, DEFAULTS)["app"] == {"security_opt": NNP, "cap_drop": ["ALL"], "mem_limit": "512m",
                                                        "pids_limit": 512}


def test_a_privileged_container_gets_no_capability_keys_but_the_rest():
    keys = h.compose_keys(CATALOG, DEFAULTS, privileged=["cadvisor", "not-in-the-catalog"])
    assert keys["cadvisor"] == {"security_opt": NNP, "mem_limit": "512m", "pids_limit": 512}
    assert keys["grafana"]["cap_drop"] == ["ALL"]


def test_the_catalog_is_not_mutated():
    before = repr(CATALOG)
    h.compose_keys(CATALOG, DEFAULTS)["postgres"]["cap_add"].append("SYS_ADMIN")
    assert repr(CATALOG) == before


def test_service_keys_merge_into_each_services_networks():
    base = {"postgres": {"networks": {"kompose-postgres": {"ipv4_address": "172.16.0.3"}}},
            "grafana": {"networks": {"kompose-grafana": {}}, "extra_hosts": ["watch_prometheus:172.16.0.35"]},
            "traefik": {}, "node_exporter": {"network_mode": "none"}, "cadvisor": {}}
    keys = h.service_keys(CATALOG, DEFAULTS, base)
    assert keys["grafana"] == {"networks": {"kompose-grafana": {}}, "extra_hosts": ["watch_prometheus:172.16.0.35"],
                               "security_opt": NNP, "cap_drop": ["ALL"], "mem_limit": "512m", "pids_limit": 512}
    assert keys["node_exporter"]["network_mode"] == "none" and keys["node_exporter"]["read_only"] is True
    assert base["traefik"] == {}  # not mutated


def test_service_keys_refuse_a_key_set_twice():
    with pytest.raises(h.HardeningError, match=r"^service grafana: compose key\(s\) mem_limit set by both its hardening and "):
        h.service_keys(CATALOG, DEFAULTS, {"grafana": {"mem_limit": "1g"}})


@pytest.mark.parametrize("hardening, message", [
    ("yes", "kompose_services.system.hardening: expected a mapping with cap_add/read_only/tmpfs/memory/pids/user, got 'yes'"),
    ({"privileged": True}, "kompose_services.system.hardening: unknown key(s) privileged (known: cap_add, memory, pids, read_only, tmpfs, user)"),
    ({"cap_add": "NET_ADMIN"}, "kompose_services.system.hardening.cap_add: 'NET_ADMIN' is not a list of capabilities"),
    ({"cap_add": ["CAP_CHOWN"]}, "kompose_services.system.hardening.cap_add: 'CAP_CHOWN' is not a Linux capability as Docker names "
                                 "it (upper case, without CAP_, e.g. NET_BIND_SERVICE; never ALL)"),
    ({"cap_add": ["ALL"]}, "kompose_services.system.hardening.cap_add: 'ALL' is not a Linux capability as Docker names "
                           "it (upper case, without CAP_, e.g. NET_BIND_SERVICE; never ALL)"),
    ({"cap_add": ["chown"]}, "kompose_services.system.hardening.cap_add: 'chown' is not a Linux capability as Docker names "
                             "it (upper case, without CAP_, e.g. NET_BIND_SERVICE; never ALL)"),
    ({"read_only": "yes"}, "kompose_services.system.hardening.read_only: 'yes' is not a boolean"),
    ({"tmpfs": "/tmp"}, "kompose_services.system.hardening.tmpfs: '/tmp' is not a list of absolute paths"),
    ({"tmpfs": ["tmp"]}, "kompose_services.system.hardening.tmpfs: 'tmp' is not an absolute path (optionally with mount "
                         "options, /tmp:size=64m)"),
    ({"tmpfs": ["/tmp x"]}, "kompose_services.system.hardening.tmpfs: '/tmp x' is not an absolute path (optionally with mount "
                            "options, /tmp:size=64m)"),
    ({"memory": "512MB"}, "kompose_services.system.hardening.memory: '512MB' is not a memory size such as 512m (digits and b, "
                          "k, m or g; at least 6m, Docker's minimum)"),
    ({"memory": 512}, "kompose_services.system.hardening.memory: 512 is not a memory size such as 512m (digits and b, "
                      "k, m or g; at least 6m, Docker's minimum)"),
    ({"memory": "4m"}, "kompose_services.system.hardening.memory: '4m' is not a memory size such as 512m (digits and b, "
                       "k, m or g; at least 6m, Docker's minimum)"),
    ({"pids": 0}, "kompose_services.system.hardening.pids: 0 is not a whole number of processes (1 or more)"),
    ({"pids": "512"}, "kompose_services.system.hardening.pids: '512' is not a whole number of processes (1 or more)"),
    ({"pids": True}, "kompose_services.system.hardening.pids: True is not a whole number of processes (1 or more)"),
    ({"user": "a b"}, "kompose_services.system.hardening.user: 'a b' is not a user such as 1000:1000 (a name or id, "
                      "optionally :group)"),
    ({"user": 1000}, "kompose_services.system.hardening.user: 1000 is not a user such as 1000:1000 (a name or id, "
                     "optionally :group)"),
])
def test_the_catalog_refuses_bad_hardening_naming_key_and_value(hardening, message):
    with pytest.raises(_catalog.CatalogError) as exc:
        _catalog.resolve(CATALOG, ["core", "proxy", "watch"], "pivoine.art", overrides={"system": {"hardening": hardening}})
    assert str(exc.value) == message


def test_overrides_merge_into_the_entrys_hardening():
    catalog = _catalog.resolve(CATALOG, ["core", "proxy", "watch"], "pivoine.art",
                               overrides={"postgres": {"hardening": {"memory": "2g"}}, "grafana": {"hardening": {"pids": 128}}})
    keys = h.compose_keys(catalog, DEFAULTS)
    assert keys["postgres"]["mem_limit"] == "2g" and keys["postgres"]["cap_add"] == ["CHOWN", "SETGID", "SETUID"]
    assert keys["grafana"]["pids_limit"] == 128 and keys["grafana"]["mem_limit"] == "512m"


@pytest.mark.parametrize("defaults, message", [
    (None, "kompose_hardening_defaults: None is not a mapping with exactly memory and pids"),
    ({"memory": "512m"}, "kompose_hardening_defaults: {'memory': '512m'} is not a mapping with exactly memory and pids"),
    ({"memory": "512m", "pids": 1, "cap_add": []}, "kompose_hardening_defaults: {'memory': '512m', 'pids': 1, 'cap_add': []} "
                                                   "is not a mapping with exactly memory and pids"),
    ({"memory": "lots", "pids": 1}, "kompose_hardening_defaults.memory: 'lots' is not a memory size such as 512m (digits and b, "
                                    "k, m or g; at least 6m, Docker's minimum)"),
    ({"memory": "1g", "pids": -1}, "kompose_hardening_defaults.pids: -1 is not a whole number of processes (1 or more)"),
])
def test_bad_defaults_are_refused(defaults, message):
    with pytest.raises(h.HardeningError) as exc:
        h.compose_keys(CATALOG, defaults)
    assert str(exc.value) == message


def test_bad_input_shapes_are_refused():
    with pytest.raises(h.HardeningError, match="^expected the resolved catalog"):
        h.compose_keys(["postgres"], DEFAULTS)
    with pytest.raises(h.HardeningError, match="^privileged: expected a list of service names"):
        h.compose_keys(CATALOG, DEFAULTS, privileged="cadvisor")
    with pytest.raises(h.HardeningError, match="^base: expected a mapping"):
        h.service_keys(CATALOG, DEFAULTS, [])
    # an unresolved entry is checked too, naming it
    with pytest.raises(h.HardeningError, match=r"^kompose_services\.app\.hardening\.read_only: 1 is not a boolean$"):
        h.compose_keys({"app": {"container": "app", "hardening": {"read_only": 1}}}, DEFAULTS)


@pytest.mark.parametrize("value, size", [("6m", 6 * 1024 ** 2), ("512m", 512 * 1024 ** 2), ("1g", 1024 ** 3), ("64k", 65536),
                                         ("100b", 100), ("1G", None), ("1.5g", None), ("", None), (None, None)])
def test_memory_sizes_use_dockers_binary_units(value, size):
    assert h.memory_bytes(value) == size


def test_the_filter_names_itself_in_errors():
    catalog_hardening = FilterModule().filters()["catalog_hardening"]
    assert catalog_hardening(CATALOG, DEFAULTS)["grafana"]["cap_drop"] == ["ALL"]
    assert catalog_hardening(CATALOG, DEFAULTS, privileged=["cadvisor"], base={"cadvisor": {"networks": {}}})["cadvisor"] == {
        "networks": {}, "security_opt": NNP, "mem_limit": "512m", "pids_limit": 512}
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.catalog_hardening: kompose_hardening_defaults: "):
        catalog_hardening(CATALOG, {})


# --- the shipped catalog ----------------------------------------------------------------------------
def shipped_catalog():
    """Every entry of the stacks' catalog files (roles/kompose/vars/main/<stack>.yml)."""
    out = {}
    for path in sorted((ROOT / "roles" / "kompose" / "vars" / "main").glob("*.yml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_VarsLoader) or {}  # nosec B506 - a SafeLoader
        for key, value in data.items():
            if key.startswith("__kompose_catalog_"):
                out.update(value)
    return out


class _VarsLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads the stacks' vars files as Ansible does, `!unsafe` strings included."""


_VarsLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
SHIPPED = shipped_catalog()
CONTAINERS = sorted(name for name, entry in SHIPPED.items() if entry.get("container"))
DEFAULTS_FILE = yaml.safe_load((ROOT / "roles" / "kompose" / "defaults" / "main.yml").read_text(encoding="utf-8"))


def test_the_shipped_defaults_are_valid():
    h.check_defaults(DEFAULTS_FILE["kompose_hardening_defaults"])


@pytest.mark.parametrize("name", CONTAINERS)
def test_every_shipped_container_has_a_valid_hardening_with_its_own_memory_limit(name):
    spec = SHIPPED[name].get("hardening")
    assert spec is not None, "%s: no hardening entry" % name
    h.check("kompose_services.%s.hardening" % name, spec)
    assert "memory" in spec, "%s: no memory limit of its own" % name


def test_the_shipped_capabilities_are_what_the_images_need():
    caps = {name: set(SHIPPED[name].get("hardening", {}).get("cap_add", [])) for name in CONTAINERS}
    # the core servers start as root, chown their data and switch users (docker-entrypoint.sh); docker-init
    # (init: true) forwards the stop signal to a server running as another user
    for server in ("postgres", "redis", "mqtt"):
        assert {"CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID"} <= caps[server], server
    assert "FOWNER" in caps["postgres"]  # it chmods PGDATA and the socket directory
    # root in the image, listening below 1024 (Traefik binds 80 and 443 besides its catalog port)
    for name in CONTAINERS:
        low = SHIPPED[name].get("port", 1024) < 1024 or name == "traefik"
        assert ("NET_BIND_SERVICE" in caps[name]) == low, name
    # nothing else gets a capability (cAdvisor reads other users' files in the containers' layers)
    assert {name for name, added in caps.items() if added} == {"postgres", "redis", "mqtt", "traefik", "gotify", "vaultwarden", "cadvisor"}
    assert caps["cadvisor"] == {"DAC_OVERRIDE"}


def test_read_only_containers_with_a_shell_health_check_have_a_tmp():
    # the images whose checks run a shell or an HTTP client that may want temporary files
    for name in ("redis", "mqtt", "traefik", "mailhog", "gotify", "vaultwarden", "link_metrics"):
        spec = SHIPPED[name]["hardening"]
        assert spec.get("read_only") is True and "/tmp" in spec.get("tmpfs", []), name
