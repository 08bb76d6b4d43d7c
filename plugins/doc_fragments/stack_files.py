# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:

    # The files options of the modules that write a stack's files (stack_files, stack;
    # module_utils/_stack_files.py).
    DOCUMENTATION = r"""
options:
  root:
    description:
      - Base directory. Relative O(directories[].path) and O(files[].path) are resolved against it.
      - Created (with parents) when missing.
    type: path
    required: true
  root_mode:
    description:
      - Mode of O(root). Enforced on every run, not only when O(root) is created.
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
            that the service itself changes later, such as a Redis ACL file kept by C(ACL SAVE)); its owner
            and mode are still enforced.
          - When V(true), a symbolic link or other non-regular file found in its place is replaced by the regular
            file. When V(false), that is an error (C(<path> is a symbolic link (expected a regular file); remove it
            and re-run)), since the file's content belongs to the service.
        type: bool
        default: true
"""
