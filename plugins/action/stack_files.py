# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a stack's templates on the controller and write them with ONE module execution.

``ansible.builtin.template`` costs a stat and a copy module run per file; a stack has many files.
This action renders every entry of ``templates`` locally (from the templates/ directory of the
role named by ``role``, else from the task's own search path), stamps each service of the stack's
``compose.yaml`` with a digest of the managed files it mounts (see plugin_utils/_compose.py), and
hands all contents to the ``pivoine.kompose.stack_files`` module in one call.

It adds to the module's result ``config_hashes`` ({service: digest}, what the running containers'
``org.pivoine.kompose.config-hash`` label must say) and ``stack_exists`` (whether the stack's
compose.yaml was there before).
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

from ansible_collections.pivoine.kompose.plugins.plugin_utils._compose import ComposeError, with_config_hashes

TEMPLATE_KEYS = frozenset(("src", "dest", "mode", "owner", "group", "secret", "force", "recreate"))
FILE_KEYS = frozenset(("path", "content", "secret_content", "secret", "mode", "owner", "group", "force", "recreate"))
COMPOSE = "compose.yaml"
# the collection's roles/ directory (this file is plugins/action/stack_files.py)
ROLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("root", "root_mode", "directories", "files", "templates", "role", "hash_key"))
    _MODULE = "pivoine.kompose.stack_files"

    def _take_own_args(self, args):
        """Remove from ``args`` (a copy of the task's) the options a subclass handles itself."""

    def _module_args(self, args):
        """The arguments of the module execution (a subclass adds its own)."""
        return args

    def _source(self, src, role):
        if role:
            path = os.path.normpath(os.path.join(ROLES_DIR, role, "templates", src))
            if not os.path.isfile(path):
                raise AnsibleActionFail("stack_files: template %r not found in role %s (%s)" % (src, role, path))
            return path
        try:
            return self._find_needle("templates", src)
        except AnsibleError as exc:
            raise AnsibleActionFail("stack_files: template %r not found: %s" % (src, to_text(exc)))

    def _render(self, source, task_vars):
        searchpath = list(task_vars.get("ansible_search_path", [])) + [self._loader._basedir, os.path.dirname(source)]
        searchpath = [p for base in searchpath for p in (os.path.join(base, "templates"), base)]
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=task_vars)
        data = trust_as_template(self._loader.get_text_file_contents(source))
        try:
            rendered = templar.template(data, escape_backslashes=False, overrides=dict(trim_blocks=True))
        except AnsibleError as exc:
            raise AnsibleActionFail("stack_files: cannot render %s: %s" % (os.path.basename(source), to_text(exc)))
        return "" if rendered is None else to_text(rendered)

    def _file_specs(self, templates, files, role, task_vars):
        """Module-ready file specs: the templates rendered (compose.yaml last), then the given files."""
        if not isinstance(templates, list) or not isinstance(files, list):
            raise AnsibleActionFail("stack_files: templates and files must be lists")
        specs, compose = [], None
        for entry in templates:
            if not isinstance(entry, dict) or "src" not in entry:
                raise AnsibleActionFail("stack_files: each templates entry needs a src, got %r" % (entry,))
            unknown = set(entry) - TEMPLATE_KEYS
            if unknown:
                raise AnsibleActionFail("stack_files: unknown key(s) %s in templates entry %s" % (", ".join(sorted(unknown)), entry["src"]))
            spec = {key: entry[key] for key in ("mode", "owner", "group", "force", "secret", "recreate") if entry.get(key) is not None}
            spec["path"] = entry.get("dest") or entry["src"].removesuffix(".j2")
            spec["_src"] = self._source(entry["src"], role)
            if os.path.normpath(spec["path"]) == COMPOSE:
                compose = spec
            else:
                specs.append(spec)
        for entry in files:
            if not isinstance(entry, dict) or "path" not in entry:
                raise AnsibleActionFail("stack_files: each files entry needs a path")
            unknown = set(entry) - FILE_KEYS
            if unknown:
                raise AnsibleActionFail("stack_files: unknown key(s) %s in files entry %s" % (", ".join(sorted(unknown)), entry["path"]))
            specs.append(dict(entry))
        for spec in specs:
            if "_src" in spec:
                spec["content"] = self._render(spec.pop("_src"), task_vars)
        if compose is not None:
            compose["content"] = self._render(compose.pop("_src"), task_vars)
            specs.append(compose)
        return specs, compose

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        # a copy: the task's own arguments stay as they are (a retried task runs with them again)
        args = dict(self._task.args)
        self._take_own_args(args)
        role, key = args.pop("role", None), args.pop("hash_key", None)
        specs, compose = self._file_specs(args.pop("templates", None) or [], args.get("files") or [], role, task_vars)

        hashes, self._compose_text = {}, None
        if compose is not None:
            # what recreates a service: the managed files it mounts, except seeds the service keeps
            # itself (force: false) and files it reloads on its own or reads once (recreate: false)
            counted = {
                os.path.normpath(spec["path"]): to_bytes(spec.get("secret_content") if spec.get("secret_content") is not None else spec.get("content") or "")
                for spec in specs
                if spec is not compose and spec.get("force", True) and spec.get("recreate", True) and not os.path.isabs(spec["path"])
            }
            try:
                compose["content"], hashes = with_config_hashes(compose["content"], counted, key)
            except ComposeError as exc:
                raise AnsibleActionFail("stack_files: %s" % exc)
            self._compose_text = compose["content"]

        for spec in specs:
            spec.pop("recreate", None)
            if spec.get("secret") and spec.get("content") is not None:
                spec["secret_content"] = spec.pop("content")
        args["files"] = specs

        module_result = self._execute_module(module_name=self._MODULE, module_args=self._module_args(args), task_vars=task_vars)
        result.update(module_result)
        if not result.get("failed"):
            result["config_hashes"] = hashes
            compose_path = os.path.normpath(os.path.join(args.get("root", ""), COMPOSE))
            states = {os.path.normpath(entry["path"]): entry["state"] for entry in result.get("files", [])}
            result["stack_exists"] = states.get(compose_path, "created") != "created"
        return result
