"""Issue 18, findings 7, 8 and 12, read from the files the collection ships.

- finding 7: Grafana provisions Prometheus only, deletes the PostgreSQL datasource it once
  provisioned, and no dashboard queries anything but Prometheus (Grafana OSS lets every Viewer send
  any query to any datasource);
- finding 8: cAdvisor is off in the catalog, unprivileged by default, and on in the lab and in the
  render scenario only because their inventories say so;
- finding 12: Umami's default administrator password and LetterSpace's open signup are closed inside
  the container before the server starts: the start commands run the claim between the migrations
  and the server, never start the server when the claim fails, and the claim scripts write exactly
  what they should (run with node against a stand-in of each app's Prisma client).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import stat
import subprocess

import jinja2
import pytest
import yaml

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _bcrypt
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _monitoring

ROOT = pathlib.Path(__file__).resolve().parents[2]
VARS = ROOT / "roles" / "kompose" / "vars" / "main"
WATCH = ROOT / "roles" / "watch"
TRACK = ROOT / "roles" / "track"
NEWS = ROOT / "roles" / "news"
NODE = shutil.which("node")
# the claim scripts run under node, as in the images; the machine has it (CI too): a missing node
# fails these tests instead of skipping them
needs_node = pytest.mark.usefixtures("require_node")


@pytest.fixture
def require_node():
    assert NODE is not None, "node is not installed: the claim scripts' tests run them under node"


class _Loader(yaml.SafeLoader):
    """Ansible's vars files: `!unsafe` strings read as plain strings."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def _yaml(path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a SafeLoader


def _render(path, **context):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(path.read_text(encoding="utf-8")).render(**context)


# --- finding 7: Grafana's datasources ------------------------------------------------------------
DATASOURCES = WATCH / "templates" / "grafana" / "provisioning" / "datasources" / "kompose.yaml.j2"
WATCH_CATALOG = {
    "prometheus": {"container": "watch_prometheus", "port": 9090},
    "postgres_exporter": {"container": "watch_postgres_exporter", "port": 9187},
    "grafana": {"container": "watch_grafana", "port": 3000},
}
MONITOR = {"host": "core-postgres", "port": 5432, "owner": "kompose_monitor"}


@pytest.mark.parametrize("catalog", [WATCH_CATALOG, {"grafana": WATCH_CATALOG["grafana"]}], ids=["full", "no-prometheus"])
def test_grafana_provisions_no_sql_datasource(catalog):
    provisioning = yaml.safe_load(_render(DATASOURCES, kompose_catalog=catalog, watch_prometheus_scrape_interval="30s",
                                          __watch_monitor=MONITOR))
    datasources = provisioning["datasources"] or []
    assert [source["type"] for source in datasources] == (["prometheus"] if "prometheus" in catalog else [])
    # the PostgreSQL datasource earlier releases provisioned is deleted from Grafana's database
    assert {"name": "PostgreSQL", "orgId": 1} in provisioning["deleteDatasources"]


def test_every_dashboard_queries_prometheus_only():
    dashboards = [spec for path in sorted(VARS.glob("*.yml"))
                  for name, value in (_yaml(path) or {}).items() if name.startswith("__kompose_dashboards_")
                  for spec in value]
    assert len(dashboards) >= 5
    catalog = {name: {} for path in sorted(VARS.glob("*.yml"))
               for key, value in (_yaml(path) or {}).items() if key.startswith("__kompose_catalog_")
               for name in value}
    catalog["traefik"] = {}
    rendered = _monitoring.grafana_dashboards(catalog, dashboards)
    assert rendered
    for dashboard in rendered:
        model = json.loads(dashboard["content"])
        kinds = {panel["datasource"]["type"] for panel in model["panels"]}
        kinds |= {target["datasource"]["type"] for panel in model["panels"] for target in panel["targets"]}
        assert kinds == {"prometheus"}, "%s queries %s" % (dashboard["path"], kinds)


