#!/usr/bin/python
# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stack_state
short_description: What a compose project runs, from one listing of its containers
version_added: 0.2.0
description:
  - Lists the containers of one compose project (label C(com.docker.compose.project)), stopped ones
    included, with one call to the Docker API, and resolves the given image references to the image
    ids they name now.
  - Reads only; it never changes anything. The P(pivoine.kompose.stack#module) action calls it after
    the render to decide whether C(docker compose up) has anything to do; the lifecycle calls it again
    after an C(up) for the containers' new addresses.
author:
  - pivoine.kompose developers (@pivoine)
extends_documentation_fragment:
  - community.docker.docker.api_documentation
  - pivoine.kompose.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
requirements:
  - requests (the Docker API client of community.docker)
options:
  project:
    description: The compose project name (the stack's name).
    type: str
    required: true
  network:
    description:
      - The network whose addresses RV(addresses) lists; a container that is not on it is listed with its address
        on the first (by name) of the networks named C(<network>-*), the site's per-service networks.
    type: str
  images:
    description: Image references to resolve to the ids they name on the host now (RV(images)).
    type: list
    elements: str
    default: []
  networks:
    description:
      - Also list the host's networks (RV(networks)), in the same module execution; the site's networks are
        planned against them.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: What the core stack runs, with the addresses on the kompose network
  pivoine.kompose.stack_state:
    project: core
    network: kompose
  register: core_state
"""

RETURN = r"""
containers:
  description: The project's container summaries as the Docker API lists them (C(Names), C(Image), C(ImageID), C(State),
    C(Status), C(Labels), C(NetworkSettings)), stopped ones included.
  returned: always
  type: list
  elements: dict
images:
  description: Each reference of O(images) to the id of the image it names now, or V(null) when there is none on the host.
  returned: always
  type: dict
  sample: {"postgres:17": "sha256:4a1b..."}
addresses:
  description: Container name to its IPv4 address on O(network) or the first of the C(<network>-*) networks (containers on neither are left out).
  returned: always
  type: dict
  sample: {core-postgres: 172.18.0.2}
networks:
  description: The host's networks as the Docker API lists them (C(Name), C(Internal), C(IPAM), C(Labels), ...).
  returned: when O(networks=true)
  type: list
  elements: dict
"""

from ansible_collections.community.docker.plugins.module_utils.common_api import AnsibleDockerClient, RequestException
from ansible_collections.community.docker.plugins.module_utils._api.errors import DockerException

from ansible_collections.pivoine.kompose.plugins.module_utils._stack_state import project_state


def main():
    client = AnsibleDockerClient(
        argument_spec=dict(
            project=dict(type="str", required=True),
            network=dict(type="str"),
            images=dict(type="list", elements="str", default=[]),
            networks=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = client.module.params
    state = project_state(client, params["project"], params["network"], params["images"])
    if params["networks"]:
        try:
            state["networks"] = client.get_json("/networks")
        except (DockerException, RequestException) as exc:
            client.fail("cannot list the host's networks: %s" % exc)
    client.module.exit_json(changed=False, **state)


if __name__ == "__main__":
    main()
