from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils._networks import NetworkError, check_internal, plan

# a small resolved catalog: the edge, the core servers, Mailpit, two apps, the watch core
CATALOG = {
    "traefik": {"stack": "proxy", "container": "proxy_app", "port": 8080, "fqdn": "traefik.example.org",
                "metrics": {"target": "proxy_app:8080"}},
    "postgres": {"stack": "core", "container": "core-postgres", "port": 5432},
    "redis": {"stack": "core", "container": "core-redis", "port": 6379},
    "mqtt": {"stack": "core", "container": "core-mqtt", "port": 1883, "mqtt": {"user": "healthcheck"}},
    "system": {"stack": "core", "mqtt": {"publish": ["kompose/system/#"]}},
    "mailhog": {"stack": "messaging", "container": "messaging_mailhog", "port": 8025, "fqdn": "mail.example.org",
                "metrics": {}, "health": {"path": "/readyz"}},
    "linkwarden": {"stack": "link", "container": "link_app", "port": 3000, "fqdn": "links.example.org",
                   "postgres": {}, "smtp": True, "oidc": True, "egress": True, "health": {"path": "/"}},
    "umami": {"stack": "track", "container": "track_app", "port": 3000, "fqdn": "analytics.example.org",
              "postgres": {}, "redis": {}, "health": {"path": "/api/heartbeat"}},
    "prometheus": {"stack": "watch", "container": "watch_prometheus", "port": 9090, "fqdn": "prometheus.example.org",
                   "metrics": {}, "calls": ["alertmanager"]},
    "alertmanager": {"stack": "watch", "container": "watch_alertmanager", "port": 9093, "metrics": {}, "smtp": True},
    "blackbox_exporter": {"stack": "watch", "container": "watch_blackbox_exporter", "port": 9115, "metrics": {}},
}


def _plan(**kwargs):
    return plan(CATALOG, "kompose", "172.16.0.0/16", **kwargs)


def _members(result):
    return {network["name"]: network["members"] for network in result["networks"]}


def test_each_service_has_a_network_with_what_it_calls_and_what_calls_it():
    members = _members(_plan())
    assert members["kompose-linkwarden"] == ["blackbox_exporter", "linkwarden", "mailhog", "postgres", "traefik"]
    assert members["kompose-umami"] == ["blackbox_exporter", "postgres", "redis", "traefik", "umami"]
    assert members["kompose-alertmanager"] == ["alertmanager", "mailhog", "prometheus"]
    assert members["kompose-traefik"] == ["blackbox_exporter", "prometheus", "traefik"]  # scraped, HTTPS probes
    assert members["kompose"] == ["traefik"]
    # the servers' own networks hold only their TCP probe
    assert members["kompose-postgres"] == ["blackbox_exporter", "postgres"]


def test_no_two_apps_share_a_network():
    for network in _plan()["networks"]:
        assert not {"linkwarden", "umami"} <= set(network["members"]), network


def test_networks_are_internal_unless_the_service_needs_a_way_out():
    internal = {network["name"]: network["internal"] for network in _plan(egress=["mqtt"])["networks"]}
    assert internal["kompose"] is False
    assert internal["kompose-linkwarden"] is False  # egress: true
    assert internal["kompose-mqtt"] is False  # a published port
    assert internal["kompose-umami"] is True
    # alone on it (no prober) and no way out: no network of its own, except for a core server
    catalog = {name: entry for name, entry in CATALOG.items() if name != "blackbox_exporter"}
    catalog["otel"] = {"stack": "watch", "container": "watch_otel", "port": 4318}
    members = _members(plan(catalog, "kompose", "172.16.0.0/16"))
    assert "kompose-otel" not in members
    assert members["kompose-mqtt"] == ["mqtt"]  # where the day-2 tools reach it


def test_a_service_on_no_network_gets_none():
    catalog = {"otel": {"stack": "watch", "container": "watch_otel", "port": 4318}}
    result = plan(catalog, "kompose", "172.16.0.0/16")
    assert result["services"]["otel"] == {"network_mode": "none"}
    assert result["networks"] == []
    assert result["projects"] == {"watch": {}}


def test_traefik_is_dot_2_with_the_public_names_and_each_service_dot_3_on_its_own():
    result = _plan()
    by_name = {network["name"]: network for network in result["networks"]}
    block = ipaddress.ip_network(by_name["kompose-linkwarden"]["subnet"])
    traefik = result["services"]["traefik"]["networks"]
    assert traefik["kompose-linkwarden"]["ipv4_address"] == str(block.network_address + 2)
    assert result["edge_address"]["kompose-linkwarden"] == str(block.network_address + 2)
    assert traefik["kompose"] == {"aliases": ["analytics.example.org", "links.example.org", "mail.example.org",
                                              "prometheus.example.org", "traefik.example.org"]}
    assert result["services"]["linkwarden"]["networks"]["kompose-linkwarden"] == {"ipv4_address": str(block.network_address + 3)}
    assert result["own_address"]["linkwarden"] == str(block.network_address + 3)
    # Docker's dynamic addresses stay above the fixed ones
    assert by_name["kompose-linkwarden"]["ip_range"] == str(list(block.subnets(new_prefix=28))[1])
    assert by_name["kompose-linkwarden"]["gateway"] == str(block.network_address + 1)


