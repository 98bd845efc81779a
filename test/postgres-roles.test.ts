// Least privilege on the real PostgreSQL: deploy/postgres/service-roles.sql applied (with psql, as an
// operator would) to a freshly migrated schema; each role connects and is refused what it must not read.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Database, migrate, openDatabase, REPORTING_TABLES, reportingSchema } from '@wardwatch/storage';
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '@wardwatch/testkit';
import pg from 'pg';

const ROOT = join(import.meta.dirname, '..');

describe('PostgreSQL roles (deploy/postgres/service-roles.sql)', () => {
  const schema = uniqueName('roles');
  const roles = {
    analytics_role: `${schema}_analytics`,
    policy_role: `${schema}_policy`,
    feeds_role: `${schema}_feeds`,
    grafana_role: `${schema}_grafana`,
  };
  let db: Database;
  const clients: pg.Client[] = [];

  /** A connection as `role` (the test server trusts local connections; the role gets LOGIN here). */
  async function as(role: string): Promise<pg.Client> {
    await db.pool.query(`ALTER ROLE "${role}" LOGIN`);
    const url = new URL(TEST_DATABASE_URL);
    url.username = role;
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    clients.push(c);
    return c;
  }
  const refused = async (c: pg.Client, sql: string) =>
    assert.rejects(c.query(sql), (e: { code?: string }) => e.code === '42501', sql);

  before(async () => {
    db = await openDatabase({ kind: 'postgres', url: TEST_DATABASE_URL, schema, poolSize: 2 });
    await migrate(db);
    await db.pool.query(
      "INSERT INTO devices (ip, first_seen, last_seen, class) VALUES ('10.70.0.1', now(), now(), 'infusion-pump')",
    );
    const vars = Object.entries({ schema, ...roles }).flatMap(([k, v]) => ['-v', `${k}=${v}`]);
    execFileSync(
      'psql',
      [TEST_DATABASE_URL, '-q', ...vars, '-f', join(ROOT, 'deploy/postgres/service-roles.sql')],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
  });

  after(async () => {
    for (const c of clients) await c.end().catch(() => {});
    await dropSchema(schema);
    for (const r of Object.values(roles)) {
      await db.pool.query(`DROP OWNED BY "${r}"`).catch(() => {});
      await db.pool.query(`DROP ROLE IF EXISTS "${r}"`).catch(() => {});
    }
    await db.close();
  });

  test('the Grafana role is refused on the secret tables and reads the reporting views', async () => {
    const g = await as(roles.grafana_role);
    for (const t of ['api_keys', 'webhooks', 'audit_log', 'devices'])
      await refused(g, `SELECT * FROM "${schema}".${t}`);
    // Its search_path is the reporting schema: dashboards' unqualified names resolve to the views.
    assert.equal((await g.query('SELECT ip FROM devices')).rows.length, 1);
    const views = (
      await g.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.views WHERE table_schema = $1',
        [reportingSchema(schema)],
      )
    ).rows.map((r) => r.table_name);
    assert.deepEqual(views.sort(), [...REPORTING_TABLES].sort());
    assert.ok(!views.includes('api_keys') && !views.includes('webhooks'));
    await refused(g, `INSERT INTO devices (ip, first_seen, last_seen) VALUES ('10.70.0.2', now(), now())`);
  });

  test('analytics writes the inventory but cannot read keys, webhooks or the audit log', async () => {
    const a = await as(roles.analytics_role);
    await a.query(`SET search_path TO "${schema}"`);
    await a.query("INSERT INTO devices (ip, first_seen, last_seen) VALUES ('10.70.0.3', now(), now())");
    await a.query(
      "INSERT INTO alerts (device_ip, kind, severity, title, first_seen, last_seen) VALUES ('10.70.0.3', 'port-scan', 'high', 't', now(), now())",
    );
    for (const t of ['api_keys', 'webhooks', 'audit_log']) await refused(a, `SELECT * FROM ${t}`);
    // Its rows raised their outbox events through the triggers.
    assert.ok((await db.pool.query("SELECT 1 FROM events WHERE type = 'alert.opened'")).rows.length >= 1);
  });

  test('the feeds role reads the quarantines and nothing else; policy reads keys but not the offsets it does not own', async () => {
    const f = await as(roles.feeds_role);
    await f.query(`SELECT * FROM "${schema}".quarantines`);
    for (const t of ['devices', 'api_keys', 'alerts']) await refused(f, `SELECT * FROM "${schema}".${t}`);
    const p = await as(roles.policy_role);
    await p.query(`SELECT id FROM "${schema}".api_keys`);
    await refused(p, `DELETE FROM "${schema}".analytics_offsets`);
  });
});
