# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a restore puts back and which services it stops meanwhile (roles/day2/tasks/restore.yml)."""

from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.plugin_utils._catalog import CatalogError, consumers

# item kind (backup manifest) -> the core server whose data it is
SERVER_OF_KIND = {"database": "postgres", "redis": "redis", "mqtt": "mqtt"}


def plan(manifest, catalog, services):
    """The items of a backup set to put back and the services to stop meanwhile.

    ``manifest``: the set's manifest.json (``items``: service, kind, file); ``services``: the services
    asked for (empty: every service of the set). Items of services the catalog does not know are
    skipped. A database stops its service and the services that read it; Redis and Mosquitto stop
    every service with a user there; a data volume stops its own service.

    Returns items (as in the manifest) and consumers (stack -> services, the core servers excluded),
    the stacks in the catalog's order, which is the site's: started again in that order, a service
    finds what it needs at start running (e.g. Gotify and Vaultwarden read Keycloak's discovery
    document, so the auth stack starts before them).
    """
    if not isinstance(manifest, dict) or not isinstance(manifest.get("items"), list):
        raise CatalogError("the backup manifest has no list of items")
    items = [item for item in manifest["items"]
             if (not services or item["service"] in services) and item["service"] in catalog]
    by_stack = {}

    def add(stacks):
        for stack, names in stacks.items():
            mine = by_stack.setdefault(stack, [])
            mine += [name for name in names if name not in mine]

    for item in items:
        server = SERVER_OF_KIND.get(item["kind"])
        if server is not None:
            add(consumers(catalog, server, of=item["service"] if server == "postgres" else None))
        else:
            entry = catalog[item["service"]]
            if "container" in entry and item["service"] not in SERVER_OF_KIND.values():
                add({entry["stack"]: [item["service"]]})
    order = list(dict.fromkeys(entry.get("stack") for entry in catalog.values()))
    return {"items": items, "consumers": {stack: by_stack[stack] for stack in sorted(by_stack, key=order.index)}}
