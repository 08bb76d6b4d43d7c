# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin entry points for the site's networks; the logic lives in plugin_utils/_networks.py and
module_utils/_stack_state.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.module_utils._stack_state import site_address
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _monitoring, _networks
from ansible_collections.pivoine.kompose.plugins.plugin_utils._filters import wrap


def container_addresses(containers, network):
    """Container name -> its address on the site's networks (see site_address), for Docker's container list."""
    if not isinstance(containers, list) or not all(isinstance(container, dict) for container in containers):
        raise AnsibleFilterError("pivoine.kompose.container_addresses: expected Docker's container list (docker_host_info "
                                 "with verbose output), got %s" % type(containers).__name__)
    out = {}
    for container in containers:
        address = site_address(container, network)
        if address and container.get("Names"):
            out[container["Names"][0].lstrip("/")] = address
    return out


class FilterModule:
    def filters(self):
        return {
            "catalog_networks": wrap("catalog_networks", _networks.plan, [_networks.NetworkError, _monitoring.MonitoringError]),
            "container_addresses": container_addresses,
            "internal_networks_problem": wrap("internal_networks_problem", _networks.internal_problem, []),
        }