def test_grafana_is_told_why_it_has_one_datasource():
    compose = (WATCH / "templates" / "compose.yaml.j2").read_text(encoding="utf-8")
    # every realm user who is not an admin is a Viewer, which is why there is no SQL datasource
    assert "'Viewer'" in compose
    assert "type: postgres" not in DATASOURCES.read_text(encoding="utf-8")


# --- finding 8: cAdvisor off by default ---------------------------------------------------------
def test_cadvisor_is_off_in_the_catalog_and_unprivileged_by_default():
    entry = _yaml(VARS / "watch.yml")["__kompose_catalog_watch"]["cadvisor"]
    assert entry["enabled"] is False
    assert _yaml(WATCH / "defaults" / "main.yml")["watch_cadvisor_privileged"] is False
    spec = _yaml(WATCH / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]["watch_cadvisor_privileged"]
    assert spec["default"] is False


def test_the_lab_and_the_render_scenario_enable_cadvisor_explicitly():
    lab = _yaml(ROOT / "inventories" / "local" / "group_vars" / "kompose.yml")
    assert lab["lab_services"]["cadvisor"] == {"enabled": "{{ lab_real.cadvisor }}"}
    assert lab["watch_cadvisor_privileged"] is False
    render = _yaml(ROOT / "molecule" / "render" / "inventory" / "group_vars" / "kompose.yml")
    assert render["kompose_services"]["cadvisor"] == {"enabled": True}
    # the override inventory replaces kompose_services: it keeps the catalog's default (off)
    override = _yaml(ROOT / "molecule" / "render" / "inventory-override" / "host_vars" / "localhost.yml")
    assert "cadvisor" not in override["kompose_services"]
    # the example inventory keeps it off as well
    example = _yaml(ROOT / "inventories" / "example" / "group_vars" / "kompose.yml")
    assert example["kompose_services"]["cadvisor"]["enabled"] is False


# --- finding 12: Umami ----------------------------------------------------------------------------
UMAMI_SCRIPT = TRACK / "templates" / "umami" / "kompose-admin.js.j2"
UMAMI_COMPOSE = TRACK / "templates" / "compose.yaml.j2"
# Umami 3.1.0, prisma/migrations/01_init/migration.sql: the administrator row it inserts
UMAMI_SEEDED_ID = "41e2b680-648e-4b09-bcd7-3e2b10c06264"
UMAMI_SEEDED_HASH = "$2b$10$BUli0c.muyCW1ErNJc3jL.vFRFtFJWrT8/GcR4A.sUdCznaXiqFXa"


def _umami_command():
    match = re.search(r"(?m)^    command:\n      - sh\n      - -c\n      - (.+)$", UMAMI_COMPOSE.read_text(encoding="utf-8"))
    assert match, "the umami service's command is not sh -c <script>"
    return match.group(1)


def test_umami_script_replaces_exactly_the_default_administrator_hash():
    import bcrypt

    script = UMAMI_SCRIPT.read_text(encoding="utf-8")
    assert "SEEDED_USER_ID = '%s'" % UMAMI_SEEDED_ID in script
    assert "SEEDED_HASH = '%s'" % UMAMI_SEEDED_HASH in script
    # the constant is the hash of Umami's documented default password
    assert bcrypt.checkpw(b"umami", UMAMI_SEEDED_HASH.encode())


def test_umami_seeded_hash_is_the_migrations_when_the_upstream_archive_is_here():
    archive = pathlib.Path(os.environ.get("KOMPOSE_UPSTREAM_DIR", "/work/shared/upstream")) / "umami-3.1.0.tar.gz"
    if not archive.is_file():
        pytest.skip("no Umami source archive")
    import tarfile

    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("prisma/migrations/01_init/migration.sql"))
        sql = tar.extractfile(member).read().decode()
    assert "VALUES ('%s' , 'admin', 'admin', '%s')" % (UMAMI_SEEDED_ID, UMAMI_SEEDED_HASH) in sql


