# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: local_build
short_description: The build files of an image the collection builds on the host, read on the controller
version_added: 0.4.0
author:
  - pivoine.kompose developers (@pivoine)
description:
  - For each term, one mapping C({version, digest, files, directories}) - the files the image is built from (the
    directory's C(Dockerfile) and C(requirements.txt) and every file of its Python package, as C([{path, content}])
    with paths under C(build/)), the directories holding them, the package's version and a sha256 over every path
    and content.
  - A stack copies the files to the host and names its image by version and digest, so a changed file builds a new
    image and an unchanged one builds nothing.
options:
  _terms:
    description: The builds, V(events) (the event engine, C(events/)) or V(kmps) (the portal, C(kmps/)).
    required: true
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: The engine's image tag
  ansible.builtin.debug:
    msg: "{{ lookup('pivoine.kompose.local_build', 'events').version }}-{{ lookup('pivoine.kompose.local_build', 'events').digest[:12] }}"
"""

RETURN = r"""
_raw:
  description: One mapping per term with C(version), C(digest), C(files) and C(directories).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.pivoine.kompose.plugins.plugin_utils._build import BuildError, build_context


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        try:
            return [build_context(term) for term in terms]
        except BuildError as exc:
            raise AnsibleLookupError("pivoine.kompose.local_build: %s" % exc) from None