def test_callers_sharing_several_networks_pin_the_service_to_its_own_address():
    result = _plan()
    mail = result["own_address"]["mailhog"]
    # Traefik and the prober also share the networks of Mailpit's senders: its name is pinned
    assert "messaging_mailhog:%s" % mail in result["services"]["traefik"]["extra_hosts"]
    assert "messaging_mailhog:%s" % mail in result["services"]["blackbox_exporter"]["extra_hosts"]
    # a sender shares one network with it: no pin needed
    assert "extra_hosts" not in result["services"]["linkwarden"]
    # Traefik is .2 on its own network too, where Prometheus scrapes it
    assert result["own_address"]["traefik"] == result["edge_address"]["kompose-traefik"]
    assert "proxy_app:%s" % result["own_address"]["traefik"] in result["services"]["prometheus"]["extra_hosts"]


def test_existing_networks_keep_their_subnets_and_new_ones_avoid_every_docker_network():
    first = _plan()
    subnet = {network["name"]: network["subnet"] for network in first["networks"]}
    docker = [{"Name": "kompose-umami", "Internal": True, "IPAddress": None,
               "IPAM": {"Config": [{"Subnet": "172.16.250.0/27", "Gateway": "172.16.250.1", "IPRange": "172.16.250.16/28"}]}},
              {"Name": "bridge", "IPAM": {"Config": [{"Subnet": subnet["kompose-linkwarden"]}]}}]
    second = _plan(docker_networks=docker)
    by_name = {network["name"]: network for network in second["networks"]}
    assert by_name["kompose-umami"]["subnet"] == "172.16.250.0/27" and by_name["kompose-umami"]["exists"]
    assert by_name["kompose-linkwarden"]["subnet"] != subnet["kompose-linkwarden"]  # taken by another network
    assert by_name["kompose-mailhog"]["subnet"] == subnet["kompose-mailhog"]  # not moved by the others
    used = [ipaddress.ip_network(network["subnet"]) for network in second["networks"]]
    assert not any(a.overlaps(b) for i, a in enumerate(used) for b in used[i + 1:])


def test_a_network_whose_internal_setting_changed_is_made_again():
    docker = [{"Name": "kompose-umami", "Internal": False, "IPAM": {"Config": [{"Subnet": "172.16.250.0/27"}]}}]
    by_name = {network["name"]: network for network in _plan(docker_networks=docker)["networks"]}
    assert by_name["kompose-umami"]["recreate"] is True
    assert by_name["kompose-postgres"]["recreate"] is False


def test_the_edge_network_takes_the_fixed_subnet():
    by_name = {network["name"]: network for network in _plan(edge_subnet="172.30.0.0/24")["networks"]}
    assert by_name["kompose"]["subnet"] == "172.30.0.0/24" and by_name["kompose"]["ip_range"] is None


