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
  - Never follows a symbolic link, and never writes through one, below O(root). Directories such as
    C(redis/acl/) are writable by containers, which could plant a link to a host file (say C(/etc/shadow))
    where the module keeps a file. Every path is checked with C(lstat) and opened with C(O_NOFOLLOW)
    (directories below O(root) component by component), owner and mode are set through the opened
    descriptor, and a new content is written to a temporary file in the same directory and renamed over
    the old one.
  - A symbolic link or other non-regular file (FIFO, socket, device) in place of a managed file is replaced
    by the regular file (state V(replaced)) when O(files[].force=true), and is an error when
    O(files[].force=false). A symbolic link or any other non-directory in place of O(root), of a managed
    directory, or of a directory between O(root) and a managed path, is an error naming the path.
    The parents of O(root), and of an absolute path outside O(root), are trusted (they may be links).
  - Normally called through the action plugin of the same name, which renders the stack's Jinja2
    templates on the controller and passes their content here. Called directly, O(files[].content)
    is used as given.
  - The action plugin takes three more options, never passed to the module - C(templates) (entries
    C(src), C(dest), C(mode), C(owner), C(group), C(secret), C(force), C(recreate)), C(role) (render
    C(src) from that role of the collection) and C(hash_key) (the key of the config digests) - and
    stamps each service of the stack's C(compose.yaml) with the label
    C(org.pivoine.kompose.config-hash), a digest of the managed files it mounts, except C(force=false)
    files and files marked C(recreate=false). Compose then recreates exactly the services whose files
    changed, on the next C(up) whenever it comes.
author:
  - pivoine.kompose developers (@pivoine)
extends_documentation_fragment:
  - pivoine.kompose.stack_files
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Files marked O(files[].secret) show a masked diff.
      - A replaced link or special file shows in the diff as what it was, for example C(symbolic link to /etc/shadow),
        replaced by a regular file.
  platform:
    platforms: posix
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
      description: Whether the file was (or in check mode would be) created, updated or replaced, or its attributes set.
      type: bool
    state:
      description:
        - V(created), V(updated) (content), V(attributes) (owner or mode only), V(unchanged), or V(replaced)
          (a symbolic link or other non-regular file was in its place and was replaced by the regular file;
          the link itself is replaced, its target is never touched).
      type: str
      sample: updated
changed_files:
  description: Absolute paths of the files that changed.
  returned: always
  type: list
  elements: str
  sample: [/opt/kompose/core/redis/redis.conf]
config_hashes:
  description: Service name to the digest of the files it mounts (the value of its C(org.pivoine.kompose.config-hash) label).
  returned: when called through the action plugin
  type: dict
  sample: {redis: 8485b6e7dec7cd1d}
stack_exists:
  description: Whether the stack's C(compose.yaml) (under O(root)) existed before this task.
  returned: when called through the action plugin
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pivoine.kompose.plugins.module_utils._stack_files import StackFiles, argument_spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = StackFiles(module).run()
    except (OSError, ValueError) as exc:
        module.fail_json(msg="stack_files: %s" % to_native(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
