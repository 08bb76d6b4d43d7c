#!/usr/bin/python
# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stack_files
short_description: Write all of a stack's rendered files in one go
version_added: 0.1.0
description:
  - Ensures a set of directories and files with the given content, owner and mode, in one module
    execution, so that a stack costs one task however many files it has.
  - Writes only what differs, atomically, and reports per file what changed.
  - Normally called through the action plugin of the same name, which renders the stack's Jinja2
    templates on the controller and passes their content here. Called directly, O(files[].content)
    is used as given.
author:
  - pivoine.kompose developers (@pivoine)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Files marked O(files[].secret) show a masked diff.
  platform:
    platforms: posix
options:
  root:
    description:
      - Base directory. Relative O(directories[].path) and O(files[].path) are resolved against it.
      - Created (with parents) when missing.
    type: path
    required: true
  root_mode:
    description: Mode of O(root) when it is created.
    type: raw
    default: "0755"
  directories:
    description: Directories to ensure, in order (parents first).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Directory path, relative to O(root) or absolute.
        type: path
        required: true
      mode:
        description: Octal mode as a string, for example V("0750").
        type: raw
        default: "0755"
      owner:
        description: Owner (name or numeric id). Unchanged when omitted.
        type: str
      group:
        description: Group (name or numeric id). Unchanged when omitted.
        type: str
  files:
    description: Files to ensure.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: File path, relative to O(root) or absolute. Parent directories are created.
        type: path
        required: true
      content:
        description:
          - The full content of the file. One of O(files[].content) and O(files[].secret_content) is required.
        type: str
      mode:
        description: Octal mode as a string, for example V("0644").
        type: raw
        default: "0644"
      owner:
        description: Owner (name or numeric id). Unchanged when omitted.
        type: str
      group:
        description: Group (name or numeric id). Unchanged when omitted.
        type: str
      secret:
        description:
          - The content holds secrets (passwords, hashes). It is never returned and the diff is masked.
          - The action plugin passes such content through O(files[].secret_content) instead.
        type: bool
        default: false
      secret_content:
        description:
          - Content of a secret file; masked in logs and results. Overrides O(files[].content).
        type: str
      force:
        description:
          - When V(false), the file is created if missing and never rewritten afterwards (for files
            that the service itself changes later, such as a Redis ACL file kept by C(ACL SAVE)).
        type: bool
        default: true
"""

EXAMPLES = r"""
- name: Write the core stack (usually done through the action plugin with templates)
  pivoine.kompose.stack_files:
    root: /opt/kompose/core
    directories:
      - path: redis/acl
        mode: "0700"
        owner: "999"
    files:
      - path: compose.yaml
        content: "{{ lookup('ansible.builtin.template', 'compose.yaml.j2') }}"
      - path: redis/acl/users.acl
        secret_content: "user default off\n"
        secret: true
        mode: "0600"
        owner: "999"
        force: false
"""

RETURN = r"""
files:
  description: One entry per file, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path of the file.
      type: str
      sample: /opt/kompose/core/compose.yaml
    changed:
      description: Whether the file was (or in check mode would be) created or updated.
      type: bool
    state:
      description: One of V(created), V(updated), V(attributes), V(unchanged).
      type: str
changed_files:
  description: Absolute paths of the files that changed.
  returned: always
  type: list
  elements: str
  sample: [/opt/kompose/core/redis/redis.conf]
restart_services:
  description: The services whose files changed, from the C(restarts) lists of the action's C(templates).
  returned: when called through the action plugin
  type: list
  elements: str
  sample: [redis]
stack_exists:
  description: Whether the stack's C(compose.yaml) (under O(root)) existed before this task.
  returned: when called through the action plugin
  type: bool