@pytest.mark.parametrize("internal, message", [
    (["172.16.0.0/12"], "overlaps kompose_network_pool 172.16.0.0/16"),
    (["172.30.0.0/25"], "overlaps Docker network kompose (172.30.0.0/24)"),
    (["172.17.0.0/16"], "overlaps Docker network bridge (172.17.0.0/16)"),
    (["10.0.0.0/8\n"], "is not an IPv4 network"),
    (["fd00::/8"], "is not an IPv4 network"),
])
def test_internal_networks_are_never_dockers(internal, message):
    docker = [{"Name": "bridge", "IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]}}]
    with pytest.raises(NetworkError, match="kompose_internal_networks: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        _plan(docker_networks=docker, edge_subnet="172.30.0.0/24", internal=internal)


def test_the_edge_gateway_alone_stands_for_the_docker_host():
    # Docker does not list a gateway it chose itself: the subnet's first address
    edge = [{"Name": "kompose", "IPAM": {"Config": [{"Subnet": "172.30.0.0/24"}]}}]
    _plan(docker_networks=edge, internal=["172.30.0.1/32"])
    _plan(edge_subnet="172.30.0.0/24", internal=["172.30.0.1/32", "192.168.7.0/24"])
    with pytest.raises(NetworkError, match="172.30.0.2/32 overlaps Docker network kompose"):
        _plan(edge_subnet="172.30.0.0/24", internal=["172.30.0.2/32"])
    check_internal(["10.0.0.0/8"], ipaddress.ip_network("172.16.0.0/16"), [], "kompose")


def test_a_pool_too_small_or_not_ipv4_is_refused():
    with pytest.raises(NetworkError, match="kompose_network_pool: 172.16.0.0/27 is too small"):
        plan(CATALOG, "kompose", "172.16.0.0/27")
    with pytest.raises(NetworkError, match="kompose_network_pool: 'nope' is not an IPv4 network"):
        plan(CATALOG, "kompose", "nope")
    with pytest.raises(NetworkError, match="has no free /27 left"):
        plan(CATALOG, "kompose", "172.16.0.0/26")


def test_the_projects_list_their_networks_as_external():
    projects = _plan()["projects"]
    assert projects["link"] == {"kompose-linkwarden": {"name": "kompose-linkwarden", "external": True}}
    assert set(projects["core"]) == {"kompose-linkwarden", "kompose-umami", "kompose-postgres", "kompose-redis", "kompose-mqtt"}


def test_internal_problem_is_found_before_docker_is_asked():
    from ansible_collections.pivoine.kompose.plugins.plugin_utils._networks import internal_problem
    assert internal_problem(["10.0.0.0/8"], "172.16.0.0/16") == ""
    assert internal_problem(["172.30.0.1/32"], "172.16.0.0/16", "172.30.0.0/24") == ""
    assert "overlaps kompose_network_pool" in internal_problem(["172.16.0.0/12"], "172.16.0.0/16")
    assert "overlaps Docker network kompose" in internal_problem(["172.30.0.0/25"], "172.16.0.0/16", "172.30.0.0/24")
    assert "is not an IPv4 network" in internal_problem(["nope"], "172.16.0.0/16")


def test_an_app_calling_another_app_does_so_over_a_network_of_the_two():
    catalog = dict(CATALOG, events={"stack": "events", "container": "events_engine", "port": 9100, "redis": {}, "mqtt": {},
                                    "smtp": True, "calls": ["umami", "alertmanager"], "metrics": {}})
    result = plan(catalog, "kompose", "172.16.0.0/16")
    members = _members(result)
    # umami (an app) is not pulled into the engine's network, where the broker and Redis are ...
    assert members["kompose-events"] == ["alertmanager", "events", "mailhog", "mqtt", "prometheus", "redis"]
    # ... the two meet on a network of their own, internal, with no fixed address on it
    assert members["kompose-events-to-umami"] == ["events", "umami"]
    pair = next(network for network in result["networks"] if network["name"] == "kompose-events-to-umami")
    assert pair["internal"] and pair["service"] is None and pair["ip_range"]
    assert result["services"]["umami"]["networks"]["kompose-events-to-umami"] == {}
    # and no network holds two apps
    for network in result["networks"]:
        assert len({"events", "umami", "linkwarden"} & set(network["members"])) <= 1 or network["name"].startswith("kompose-events-to-")


def test_an_isolated_service_shares_a_network_with_each_caller_alone():
    catalog = dict(CATALOG,
                   kmps={"stack": "kmps", "container": "kmps_app", "port": 8080, "fqdn": "kmps.example.org", "postgres": {},
                         "calls": ["kmps_socket_proxy", "prometheus", "alertmanager"], "metrics": {}},
                   kmps_socket_proxy={"stack": "kmps", "container": "kmps_socket_proxy", "port": 2375, "isolated": True},
                   # not an app: without isolated it would sit on its caller's network
                   grafana={"stack": "watch", "container": "watch_grafana", "port": 3000, "calls": ["kmps_socket_proxy"]})
    result = plan(catalog, "kompose", "172.16.0.0/16")
    members = _members(result)
    assert "kmps_socket_proxy" not in members["kompose-kmps"] and "kmps_socket_proxy" not in members.get("kompose-grafana", [])
    assert members["kompose-kmps-to-kmps-socket-proxy"] == ["kmps", "kmps_socket_proxy"]
    assert members["kompose-grafana-to-kmps-socket-proxy"] == ["grafana", "kmps_socket_proxy"]
    # its TCP probe too: no network of its own, where the callers would meet
    assert members["kompose-blackbox-exporter-to-kmps-socket-proxy"] == ["blackbox_exporter", "kmps_socket_proxy"]
    assert "kompose-kmps-socket-proxy" not in members
    assert set(result["services"]["kmps_socket_proxy"]["networks"]) == {
        "kompose-kmps-to-kmps-socket-proxy", "kompose-grafana-to-kmps-socket-proxy", "kompose-blackbox-exporter-to-kmps-socket-proxy"}
    assert all(network["internal"] for network in result["networks"] if "socket-proxy" in network["name"])
