"""Make `ansible_collections.pivoine.kompose` importable when pytest runs from a checkout.

ansible-test units sets this up itself; plain `pytest tests/unit` uses the link `make setup`
creates and installs Ansible's collection finder, so plugin loaders resolve FQCNs as in a run.
"""

import os
import sys

_COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".collections"))
if os.path.isdir(_COLLECTIONS) and "ANSIBLE_TEST_CONTENT_ROOT" not in os.environ:
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    sys.path.insert(0, _COLLECTIONS)
    _AnsibleCollectionFinder(paths=[_COLLECTIONS] + sys.path)._install()