def _fake_bin(tmp_path, log):
    """pnpm, node and bun stand-ins on PATH: each logs its arguments and fails when they are in $FAKE_FAIL."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("pnpm", "node", "bun"):
        script = bindir / name
        script.write_text('#!/bin/sh\necho "%s $* SKIP_DB_CHECK=${SKIP_DB_CHECK:-}" >> "%s"\n'
                          'case "|$FAKE_FAIL|" in *"|%s $*|"*) exit 1 ;; esac\n' % (name, log, name), encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(bindir) + os.pathsep + os.environ["PATH"]


def _run_logged(argv, tmp_path, fail=()):
    log = tmp_path / "calls.log"
    log.write_text("", encoding="utf-8")
    env = dict(os.environ, PATH=_fake_bin(tmp_path, log), FAKE_FAIL="|".join(fail))
    env.pop("SKIP_DB_CHECK", None)
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    return done.returncode, [line.rsplit(" SKIP_DB_CHECK=", 1) for line in log.read_text(encoding="utf-8").splitlines()]


def test_umami_command_claims_between_the_migrations_and_the_server(tmp_path):
    code, calls = _run_logged(["sh", "-c", _umami_command()], tmp_path)
    assert code == 0
    assert calls == [["pnpm check-db", ""],
                     ["node scripts/kompose-admin.js /run/secrets/umami-admin-hash", ""],
                     ["pnpm start-docker", "1"]]


@pytest.mark.parametrize("failing", ["pnpm check-db", "node scripts/kompose-admin.js /run/secrets/umami-admin-hash"])
def test_umami_server_never_starts_when_the_claim_cannot_run(tmp_path, failing):
    code, calls = _run_logged(["sh", "-c", _umami_command()], tmp_path, fail=[failing])
    assert code != 0
    assert "pnpm start-docker" not in [call for call, dummy in calls]


def test_umami_compose_mounts_the_script_and_the_hash():
    compose = UMAMI_COMPOSE.read_text(encoding="utf-8")
    assert "- ./umami/kompose-admin.js:/app/scripts/kompose-admin.js:ro" in compose
    assert "- ./umami/admin-hash:/run/secrets/umami-admin-hash:ro" in compose


def _umami_layout(tmp_path, rows):
    """Umami's /app as the script sees it: scripts/, generated/prisma/client.js and @prisma/adapter-pg."""
    app = tmp_path / "app"
    (app / "scripts").mkdir(parents=True)
    (app / "generated" / "prisma").mkdir(parents=True)
    (app / "node_modules" / "@prisma" / "adapter-pg").mkdir(parents=True)
    (app / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    shutil.copy(UMAMI_SCRIPT, app / "scripts" / "kompose-admin.js")
    (app / "node_modules" / "@prisma" / "adapter-pg" / "package.json").write_text(
        '{"name": "@prisma/adapter-pg", "type": "module", "main": "index.js"}', encoding="utf-8")
    (app / "node_modules" / "@prisma" / "adapter-pg" / "index.js").write_text(
        "export class PrismaPg { constructor(options) { this.options = options; } }\n", encoding="utf-8")
    # a stand-in client: the "user" table as a JSON file; $executeRaw applies the script's UPDATE
    (app / "generated" / "prisma" / "client.js").write_text("""
import { readFileSync, writeFileSync } from 'node:fs';
const FILE = process.env.FAKE_TABLE;
export class PrismaClient {
  async $executeRaw(strings, ...values) {
    const sql = strings.join('?').replace(/\\s+/g, ' ').trim();
    if (sql !== 'UPDATE "user" SET password = ? WHERE user_id = ?::uuid AND password = ?') throw new Error('unexpected SQL: ' + sql);
    const [hash, id, old] = values;
    const rows = JSON.parse(readFileSync(FILE, 'utf8'));
    let n = 0;
    for (const row of rows) if (row.user_id === id && row.password === old) { row.password = hash; n += 1; }
    writeFileSync(FILE, JSON.stringify(rows));
    return n;
  }
  async $disconnect() {}
}
""", encoding="utf-8")
    table = tmp_path / "user.json"
    table.write_text(json.dumps(rows), encoding="utf-8")
    return app, table


@needs_node
@pytest.mark.parametrize("password", ["umami", "changed-in-umami"])
def test_umami_script_replaces_the_default_and_nothing_else(tmp_path, password):
    import bcrypt

    changed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode() if password != "umami" else UMAMI_SEEDED_HASH
    rows = [{"user_id": UMAMI_SEEDED_ID, "username": "admin", "password": changed},
            {"user_id": "00000000-0000-0000-0000-000000000001", "username": "other", "password": UMAMI_SEEDED_HASH}]
    app, table = _umami_layout(tmp_path, rows)
    secret_hash = _bcrypt.bcrypt_hash("generated-secret", "k" * 48, "umami-admin", rounds=10)
    (tmp_path / "admin-hash").write_text(secret_hash + "\n", encoding="utf-8")
    env = dict(os.environ, DATABASE_URL="postgresql://umami:x@core-postgres:5432/umami", FAKE_TABLE=str(table))
    done = subprocess.run([NODE, "scripts/kompose-admin.js", str(tmp_path / "admin-hash")], cwd=app, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    after = json.loads(table.read_text(encoding="utf-8"))
    assert after[0]["password"] == (secret_hash if password == "umami" else changed)
    assert after[1]["password"] == UMAMI_SEEDED_HASH  # only 01_init's row
    assert secret_hash not in done.stdout + done.stderr
    assert bcrypt.checkpw(b"generated-secret", secret_hash.encode())


@needs_node
@pytest.mark.parametrize("content", ["", "not a hash\n", UMAMI_SEEDED_HASH + "\n"])
def test_umami_script_refuses_a_missing_or_default_hash(tmp_path, content):
    app, table = _umami_layout(tmp_path, [{"user_id": UMAMI_SEEDED_ID, "password": UMAMI_SEEDED_HASH}])
    (tmp_path / "admin-hash").write_text(content, encoding="utf-8")
    env = dict(os.environ, DATABASE_URL="postgresql://u:x@h:5432/d", FAKE_TABLE=str(table))
    done = subprocess.run([NODE, "scripts/kompose-admin.js", str(tmp_path / "admin-hash")], cwd=app, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert json.loads(table.read_text(encoding="utf-8"))[0]["password"] == UMAMI_SEEDED_HASH


# --- finding 12: LetterSpace ----------------------------------------------------------------------
NEWS_ENTRYPOINT = NEWS / "templates" / "letterspace" / "entrypoint.sh.j2"
NEWS_CLAIM = NEWS / "templates" / "letterspace" / "kompose-owner.cjs.j2"
NEWS_COMPOSE = NEWS / "templates" / "compose.yaml.j2"
OWNER = "kompose-owner.cjs /run/secrets/letterspace-owner.json"


@pytest.mark.parametrize("args, runtime, server", [([], "node", "node dist/index.js"),
                                                   (["--bun"], "bun", "bun run src/index.ts")])
def test_letterspace_entrypoint_claims_between_the_migrations_and_the_server(tmp_path, args, runtime, server):
    code, calls = _run_logged(["sh", str(NEWS_ENTRYPOINT)] + args, tmp_path)
    assert code == 0
    expected = ["pnpm exec prisma migrate deploy", "pnpm exec prisma generate", "%s %s" % (runtime, OWNER), server]
    assert [call for call, dummy in calls] == expected


@pytest.mark.parametrize("failing", ["pnpm exec prisma migrate deploy", "node " + OWNER])
def test_letterspace_server_never_starts_when_the_claim_cannot_run(tmp_path, failing):
    code, calls = _run_logged(["sh", str(NEWS_ENTRYPOINT)], tmp_path, fail=[failing])
    assert code != 0
    assert "node dist/index.js" not in [call for call, dummy in calls]


def test_letterspace_compose_replaces_the_entrypoint_only_with_the_claim():
    compose = NEWS_COMPOSE.read_text(encoding="utf-8")
    block = re.search(r"\{% if news_claim_owner \| bool %\}\n(.*?)\{% endif %\}", compose, re.S)
    assert block, "the mounts must depend on news_claim_owner"
    for mount in ("./letterspace/entrypoint.sh:/app/apps/backend/entrypoint.sh:ro",
                  "./letterspace/kompose-owner.cjs:/app/apps/backend/kompose-owner.cjs:ro",
                  "./letterspace/owner.json:/run/secrets/letterspace-owner.json:ro"):
        assert "- " + mount in block.group(1)
    assert "entrypoint:" not in compose  # the image's ENTRYPOINT stays (./entrypoint.sh [--bun])


def _letterspace_layout(tmp_path, users):
    backend = tmp_path / "backend"
    (backend / "prisma" / "client").mkdir(parents=True)
    shutil.copy(NEWS_CLAIM, backend / "kompose-owner.cjs")
    (backend / "prisma" / "client" / "index.js").write_text("""
const { readFileSync, writeFileSync } = require('node:fs');
const FILE = process.env.FAKE_TABLE;
const read = () => JSON.parse(readFileSync(FILE, 'utf8'));
class PrismaClient {
  constructor() { this.user = {
    count: async () => read().length,
    create: async ({ data }) => { const rows = read(); rows.push(data); writeFileSync(FILE, JSON.stringify(rows)); return { id: 'x' }; },
  }; }
  async $disconnect() {}
}
module.exports = { PrismaClient };
""", encoding="utf-8")
    table = tmp_path / "users.json"
    table.write_text(json.dumps(users), encoding="utf-8")
    return backend, table


@needs_node
@pytest.mark.parametrize("users", [[], [{"email": "someone@example.org", "name": "x", "password": "h"}]], ids=["empty", "claimed"])
def test_letterspace_claim_creates_the_owner_only_on_an_empty_instance(tmp_path, users):
    import bcrypt

    backend, table = _letterspace_layout(tmp_path, users)
    password_hash = _bcrypt.bcrypt_hash("generated-secret", "k" * 48, "letterspace-admin", rounds=10)
    owner = {"email": "admin@kompose.test", "name": "Kompose admin", "password_hash": password_hash}
    (tmp_path / "owner.json").write_text(json.dumps(owner), encoding="utf-8")
    done = subprocess.run([NODE, "kompose-owner.cjs", str(tmp_path / "owner.json")], cwd=backend,
                          env=dict(os.environ, FAKE_TABLE=str(table)), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    after = json.loads(table.read_text(encoding="utf-8"))
    if users:
        assert after == users
    else:
        assert after == [{"email": "admin@kompose.test", "name": "Kompose admin", "password": password_hash}]
        assert bcrypt.checkpw(b"generated-secret", password_hash.encode())
    assert password_hash not in done.stdout + done.stderr


@needs_node
@pytest.mark.parametrize("owner", [{}, {"email": "a@b.c", "name": "n", "password_hash": "plain"}])
def test_letterspace_claim_refuses_an_incomplete_owner(tmp_path, owner):
    backend, table = _letterspace_layout(tmp_path, [])
    (tmp_path / "owner.json").write_text(json.dumps(owner), encoding="utf-8")
    done = subprocess.run([NODE, "kompose-owner.cjs", str(tmp_path / "owner.json")], cwd=backend,
                          env=dict(os.environ, FAKE_TABLE=str(table)), capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert json.loads(table.read_text(encoding="utf-8")) == []
