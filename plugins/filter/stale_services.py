# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin entry point; the logic lives in plugin_utils/_compose.py."""

from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _compose
from ansible_collections.pivoine.kompose.plugins.plugin_utils._filters import wrap


class FilterModule:
    def filters(self):
        return {
            "stale_services": wrap("stale_services", _compose.stale_services, [_compose.ComposeError]),
            "not_ready": wrap("not_ready", _compose.not_ready, [_compose.ComposeError]),
        }
