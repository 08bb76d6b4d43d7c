from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.module_utils._stack_state import site_address


def _container(service, networks):
    return {"Labels": {"com.docker.compose.service": service},
            "NetworkSettings": {"Networks": {name: {"IPAddress": address} for name, address in networks.items()}}}


def test_a_service_is_reached_on_its_own_network_first():
    container = _container("link_metrics", {"kompose-alertmanager": "172.16.4.5", "kompose-link-metrics": "172.16.188.163"})
    assert site_address(container, "kompose") == "172.16.188.163"


def test_then_the_edge_network_then_the_first_site_network_by_name():
    assert site_address(_container("traefik", {"kompose-umami": "172.16.205.162", "kompose": "172.30.0.2"}), "kompose") == "172.30.0.2"
    assert site_address(_container("postgres", {"kompose-umami": "172.16.205.20", "kompose-gotify": "172.16.214.20"}),
                        "kompose") == "172.16.214.20"


def test_no_address_off_the_site_networks():
    assert site_address(_container("x", {"bridge": "172.17.0.2", "komposed": "10.0.0.2"}), "kompose") is None
    assert site_address(_container("x", {"kompose-x": ""}), "kompose") is None
    assert site_address({}, "kompose") is None
