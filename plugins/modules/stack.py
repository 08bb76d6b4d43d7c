#!/usr/bin/python
# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stack
short_description: Render a stack and compare it with what runs, in one task
version_added: 0.2.0
description:
  - Does what P(pivoine.kompose.stack_files#module) does (renders the stack's templates on the controller, stamps
    each compose service with the label C(org.pivoine.kompose.config-hash), writes every file in one module
    execution), then lists the stack's containers once through the Docker API
    (as P(pivoine.kompose.stack_state#module) does) and compares them with the rendered compose file.
  - The label is a digest of the service's definition and of the managed files it mounts, so one listing tells
    whether C(docker compose up) would act, whatever happened since the last C(up) (a render-only, failed or
    killed run). An unchanged stack costs this one task; no C(docker compose) subprocess runs.
  - The action plugin takes four more options, never passed to the module - C(templates) and C(role) (rendered as
    P(pivoine.kompose.stack_files#module) renders them), C(hash_key) (the key of the digests) and C(holders) (container
    names of the services that hold data; a holder whose container runs another image reference than the rendered one
    is listed in RV(upgrading), so that a backup can run before C(up)).
  - All of it is one module execution on the target; the templates are rendered on the controller.
author:
  - pivoine.kompose developers (@pivoine)
extends_documentation_fragment:
  - pivoine.kompose.stack_files
  - community.docker.docker.api_documentation
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Nothing is written; RV(drift) and RV(would_recreate) compare the running containers with the new render.
  diff_mode:
    support: full
    details: As P(pivoine.kompose.stack_files#module); files marked secret show a masked diff.
  platform:
    platforms: posix
options:
  project:
    description: The compose project name. Defaults to the last component of O(root).
    type: str
  network:
    description:
      - The network whose addresses RV(addresses) lists; a container that is not on it is listed with its address
        on the first (by name) of the networks named C(<network>-*), the site's per-service networks.
    type: str
  images:
    description:
      - Image references to resolve to the ids they name now. The action plugin passes the images of the rendered
        compose file.
    type: list
    elements: str
    default: []
  inspect:
    description: Compare with the running containers. V(false) renders only (RV(drift) and the others stay empty).
    type: bool
    default: true
notes:
  - Needs C(requests) on the target, like the Docker API modules of community.docker.
"""

EXAMPLES = r"""
- name: Render the core stack and compare it with what runs
  pivoine.kompose.stack:
    root: /opt/kompose/core
    role: core
    hash_key: "{{ hash_key }}"
    templates:
      - src: compose.yaml.j2
    network: kompose
    holders: [core-postgres]
  register: core

- name: Bring the stack up only when something differs
  community.docker.docker_compose_v2:
    project_src: /opt/kompose/core
    wait: true
  when: core.drift | length > 0
"""

RETURN = r"""
files:
  description: One entry per file, as in P(pivoine.kompose.stack_files#module).
  returned: always
  type: list
  elements: dict
changed_files:
  description: Absolute paths of the files that changed.
  returned: always
  type: list
  elements: str
config_hashes:
  description: Service name to the value of its C(org.pivoine.kompose.config-hash) label.
  returned: always
  type: dict
stack_exists:
  description: Whether the stack's C(compose.yaml) existed before this task.
  returned: always
  type: bool
drift:
  description:
    - Why C(docker compose up) would act, one reason per service - its definition or mounted files changed, no
      container, a container that is not running or not healthy, an image reference that now names another image,
      an orphan container. Empty when C(up) would change nothing.
  returned: always
  type: list
  elements: str
  sample: ["redis: definition or mounted files changed"]
would_recreate:
  description: Services whose container runs another definition or other mounted files than the render (sorted).
  returned: always
  type: list
  elements: str
  sample: [redis]
upgrading:
  description: Services of C(holders) whose container runs another image reference than the rendered one.
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: The compose service.
      type: str
    container:
      description: Its container name.
      type: str
    from:
      description: The image reference the container runs.
      type: str
    to:
      description: The rendered image reference.
      type: str
addresses:
  description: Container name to its IPv4 address on O(network) (or on the first of the C(<network>-*) networks).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.community.docker.plugins.module_utils.common_api import DOCKER_COMMON_ARGS

from ansible_collections.pivoine.kompose.plugins.module_utils._stack_files import StackFiles, argument_spec
from ansible_collections.pivoine.kompose.plugins.module_utils._stack_state import ModuleDockerClient, project_state


def main():
    spec = dict(DOCKER_COMMON_ARGS, **argument_spec())
    spec.update(
        project=dict(type="str"),
        network=dict(type="str"),
        images=dict(type="list", elements="str", default=[]),
        inspect=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    try:
        result = StackFiles(module).run()
    except (OSError, ValueError) as exc:
        module.fail_json(msg="stack: %s" % to_native(exc))
    params = module.params
    if params["inspect"]:
        project = params["project"] or params["root"].rstrip("/").rsplit("/", 1)[-1]
        result.update(project_state(ModuleDockerClient(module), project, params["network"], params["images"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
