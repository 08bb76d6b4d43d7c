# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin entry points for custom stacks; the logic lives in plugin_utils/_custom.py."""

from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog, _custom
from ansible_collections.pivoine.kompose.plugins.plugin_utils._filters import wrap


def _wrap(name, func):
    return wrap(name, func, [_custom.CustomError, _catalog.CatalogError])


class FilterModule:
    def filters(self):
        return {
            "custom_stacks": _wrap("custom_stacks", _custom.registry),
            "custom_compose": _wrap("custom_compose", _custom.compose),
            "custom_files": _wrap("custom_files", _custom.files),
            "custom_refs": _wrap("custom_refs", _custom.refs_matching),
        }
