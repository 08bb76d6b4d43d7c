// /app/scripts/lab-migrate.js - what `prisma migrate deploy` does for Umami, without Prisma's
// schema engine (a binary from a CDN this machine cannot reach). The image's scripts/check-db.js
// runs it where upstream's runs `prisma migrate deploy` (after the environment, connection and
// version checks; skipped like it with SKIP_DB_MIGRATION or SKIP_DB_CHECK).
//
// Same bookkeeping as Prisma, so that the upstream image later finds these migrations applied:
// - the table _prisma_migrations with Prisma's columns (id, checksum, finished_at, migration_name,
//   logs, rolled_back_at, started_at, applied_steps_count), created when absent;
// - Prisma's advisory lock (72707369) around everything, so two starts at once do not both
//   migrate; given up after 10 s, as Prisma (P1002);
// - P3005: no table _prisma_migrations but tables in the schema: refused (nothing to baseline);
// - P3009: a failed migration recorded (finished_at and rolled_back_at empty): refused, as Prisma
//   (after fixing the database: UPDATE _prisma_migrations SET rolled_back_at = now() WHERE ...,
//   what `prisma migrate resolve --rolled-back <name>` does);
// - every directory of prisma/migrations, in name order, whose migration.sql has no finished,
//   not rolled-back row is applied: a row (random UUID, checksum = sha256 hex of migration.sql's
//   bytes, started_at) is inserted, the script runs, then finished_at and applied_steps_count = 1
//   are set; all in one transaction per migration (Prisma sends the script as one simple query,
//   which PostgreSQL also runs as one transaction). A failure rolls that transaction back and
//   records the migration as failed (finished_at empty, the error in logs), as Prisma does;
// - an applied migration whose migration.sql changed since is reported, not applied again.
// The schema is the URL's `schema` parameter (default public), as Prisma reads it; it is created
// when it does not exist.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const LOCK_ID = 72707369; // Prisma's migration advisory lock (sql-migration-connector)
const MIGRATIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../prisma/migrations');

const ident = name => `"${name.replaceAll('"', '""')}"`;

function local() {
  return fs
    .readdirSync(MIGRATIONS, { withFileTypes: true })
    .filter(d => d.isDirectory() && fs.existsSync(path.join(MIGRATIONS, d.name, 'migration.sql')))
    .map(d => d.name)
    .sort()
    .map(name => {
      const bytes = fs.readFileSync(path.join(MIGRATIONS, name, 'migration.sql'));
      return { name, script: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') };
    });
}

async function main() {
  if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL is not defined.');
  const schema = new URL(process.env.DATABASE_URL).searchParams.get('schema') || 'public';
  const table = `${ident(schema)}."_prisma_migrations"`;
  const migrations = local();
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    const { rows: ns } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (ns.length === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    await client.query(`SET search_path TO ${ident(schema)}`);
    // Prisma waits 10 s for the lock, then fails (P1002)
    for (let waited = 0; ; waited += 250) {
      const { rows: got } = await client.query('SELECT pg_try_advisory_lock($1) AS ok', [LOCK_ID]);
      if (got[0].ok) break;
      if (waited >= 10000) throw new Error(`P1002: timed out after 10 s waiting for the migration lock (pg_advisory_lock(${LOCK_ID}))`);
      await new Promise(resolve => setTimeout(resolve, 250));
    }
    console.log(`${migrations.length} migrations found in prisma/migrations (schema "${schema}")`);

    const { rows: reg } = await client.query('SELECT to_regclass($1) AS t', [table]);
    if (!reg[0].t) {
      // tables, views and foreign tables of the schema that no extension owns
      const { rows: used } = await client.query(
        `SELECT count(*)::int AS n FROM pg_class c
          WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                            AND d.objid = c.oid AND d.deptype = 'e')`,
        [ident(schema)],
      );
      if (used[0].n > 0) {
        throw new Error(
          `P3005: the database schema "${schema}" is not empty (${used[0].n} tables) and has no _prisma_migrations table: nothing applied.`,
        );
      }
      // Prisma's own definition (sql-migration-connector, PostgreSQL)
      await client.query(`CREATE TABLE ${table} (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`);
    }

    const { rows } = await client.query(
      `SELECT migration_name, checksum, finished_at, rolled_back_at FROM ${table} ORDER BY started_at`,
    );
    const failed = rows.filter(r => r.finished_at === null && r.rolled_back_at === null);
    if (failed.length > 0) {
      throw new Error(
        `P3009: failed migrations in the target database, new migrations will not be applied: ${failed
          .map(r => r.migration_name)
          .join(', ')}. Fix the database, then mark them rolled back (rolled_back_at).`,
      );
    }
    const applied = new Map(
      rows.filter(r => r.finished_at !== null && r.rolled_back_at === null).map(r => [r.migration_name, r.checksum]),
    );
    for (const m of migrations) {
      if (applied.has(m.name) && applied.get(m.name) !== m.checksum) {
        console.log(`WARNING: migration ${m.name} was modified after it was applied (checksum differs): not applied again`);
      }
    }
    const known = new Set(migrations.map(m => m.name));
    for (const name of applied.keys()) {
      if (!known.has(name)) console.log(`WARNING: migration ${name} is applied but not in prisma/migrations`);
    }

    const pending = migrations.filter(m => !applied.has(m.name));
    if (pending.length === 0) {
      console.log('No pending migrations to apply.');
      return;
    }
    for (const m of pending) {
      console.log(`Applying migration \`${m.name}\``);
      const id = randomUUID();
      try {
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO ${table} (id, checksum, started_at, migration_name, applied_steps_count)
           VALUES ($1, $2, clock_timestamp(), $3, 0)`,
          [id, m.checksum, m.name],
        );
        await client.query(m.script);
        await client.query(
          `UPDATE ${table} SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
          [id],
        );
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        const where = e.position ? ` (at character ${e.position} of migration.sql)` : '';
        const logs = `Migration ${m.name} failed${where}: ${e.code ? `${e.code} ` : ''}${e.message}`;
        await client.query(
          `INSERT INTO ${table} (id, checksum, started_at, migration_name, logs, applied_steps_count)
           VALUES ($1, $2, clock_timestamp(), $3, $4, 0)`,
          [id, m.checksum, m.name, logs],
        );
        throw new Error(logs);
      }
    }
    console.log(
      `The following migration(s) have been applied:\n${pending.map(m => `  ${m.name}`).join('\n')}\nAll migrations have been successfully applied.`,
    );
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_ID]).catch(() => {});
    await client.end();
  }
}

main().catch(e => {
  console.error(`lab-migrate: ${e.message}`);
  process.exit(1);
});
