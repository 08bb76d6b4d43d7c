# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a stack's templates on the controller and write them with ONE module execution.

``ansible.builtin.template`` costs a stat and a copy module run per file; a stack has many files.
This action renders every entry of ``templates`` locally, hands all contents to the
``pivoine.kompose.stack_files`` module in one call, and adds ``restart_services``: the services
whose files changed (from each template's ``restarts`` list), for the stack's restart handler, and
``stack_exists``: whether the stack's compose.yaml was there before.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

TEMPLATE_KEYS = frozenset(("src", "dest", "mode", "owner", "group", "secret", "force", "restarts"))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("root", "root_mode", "directories", "files", "templates"))

    def _render(self, src, task_vars):
        try:
            source = self._find_needle("templates", src)
        except AnsibleError as exc:
            raise AnsibleActionFail("stack_files: template %r not found: %s" % (src, to_text(exc)))
        searchpath = list(task_vars.get("ansible_search_path", [])) + [self._loader._basedir, os.path.dirname(source)]
        searchpath = [p for base in searchpath for p in (os.path.join(base, "templates"), base)]
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=task_vars)
        data = trust_as_template(self._loader.get_text_file_contents(source))
        try:
            rendered = templar.template(data, escape_backslashes=False, overrides=dict(trim_blocks=True))
        except AnsibleError as exc:
            raise AnsibleActionFail("stack_files: cannot render %s: %s" % (src, to_text(exc)))
        return "" if rendered is None else to_text(rendered)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        templates = args.pop("templates", None) or []
        if not isinstance(templates, list):
            raise AnsibleActionFail("stack_files: templates must be a list, got %s" % type(templates).__name__)

        files = list(args.get("files") or [])
        restarts = {}
        for entry in templates:
            if not isinstance(entry, dict) or "src" not in entry:
                raise AnsibleActionFail("stack_files: each templates entry needs a src, got %r" % (entry,))
            unknown = set(entry) - TEMPLATE_KEYS
            if unknown:
                raise AnsibleActionFail("stack_files: unknown key(s) %s in templates entry %s" % (", ".join(sorted(unknown)), entry["src"]))
            dest = entry.get("dest") or entry["src"].removesuffix(".j2")
            content = self._render(entry["src"], task_vars)
            spec = {key: entry[key] for key in ("mode", "owner", "group", "force") if entry.get(key) is not None}
            spec["path"] = dest
            if entry.get("secret"):
                spec.update(secret=True, secret_content=content)
            else:
                spec["content"] = content
            files.append(spec)
            restarts[dest] = list(entry.get("restarts") or [])
        args["files"] = files

        module_result = self._execute_module(module_name="pivoine.kompose.stack_files", module_args=args, task_vars=task_vars)
        result.update(module_result)
        if not result.get("failed"):
            root = args.get("root", "")
            changed = {os.path.normpath(path) for path in result.get("changed_files", [])}
            services = set()
            for dest, names in restarts.items():
                if os.path.normpath(os.path.join(root, dest)) in changed:
                    services.update(names)
            result["restart_services"] = sorted(services)
            # whether the stack ran before this task: its compose.yaml was there already (in check
            # mode a handler may then dry-run a recreate against it)
            compose = os.path.normpath(os.path.join(root, "compose.yaml"))
            states = {os.path.normpath(entry["path"]): entry["state"] for entry in result.get("files", [])}
            result["stack_exists"] = states.get(compose, "created") != "created"
        return result
