# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which backup set a restore takes, what it puts back and which services it stops meanwhile
(roles/day2/tasks/restore.yml), and the script that restores one database (restore_item.yml).

A backup set is data, not instructions: the set is chosen among those whose manifest is authentic
(_backup.authenticate), what is put back is derived from the catalog (the manifest only says which of
those items the set holds, and each item's file must be one the manifest checksums), and names reach
SQL and Docker only after they matched the catalog and a strict pattern.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shlex

from ansible_collections.pivoine.kompose.plugins.plugin_utils._backup import BackupError, authenticate, check_key
from ansible_collections.pivoine.kompose.plugins.plugin_utils._catalog import CatalogError, consumers, postgres_databases

# item kind (backup manifest) -> the core server whose data it is
SERVER_OF_KIND = {"database": "postgres", "redis": "redis", "mqtt": "mqtt"}
KINDS = ("database", "redis", "mqtt", "volume")
SET_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z\Z")
DATABASE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}\Z")  # as the catalog checks it; \Z: no trailing newline
FINISHED_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")
# a Docker volume's name (compose's <stack>_<volume>): never a path, so never a bind mount
VOLUME_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")

# Restores one database as the superuser (PG* from the environment) from /backup/<name>.dump; the
# name is "$1" and reaches SQL only as the psql variable :'db', which psql quotes as a literal. An
# existing database gets the dump's objects dropped and recreated in one transaction; a missing one
# is created from the dump (with its owner and grants).
DATABASE_SCRIPT = """\
exists="$(echo "SELECT 1 FROM pg_database WHERE datname = :'db'" | psql -XAtq -v ON_ERROR_STOP=1 -v db="$1" -d postgres)"
if [ "$exists" = 1 ]; then
  pg_restore --clean --if-exists --single-transaction --exit-on-error --dbname="$1" "/backup/$1.dump"
else
  pg_restore --create --exit-on-error --dbname=postgres "/backup/$1.dump"
fi
"""


class RestoreError(CatalogError):
    """A restore refused (a CatalogError, so that restore_plan's filter entry names it)."""


def choose(results, wanted, key):
    """The set to restore and its authenticated manifest.

    ``results``: ansible.builtin.slurp results of the sets' manifest.json, looped over the set names
    (``item``: the set's name, ``content``: base64). ``wanted``: a set name, or ``latest``: of the sets
    whose manifest is authentic, the one finished last by its manifest's (signed) ``finished`` time,
    not by its directory name. Returns {set, manifest, refused}: ``refused`` says why each other set
    was passed over (for ``latest``); a named set that is not authentic is an error naming the cause.
    """
    check_key(key)
    if not isinstance(wanted, str) or not (wanted == "latest" or SET_RE.match(wanted)):
        raise RestoreError("kompose_restore_from=%s: not a set name such as 20261130T070500Z, or latest" % json.dumps(wanted))
    authentic, refused = [], []
    for result in results:
        name = result.get("item")
        try:
            manifest = authenticate(_read(result), key, name)
            if not FINISHED_RE.match(str(manifest.get("finished"))):
                raise BackupError("backup set %s: its manifest's finished time %r is not YYYY-MM-DDTHH:MM:SSZ"
                                  % (name, manifest.get("finished")))
        except BackupError as exc:
            if wanted != "latest":
                raise
            refused.append(str(exc))
            continue
        authentic.append(manifest)
    if wanted == "latest":
        if not authentic:
            raise RestoreError('kompose_restore_from="latest": no backup set can be authenticated: %s'
                               % ("; ".join(refused) or "there is no set"))
        chosen = max(authentic, key=lambda m: (m["finished"], m["set"]))
    else:
        chosen = next((m for m in authentic if m["set"] == wanted), None)
        if chosen is None:
            raise RestoreError("kompose_restore_from=%s: no such backup set" % json.dumps(wanted))
    return {"set": chosen["set"], "manifest": chosen, "refused": refused}


