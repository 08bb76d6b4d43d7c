# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One stack's render and its comparison with what runs, in one task.

Renders the stack's files like ``pivoine.kompose.stack_files`` (whose action this extends); the
``pivoine.kompose.stack`` module writes them and lists the stack's containers, in one execution.
From that listing the action tells the lifecycle, without a ``docker compose`` subprocess,
whether ``up`` has anything to do (``drift``), which services check mode would recreate
(``would_recreate``), which services holding data would start another image (``upgrading``) and
the containers' addresses (``addresses``).
"""

from __future__ import annotations

import yaml

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.pivoine.kompose.plugins.action.stack_files import ActionModule as StackFilesAction
from ansible_collections.pivoine.kompose.plugins.plugin_utils._compose import stack_drift, stale_services, upgrading


class ActionModule(StackFilesAction):
    _VALID_ARGS = StackFilesAction._VALID_ARGS | frozenset(("project", "network", "holders", "inspect"))

    @property
    def _MODULE(self):
        # rendering only: the lighter stack_files module writes the same files without a Docker client
        return "pivoine.kompose.stack" if self._inspect else "pivoine.kompose.stack_files"

    def _module_args(self, args):
        if not self._inspect:
            return args
        services = self._services()
        images = sorted({svc["image"] for svc in services.values() if isinstance(svc, dict) and svc.get("image")})
        return dict(args, project=self._project, network=self._network, inspect=self._inspect, images=images)

    def _services(self):
        return (yaml.safe_load(self._compose_text or "{}") or {}).get("services") or {}

    def _take_own_args(self, args):
        self._project, self._network = args.pop("project", None), args.pop("network", None)
        self._holders = args.pop("holders", None) or []
        try:
            self._inspect = boolean(args.pop("inspect", True), strict=True)
        except TypeError as exc:
            raise AnsibleActionFail("stack: inspect: %s" % exc)
        if not isinstance(self._holders, list):
            raise AnsibleActionFail("stack: holders must be a list of container names, got %r" % (self._holders,))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        containers, images = result.pop("containers", []), result.pop("images", {})
        result.setdefault("addresses", {})
        result.update(drift=[], would_recreate=[], upgrading=[])
        if result.get("failed") or not self._inspect:
            return result
        services = self._services()
        result.update(
            drift=stack_drift(services, result["config_hashes"], containers, images),
            would_recreate=stale_services(containers, result["config_hashes"]) if result["stack_exists"] else [],
            upgrading=upgrading(services, containers, set(self._holders)),
        )
        return result
