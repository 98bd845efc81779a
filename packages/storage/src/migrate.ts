import { readdirSync } from 'node:fs';
import { runner } from 'node-pg-migrate';
import type pg from 'pg';
import { type Database, MIGRATIONS_DIR } from './database.ts';

/**
 * Brings the schema up to date with node-pg-migrate (SQL migrations in packages/storage/migrations),
 * creating the schema if needed. Safe to run from several processes at once: the tool takes an
 * advisory lock. Returns the names of the migrations applied now.
 */
export async function migrate(db: Database, log: (msg: string) => void = () => {}): Promise<string[]> {
  const client = await db.pool.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${db.schema}"`);
    // The views depend on the tables' columns: out of the migrations' way, then made again (by the
    // schema's owner; a service connected with a narrower role leaves them alone).
    const owner = (
      await client.query<{ owner: boolean }>(
        'SELECT pg_get_userbyid(nspowner) = current_user AS owner FROM pg_namespace WHERE nspname = $1',
        [db.schema],
      )
    ).rows[0]?.owner;
    if (owner) await dropReportingViews(client, db.schema);
    const applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      migrationsTable: 'pgmigrations',
      schema: db.schema,
      direction: 'up',
      checkOrder: true,
      advisoryLockMode: 'wait',
      log,
      logger: { debug: () => {}, info: log, warn: log, error: log },
    });
    if (owner) await createReportingViews(client, db.schema);
    return applied.map((m) => m.name);
  } finally {
    client.release();
  }
}

/** The schema lacks migrations this version needs, and this process may not run them (`database.migrate: false`). */
export class SchemaNotMigratedError extends Error {
  readonly code = 'SCHEMA_NOT_MIGRATED';
  readonly retriable = true;
  constructor(
    readonly schema: string,
    readonly pending: readonly string[],
  ) {
    super(
      `schema ${schema} lacks ${pending.length} migration(s) (${pending.join(', ')}): run \`wardwatch migrate\` as the schema's owner first`,
    );
    this.name = 'SchemaNotMigratedError';
  }
}

/**
 * The migrations (node-pg-migrate names: the file name without `.sql`) not yet applied to the schema;
 * every one when the schema has no migrations table. Needs only SELECT on `pgmigrations`.
 */
export async function pendingMigrations(db: Database): Promise<string[]> {
  const all = readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.slice(0, -'.sql'.length))
    .sort();
  const table = await db.pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
    `"${db.schema}".pgmigrations`,
  ]);
  if (!table.rows[0]?.t) return all;
  const done = new Set(
    (await db.pool.query<{ name: string }>(`SELECT name FROM "${db.schema}".pgmigrations`)).rows.map(
      (r) => r.name,
    ),
  );
  return all.filter((m) => !done.has(m));
}

/**
 * What a service does with the schema at start: migrate it (`run`, the owner's connection), or only
 * check that nothing is pending (a service role without DDL rights), throwing SchemaNotMigratedError.
 * Returns the migrations applied now.
 */
export async function prepareSchema(
  db: Database,
  run: boolean,
  log: (msg: string) => void = () => {},
): Promise<string[]> {
  if (run) return migrate(db, log);
  const pending = await pendingMigrations(db);
  if (pending.length > 0) throw new SchemaNotMigratedError(db.schema, pending);
  return [];
}

/**
 * Tables a reporting reader (Grafana) may see, each as a view of the same name in `<schema>_reporting`.
 * Left out on purpose: api_keys (key hashes), webhooks (sealed secrets, receiver URLs),
 * webhook_deliveries/attempts, audit_log (who did what, request details), events (the outbox) and the
 * services' bookkeeping (outbox_cursors, analytics_offsets, pgmigrations).
 */
export const REPORTING_TABLES = [
  'devices',
  'device_addresses',
  'device_profiles',
  'device_baselines',
  'device_rollups_minute',
  'alerts',
  'alert_comments',
  'alert_rollups_minute',
  'exporters',
  'policies',
  'policy_assignments',
  'server_groups',
  'quarantines',
] as const;

/** The schema of the reporting views of `schema`. */
export function reportingSchema(schema: string): string {
  return `${schema}_reporting`;
}

/**
 * (Re)creates the reporting views after migrations, so they follow the tables' columns. A role granted
 * only this schema (deploy/postgres: `grafana`) reads the inventory and alerts and nothing secret: a
 * view runs with its owner's rights, the reader needs none on the tables.
 */
async function createReportingViews(client: pg.PoolClient, schema: string): Promise<void> {
  const rs = reportingSchema(schema);
  if (rs.length > 63) return; // a schema name at PostgreSQL's limit leaves no room: no views.
  await client.query('BEGIN');
  try {
    // Several processes migrate at once: one at a time here too.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [rs]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${rs}"`);
    for (const t of REPORTING_TABLES) {
      await client.query(`DROP VIEW IF EXISTS "${rs}"."${t}"`);
      await client.query(`CREATE VIEW "${rs}"."${t}" AS SELECT * FROM "${schema}"."${t}"`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

async function dropReportingViews(client: pg.PoolClient, schema: string): Promise<void> {
  const rs = reportingSchema(schema);
  if (rs.length > 63) return;
  for (const t of REPORTING_TABLES) await client.query(`DROP VIEW IF EXISTS "${rs}"."${t}"`);
}
