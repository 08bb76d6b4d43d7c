# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: what a compose project runs, from one listing of its containers (modules stack_state and stack).

Uses community.docker's Docker API client (its connection options, TLS and DOCKER_HOST included).
Nothing here is a public API of the collection.
"""

from __future__ import annotations

import json

from ansible_collections.community.docker.plugins.module_utils.common_api import (
    AnsibleDockerClientBase, RequestException)
from ansible_collections.community.docker.plugins.module_utils._api.errors import DockerException, NotFound


class ModuleDockerClient(AnsibleDockerClientBase):
    """community.docker's API client for a module that builds its AnsibleModule itself.

    (Its AnsibleDockerClient connects while it builds the module; the stack module renders without
    Docker when it does not inspect.) The module's argument spec includes DOCKER_COMMON_ARGS.
    """

    def __init__(self, module):
        self.module = module
        super().__init__()

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def _get_params(self):
        return self.module.params


def project_state(client, project, network=None, images=()):
    """{containers, images, addresses} of compose project ``project`` (see the stack_state module)."""
    try:
        filters = json.dumps({"label": ["com.docker.compose.project=%s" % project]})
        containers = client.get_json("/containers/json", params={"all": 1, "filters": filters})
        resolved = {}
        for ref in images:
            try:
                resolved[ref] = client.get_json("/images/{0}/json", ref)["Id"]
            except NotFound:
                resolved[ref] = None
    except (DockerException, RequestException) as exc:
        client.fail("cannot list the containers of compose project %s: %s" % (project, exc))
    addresses = {}
    for container in containers:
        address = site_address(container, network)
        if address:
            addresses[container["Names"][0].lstrip("/")] = address
    return dict(containers=containers, images=resolved, addresses=addresses)


def site_address(container, network):
    """A container's IPv4 address on the site's networks (the Docker host reaches every one): on its
    service's own network ``<network>-<service>`` (where it serves what calls it), else on ``network``
    (the edge), else on the first (by name) of the networks named ``<network>-*``."""
    networks = (container.get("NetworkSettings") or {}).get("Networks") or {}
    service = ((container.get("Labels") or {}).get("com.docker.compose.service") or "").replace("_", "-")
    own = "%s-%s" % (network, service)
    names = [name for name in (own, network) if network and name in networks] + sorted(
        name for name in networks if network and name.startswith(network + "-"))
    for name in names:
        if (networks.get(name) or {}).get("IPAddress"):
            return networks[name]["IPAddress"]
    return None