"""

import grp
import hashlib
import os
import pwd
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

MASKED = "(content hidden: this file holds secrets)\n"


def _resolve_id(value, lookup, what):
    if value is None:
        return -1
    value = str(value)
    if value.isdigit():
        return int(value)
    try:
        return getattr(lookup(value), "pw_uid" if what == "owner" else "gr_gid")
    except KeyError:
        raise ValueError("%s %r does not exist on the target host" % (what, value))


def _mode(value, path):
    text = str(value)
    try:
        return int(text, 8)
    except ValueError:
        raise ValueError("mode %r of %s is not an octal mode such as '0644'" % (text, path))


class StackFiles:
    def __init__(self, module):
        self.module = module
        self.root = os.path.abspath(module.params["root"])
        self.check = module.check_mode
        self.changed = False
        self.diff = []

    def _abs(self, path):
        return path if os.path.isabs(path) else os.path.join(self.root, path)

    def _attrs(self, spec, path, default_mode):
        return (
            _mode(spec.get("mode") or default_mode, path),
            _resolve_id(spec.get("owner"), pwd.getpwnam, "owner"),
            _resolve_id(spec.get("group"), grp.getgrnam, "group"),
        )

    def _apply_attrs(self, path, mode, uid, gid):
        """Set mode/owner where they differ; return True when something differed."""
        st = os.lstat(path)
        differs = (st.st_mode & 0o7777) != mode or (uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid)
        if differs and not self.check:
            os.chown(path, uid, gid)
            os.chmod(path, mode)
        return differs

    def ensure_dir(self, path, mode, uid=-1, gid=-1):
        if os.path.isdir(path):
            return self._apply_attrs(path, mode, uid, gid)
        if not self.check:
            parent = os.path.dirname(path)
            if parent and not os.path.isdir(parent):
                self.ensure_dir(parent, 0o755)
            os.mkdir(path, mode)
            os.chown(path, uid, gid)
            os.chmod(path, mode)
        self.diff.append({"before_header": path, "after_header": path, "before": "", "after": "(directory)\n"})
        return True

    def ensure_file(self, spec):
        path = self._abs(spec["path"])
        mode, uid, gid = self._attrs(spec, path, "0644")
        secret = spec.get("secret") or spec.get("secret_content") is not None
        content = spec["secret_content"] if spec.get("secret_content") is not None else spec.get("content")
        if content is None:
            raise ValueError("files[].content or files[].secret_content is required for %s" % path)
        data = to_bytes(content, errors="surrogate_or_strict")
        result = {"path": path, "changed": False, "state": "unchanged"}

        if os.path.isdir(path):
            raise ValueError("%s is a directory, expected a file" % path)
        exists = os.path.exists(path)
        if exists and not spec.get("force", True):
            if self._apply_attrs(path, mode, uid, gid):
                result.update(changed=True, state="attributes")
            return result

        old = b""
        if exists:
            with open(path, "rb") as handle:
                old = handle.read()
        if exists and hashlib.sha256(old).digest() == hashlib.sha256(data).digest():
            if self._apply_attrs(path, mode, uid, gid):
                result.update(changed=True, state="attributes")
            return result

        result.update(changed=True, state="updated" if exists else "created")
        self.diff.append({
            "before_header": path,
            "after_header": path,
            "before": (MASKED if exists else "") if secret else to_native(old, errors="surrogate_then_replace"),
            "after": MASKED if secret else content,
        })
        if not self.check:
            if not os.path.isdir(os.path.dirname(path)):
                self.ensure_dir(os.path.dirname(path), 0o755)
            fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
            try:
                os.fchmod(fd, mode)
                os.fchown(fd, uid, gid)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
            except Exception:
                os.unlink(tmp)
                raise
            self.module.atomic_move(tmp, path, unsafe_writes=False, keep_dest_attrs=False)
            os.chown(path, uid, gid)  # atomic_move resets a new file's owner and mode
            os.chmod(path, mode)
        return result

    def run(self):
        params = self.module.params
        self.changed |= self.ensure_dir(self.root, _mode(params["root_mode"], self.root))
        for spec in params["directories"]:
            path = self._abs(spec["path"])
            self.changed |= self.ensure_dir(path, *self._attrs(spec, path, "0755"))
        files = [self.ensure_file(spec) for spec in params["files"]]
        changed_files = [entry["path"] for entry in files if entry["changed"]]
        self.changed |= bool(changed_files)
        return dict(changed=self.changed, files=files, changed_files=changed_files, diff=self.diff)


def main():
    entry = dict(
        path=dict(type="path", required=True),
        mode=dict(type="raw", default="0644"),
        owner=dict(type="str"),
        group=dict(type="str"),
    )
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", required=True),
            root_mode=dict(type="raw", default="0755"),
            directories=dict(type="list", elements="dict", default=[], options=dict(entry, mode=dict(type="raw", default="0755"))),
            files=dict(type="list", elements="dict", default=[], options=dict(
                entry,
                content=dict(type="str"),
                secret=dict(type="bool", default=False),
                secret_content=dict(type="str", no_log=True),
                force=dict(type="bool", default=True),
            )),
        ),
        supports_check_mode=True,
    )
    try:
        result = StackFiles(module).run()
    except (OSError, ValueError) as exc:
        module.fail_json(msg="stack_files: %s" % to_native(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
