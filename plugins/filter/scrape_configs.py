# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin entry points for monitoring derived from the catalog; the logic lives in plugin_utils/_monitoring.py."""

from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _monitoring
from ansible_collections.pivoine.kompose.plugins.plugin_utils._filters import wrap


def _wrap(name, func):
    return wrap(name, func, [_monitoring.MonitoringError])


class FilterModule:
    def filters(self):
        return {
            "scrape_configs": _wrap("scrape_configs", _monitoring.scrape_configs),
            "alert_rules": _wrap("alert_rules", _monitoring.alert_rules),
            "grafana_dashboards": _wrap("grafana_dashboards", _monitoring.grafana_dashboards),
        }
