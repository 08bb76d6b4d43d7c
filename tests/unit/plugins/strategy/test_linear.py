# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The strategy's preload: what the controller imports before it forks its workers."""

from __future__ import annotations

import sys

from ansible_collections.pivoine.kompose.plugins.strategy import linear


def test_preload_imports_the_collections_controller_plugins():
    for name in [n for n in sys.modules if n.startswith("ansible_collections.pivoine.kompose.plugins.filter.")]:
        del sys.modules[name]
    linear.preload()
    for name in ("filter.catalog", "filter.networks", "action.stack", "lookup.secret", "test.cidr"):
        assert "ansible_collections.pivoine.kompose.plugins." + name in sys.modules


def test_preload_leaves_a_failing_import_to_the_task(monkeypatch):
    monkeypatch.setattr(linear, "PRELOAD_MODULES", ("ansible.plugins.action.no_such_plugin",))
    monkeypatch.setattr(linear, "PRELOAD_COLLECTIONS", ("no_such.collection",))
    linear.preload()  # no exception: the task that uses it reports the error
    assert "ansible.plugins.action.no_such_plugin" not in sys.modules
