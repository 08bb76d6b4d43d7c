# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: secret
short_description: Generate-once secrets kept on the controller
version_added: 0.1.0
author:
  - pivoine.kompose developers (@pivoine)
description:
  - Returns one mapping of secret name to value for the given secrets.
  - A secret that has no file yet is generated and stored as C(<dir>/<name>) with mode 0600 in a
    directory of mode 0700; later runs read it back. Each secret is its own file, so one secret can
    be rotated by deleting (or replacing) its file alone.
options:
  _terms:
    description:
      - Secrets, each a name or a mapping with C(name), C(kind) (V(password), V(hex), V(base64), V(issued))
        and C(length). Lists are flattened.
      - V(password) is C(length) characters from C([A-Za-z0-9]); V(hex) and V(base64) encode
        C(length) random bytes.
      - Kind V(issued) is a secret a service issues itself (a Gotify application token) - read when its
        file exists, never generated, and left out of the result while it does not.
    required: true
    type: list
    elements: raw
  dir:
    description: Directory holding this host's secrets.
    type: path
    required: true
  persist:
    description:
      - Store newly generated secrets. Set to V(false) in check mode so that nothing is written;
        values generated then are throw-away.
    type: bool
    default: true
notes:
  - Values are never logged by this plugin; use C(no_log) on the tasks that receive them.
"""

EXAMPLES = r"""
- name: Load the host's secrets once
  ansible.builtin.set_fact:
    kompose_secret: >-
      {{ lookup('pivoine.kompose.secret', ['postgres-superuser', {'name': 'cookie', 'kind': 'base64'}],
                dir=kompose_secrets_dir ~ '/' ~ inventory_hostname, persist=not ansible_check_mode) }}
  no_log: true
"""

RETURN = r"""
_raw:
  description: A single mapping of secret name to value.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.pivoine.kompose.plugins.plugin_utils._secrets import SecretError, normalise_spec, read_or_create


def _flatten(terms):
    for term in terms:
        if isinstance(term, (list, tuple)):
            yield from _flatten(term)
        else:
            yield term


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        directory = self.get_option("dir")
        persist = self.get_option("persist")
        values = {}
        try:
            for spec in _flatten(terms):
                name = normalise_spec(spec)[0]
                value = read_or_create(directory, spec, persist=persist)
                if value is not None:
                    values[name] = value
        except (SecretError, OSError) as exc:
            raise AnsibleLookupError("pivoine.kompose.secret: %s" % exc) from None
        return [values]
