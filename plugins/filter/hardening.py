# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin entry point for container hardening; the logic lives in plugin_utils/_hardening.py."""

from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _hardening
from ansible_collections.pivoine.kompose.plugins.plugin_utils._filters import wrap


def catalog_hardening(catalog, defaults, privileged=None, base=None):
    """Each service's hardening compose keys; with ``base`` (service -> compose keys), merged into those."""
    privileged = [] if privileged is None else privileged
    if base is None:
        return _hardening.compose_keys(catalog, defaults, privileged)
    return _hardening.service_keys(catalog, defaults, base, privileged)


class FilterModule:
    def filters(self):
        return {
            "catalog_hardening": wrap("catalog_hardening", catalog_hardening, [_hardening.HardeningError]),
        }
