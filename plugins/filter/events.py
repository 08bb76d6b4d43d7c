# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin entry point for the events stack's rules; the logic lives in plugin_utils/_events.py."""

from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _events
from ansible_collections.pivoine.kompose.plugins.plugin_utils._filters import wrap


class FilterModule:
    def filters(self):
        return {
            "events_config": wrap("events_config", _events.config, [_events.EventsConfigError]),
            "events_column_grants": wrap("events_column_grants", _events.column_grants, [_events.EventsConfigError]),
            "events_umami_website": wrap("events_umami_website", _events.umami_website, [_events.EventsConfigError]),
            "events_subnets": wrap("events_subnets", _events.subnets, [_events.EventsConfigError]),
            "events_sidecar_files": wrap("events_sidecar_files", _events.sidecar_files, [_events.EventsConfigError]),
        }
