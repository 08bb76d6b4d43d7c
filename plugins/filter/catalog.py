# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin entry points for the service catalog; the logic lives in plugin_utils/_catalog.py."""

from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog
from ansible_collections.pivoine.kompose.plugins.plugin_utils._filters import wrap


def _wrap(name, func):
    return wrap(name, func, [_catalog.CatalogError])


class FilterModule:
    def filters(self):
        return {
            "catalog": _wrap("catalog", _catalog.resolve),
            "catalog_secrets": _wrap("catalog_secrets", _catalog.secret_specs),
            "catalog_databases": _wrap("catalog_databases", _catalog.postgres_databases),
            "catalog_redis_users": _wrap("catalog_redis_users", _catalog.redis_users),
            "catalog_mqtt_users": _wrap("catalog_mqtt_users", _catalog.mqtt_users),
            "catalog_routes": _wrap("catalog_routes", _catalog.routes),
            "catalog_tcp_routes": _wrap("catalog_tcp_routes", _catalog.tcp_routes),
            "catalog_oidc_clients": _wrap("catalog_oidc_clients", _catalog.oidc_clients),
            "catalog_rotations": _wrap("catalog_rotations", _catalog.rotations),
            "catalog_gotify_applications": _wrap("catalog_gotify_applications", _catalog.gotify_applications),
            "catalog_consumers": _wrap("catalog_consumers", _catalog.consumers),
            "catalog_depends_on": _wrap("catalog_depends_on", _catalog.compose_dependencies),
            "catalog_start_waves": _wrap("catalog_start_waves", _catalog.start_waves),
            "catalog_volumes": _wrap("catalog_volumes", _catalog.volumes),
            "catalog_database": _wrap("catalog_database", _catalog.database),
            "postgres_url": _wrap("postgres_url", _catalog.postgres_url),
        }
