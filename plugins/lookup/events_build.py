# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: events_build
short_description: The event engine's build files, read from the collection on the controller
version_added: 0.4.0
author:
  - pivoine.kompose developers (@pivoine)
description:
  - Returns one mapping C({version, digest, files, directories}) - the files the event engine's image is built from
    (C(events/Dockerfile), C(events/requirements.txt) and the package C(events/kompose_events), as
    C([{path, content}]) with paths under C(build/)), the directories holding them, the package's version and a sha256 over every path and
    content. The events stack copies the files to the host and names its image by version and digest, so
    a changed file builds a new image and an unchanged one builds nothing.
options: {}
"""

EXAMPLES = r"""
- name: The engine's image tag
  ansible.builtin.debug:
    msg: "{{ lookup('pivoine.kompose.events_build').version }}-{{ lookup('pivoine.kompose.events_build').digest[:12] }}"
"""

RETURN = r"""
_raw:
  description: One mapping with C(version), C(digest), C(files) and C(directories).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.pivoine.kompose.plugins.plugin_utils._events import EventsConfigError, build_context


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        try:
            return [build_context()]
        except EventsConfigError as exc:
            raise AnsibleLookupError("pivoine.kompose.events_build: %s" % exc) from None