def _read(result):
    name = result.get("item")
    if "content" not in result:
        raise BackupError("backup set %s: manifest.json could not be read (%s)" % (name, result.get("msg", "no content")))
    try:
        return json.loads(base64.b64decode(result["content"]).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BackupError("backup set %s: manifest.json is not JSON" % name) from None


def catalog_items(catalog, volumes):
    """Every item a backup of this site takes, derived from the catalog: each service database, Redis,
    Mosquitto, and each data volume of ``volumes`` (service -> volume names, as the backup's
    kompose_backup_volumes or the catalog's), named <stack>_<volume> as compose names them."""
    if not isinstance(volumes, dict):
        raise RestoreError("kompose_backup_volumes: expected a mapping of service to volume names, got %s"
                           % type(volumes).__name__)
    items = []
    for db in postgres_databases(catalog):
        if db["name"] is None:
            continue  # a login role only: nothing to dump
        if not DATABASE_RE.match(db["name"]):
            raise RestoreError("kompose_services.%s.postgres.database: %r is not a PostgreSQL name" % (db["service"], db["name"]))
        items.append({"service": db["service"], "kind": "database", "database": db["name"],
                      "file": "postgres/%s.dump" % db["name"]})
    if "redis" in catalog:
        items.append({"service": "redis", "kind": "redis", "file": "redis/dump.rdb"})
    if "mqtt" in catalog:
        items.append({"service": "mqtt", "kind": "mqtt", "file": "mqtt/mosquitto.db"})
    for service, names in sorted(volumes.items()):
        if service not in catalog:
            continue
        for name in names if isinstance(names, list) else [names]:
            volume = "%s_%s" % (catalog[service]["stack"], name)
            if not isinstance(name, str) or not VOLUME_NAME_RE.match(volume):
                raise RestoreError("kompose_backup_volumes.%s: %r is not a volume name (letters, digits, _ . -)"
                                   % (service, name))
            items.append({"service": service, "kind": "volume", "stack": catalog[service]["stack"], "volume": volume,
                          "file": "volumes/%s.tar" % volume})
    return items


def _key(item):
    return (item.get("service"), item.get("kind"), item.get("database"), item.get("volume"))


def _describe(item):
    return ", ".join("%s %s" % (name, json.dumps(item[name])) for name in ("service", "kind", "database", "volume", "file")
                     if name in item)


def plan(manifest, catalog, services, volumes):
    """The items of a backup set to put back and the services to stop meanwhile.

    ``manifest``: the set's authenticated manifest; ``services``: the services asked for (empty: every
    service of the set); ``volumes``: service -> data volume names (kompose_backup_volumes, or the
    catalog's). What is put back is derived from the catalog (catalog_items): a manifest item is only
    the set's word that it holds one of them. Items of services the catalog does not know are skipped;
    an item of a known service that the catalog does not derive (another database or volume name, an
    unknown kind) is refused, and so is an item whose file the manifest does not checksum.

    Returns items (the catalog's, in the manifest's order) and consumers (stack -> services, the core
    servers excluded), the stacks in the catalog's order, which is the site's: started again in that
    order, a service finds what it needs at start running (e.g. Gotify and Vaultwarden read Keycloak's
    discovery document, so the auth stack starts before them). A database stops its service and the
    services that read it; Redis and Mosquitto stop every service with a user there; a data volume
    stops its own service.
    """
    if not isinstance(manifest, dict) or not isinstance(manifest.get("items"), list):
        raise RestoreError("the backup manifest has no list of items")
    known = {_key(item): item for item in catalog_items(catalog, volumes)}
    checksummed = {f.get("path") for f in manifest.get("files", []) if isinstance(f, dict) and f.get("sha256")}
    items = []
    for item in manifest["items"]:
        if not isinstance(item, dict) or item.get("service") not in catalog:
            continue  # a service this site no longer has
        if services and item["service"] not in services:
            continue
        mine = known.get(_key(item))
        if mine is None:
            raise RestoreError("the set's item (%s) is not one the catalog derives for service %s (it derives: %s); "
                               "nothing was restored" % (_describe(item), item["service"], "; ".join(
                                   _describe(k) for k in known.values() if k["service"] == item["service"]) or "none"))
        if mine["file"] not in checksummed:
            raise RestoreError("the set's item (%s) has no checksum in the manifest's files: nothing was restored"
                               % _describe(mine))
        if mine not in items:
            items.append(mine)
    by_stack = {}

    def add(stacks):
        for stack, names in stacks.items():
            current = by_stack.setdefault(stack, [])
            current += [name for name in names if name not in current]

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


def database_script(item, catalog, superuser):
    """The helper container's script that restores the database of ``item`` (its name is the script's
    argument "$1"): the superuser's password from the server's own secret file, then DATABASE_SCRIPT."""
    name = item.get("database") if isinstance(item, dict) else None
    if not isinstance(name, str) or not DATABASE_RE.match(name):
        raise RestoreError("database %s: not a PostgreSQL name from the catalog (lower-case letters, digits, _)"
                           % json.dumps(name))
    server = catalog.get("postgres") or {}
    return ('PGPASSWORD="$(cat /run/secrets/postgres-superuser)"\n'
            "export PGPASSWORD PGHOST=%s PGPORT=%s PGUSER=%s\n%s"
            % (shlex.quote(str(server.get("container"))), shlex.quote(str(server.get("port"))), shlex.quote(str(superuser)),
               DATABASE_SCRIPT))
