# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin entry point for the events stack's rules; the logic lives in plugin_utils/_events.py."""

from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _events
from ansible_collections.pivoine.kompose.plugins.plugin_utils._filters import wrap


class FilterModule:
    def filters(self):
        return {"events_config": wrap("events_config", _events.config, [_events.EventsConfigError])}
