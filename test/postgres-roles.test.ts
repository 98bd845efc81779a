// Least privilege on the real PostgreSQL: deploy/postgres/service-roles.sql applied (with psql, as an
// operator would) to a freshly migrated schema; each role connects and is refused what it must not read,
// and the analytics and policy services start on their own LOGIN roles (database.migrate false), as
// docker-compose.yml and deploy/k8s run them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startWardwatch } from '@wardwatch/cli';
import { loadConfig } from '@wardwatch/config';
import {
  type Database,
  migrate,
  openDatabase,
  REPORTING_TABLES,
  reportingSchema,
  SchemaNotMigratedError,
} from '@wardwatch/storage';
import { createLogger } from '@wardwatch/telemetry';
import { dropSchema, isolatedStack, TEST_DATABASE_URL, uniqueName } from '@wardwatch/testkit';
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
  /** service-roles.sql run by psql as an operator would. */
  const grant = () => {
    const vars = Object.entries({ schema, ...roles }).flatMap(([k, v]) => ['-v', `${k}=${v}`]);
    execFileSync(
      'psql',
      [TEST_DATABASE_URL, '-q', ...vars, '-f', join(ROOT, 'deploy/postgres/service-roles.sql')],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  };
  before(async () => {
    db = await openDatabase({ kind: 'postgres', url: TEST_DATABASE_URL, schema, poolSize: 2 });
    await migrate(db);
    await db.pool.query(
      "INSERT INTO devices (ip, first_seen, last_seen, class) VALUES ('10.70.0.1', now(), now(), 'infusion-pump')",
    );
    grant();
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

describe('services on their own PostgreSQL roles (database.migrate false)', () => {
  const schema = uniqueName('svcroles');
  const roles = {
    analytics_role: `${schema}_analytics`,
    policy_role: `${schema}_policy`,
    feeds_role: `${schema}_feeds`,
    grafana_role: `${schema}_grafana`,
  };
  const passwords = {
    WARDWATCH_ANALYTICS_DB_PASSWORD: `${schema}-analytics-pw`,
    WARDWATCH_POLICY_DB_PASSWORD: `${schema}-policy-pw`,
  };
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  const logger = createLogger({ level: 'silent' });
  const grant = (env: Record<string, string>) => {
    const vars = Object.entries({ schema, ...roles }).flatMap(([k, v]) => ['-v', `${k}=${v}`]);
    return execFileSync(
      'psql',
      [TEST_DATABASE_URL, '-q', ...vars, '-f', join(ROOT, 'deploy/postgres/service-roles.sql')],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, encoding: 'utf8' },
    );
  };
  const urlAs = (role: string, password: string) => {
    const url = new URL(TEST_DATABASE_URL);
    url.username = role;
    url.password = password;
    return url.toString();
  };
  const configAs = (role: string, password: string, overrides: Record<string, unknown> = {}) =>
    loadConfig({
      env: {},
      overrides: {
        ...isolatedStack(schema, `${schema}-admin-key-0123456789`),
        mode: 'cluster',
        'database.url': urlAs(role, password),
        'database.migrate': false,
        ...overrides,
      },
    });

  before(async () => {
    await admin.connect();
    // The schema owner (the test server's superuser here) migrates with the command the deployments run.
    const migrateCli = () =>
      JSON.parse(
        execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/src/main.ts'), 'migrate'], {
          cwd: ROOT,
          encoding: 'utf8',
          env: {
            PATH: process.env.PATH,
            WARDWATCH_MODE: 'cluster',
            DATABASE_URL: TEST_DATABASE_URL,
            WARDWATCH_DB_SCHEMA: schema,
            WARDWATCH_LOG_LEVEL: 'warn',
          },
        }),
      ) as { schema: string; applied: string[] };
    const first = migrateCli();
    assert.equal(first.schema, schema);
    assert.ok(first.applied.length > 10, 'every migration applied');
    assert.deepEqual(migrateCli().applied, [], 'a second run has nothing to do');
    grant(passwords);
  });

  after(async () => {
    await dropSchema(schema);
    for (const r of Object.values(roles)) {
      await admin.query(`DROP OWNED BY "${r}"`).catch(() => {});
      await admin.query(`DROP ROLE IF EXISTS "${r}"`).catch(() => {});
    }
    await admin.end();
  });

  test("service-roles.sql gives LOGIN and the password from psql's environment, and refuses a short one", async () => {
    const { rows } = await admin.query<{ rolname: string; rolcanlogin: boolean; pw: boolean }>(
      'SELECT rolname, rolcanlogin, rolpassword IS NOT NULL AS pw FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname',
      [[roles.analytics_role, roles.policy_role, roles.feeds_role]],
    );
    assert.deepEqual(
      rows.map((r) => [r.rolname, r.rolcanlogin, r.pw]),
      [
        [roles.analytics_role, true, true],
        [roles.feeds_role, false, false],
        [roles.policy_role, true, true],
      ],
    );
    assert.throws(
      () => grant({ WARDWATCH_FEEDS_DB_PASSWORD: 'short-password' }),
      (e: { stderr?: string }) =>
        /16 characters or more, not a placeholder/.test(e.stderr ?? '') &&
        !(e.stderr ?? '').includes('short-password'),
    );
  });

  test('analytics starts on its own role against the migrated schema and writes as that role', async () => {
    const ww = await startWardwatch(
      configAs(roles.analytics_role, passwords.WARDWATCH_ANALYTICS_DB_PASSWORD),
      logger,
      ['analytics'],
    );
    try {
      assert.ok(ww.analytics, 'analytics running');
      const who = await ww.db!.pool.query<{ u: string }>('SELECT current_user AS u');
      assert.equal(who.rows[0]!.u, roles.analytics_role);
      await ww.db!.pool.query(
        "INSERT INTO devices (ip, first_seen, last_seen) VALUES ('10.71.0.1', now(), now())",
      );
    } finally {
      await ww.stop();
    }
  });

  test('policy starts on its own role and serves the inventory through the API', async () => {
    const key = `${schema}-admin-key-0123456789`;
    const ww = await startWardwatch(
      configAs(roles.policy_role, passwords.WARDWATCH_POLICY_DB_PASSWORD),
      logger,
      ['policy'],
    );
    try {
      const who = await ww.db!.pool.query<{ u: string }>('SELECT current_user AS u');
      assert.equal(who.rows[0]!.u, roles.policy_role);
      const res = await fetch(`${ww.policy!.url()}/v1/devices`, {
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(res.status, 200);
      assert.equal((await fetch(`${ww.policy!.url()}/readyz`)).status, 200);
    } finally {
      await ww.stop();
    }
  });

  test('a service role that would migrate (the default) is refused by PostgreSQL: it needs migrate false', async () => {
    await assert.rejects(
      startWardwatch(
        configAs(roles.analytics_role, passwords.WARDWATCH_ANALYTICS_DB_PASSWORD, {
          'database.migrate': true,
        }),
        logger,
        ['analytics'],
      ),
      (e: { code?: string }) => e.code === '42501',
    );
  });

  test('with migrate false, a schema behind this version stops the service and names the pending migrations', async () => {
    const last = (
      await admin.query<{ name: string }>(
        `SELECT name FROM "${schema}".pgmigrations ORDER BY run_on DESC, id DESC LIMIT 1`,
      )
    ).rows[0]!.name;
    await admin.query(`DELETE FROM "${schema}".pgmigrations WHERE name = $1`, [last]);
    try {
      await assert.rejects(
        startWardwatch(configAs(roles.policy_role, passwords.WARDWATCH_POLICY_DB_PASSWORD), logger, [
          'policy',
        ]),
        (e: unknown) =>
          e instanceof SchemaNotMigratedError &&
          e.code === 'SCHEMA_NOT_MIGRATED' &&
          e.pending.join() === last &&
          e.message.includes('wardwatch migrate') &&
          !e.message.includes(passwords.WARDWATCH_POLICY_DB_PASSWORD),
      );
    } finally {
      await admin.query(`INSERT INTO "${schema}".pgmigrations (name, run_on) VALUES ($1, now())`, [last]);
    }
  });
});
