import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, migrate, openDatabase } from '@wardwatch/storage';
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '@wardwatch/testkit';
import { pruneAudit } from './audit.ts';

const schema = uniqueName('audit');
let db: Database;

before(async () => {
  db = await openDatabase({ kind: 'postgres', url: TEST_DATABASE_URL, schema, poolSize: 2 });
  await migrate(db);
});

after(async () => {
  await db?.close();
  await dropSchema(schema);
});

test('pruneAudit deletes entries older than the retention and keeps the rest', async () => {
  await db.pool.query(
    `INSERT INTO audit_log (actor_name, actor_role, action, target_type, target_id, at)
     SELECT 'tester', 'admin', 'device.update', 'device', '10.0.0.' || d, now() - make_interval(days => d) + interval '1 hour'
     FROM generate_series(1, 10) AS d`,
  );
  assert.equal(await pruneAudit(db.pool, 7), 3, 'entries 8, 9 and 10 days old');
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log');
  assert.equal(rows[0]?.n, 7);
  assert.equal(await pruneAudit(db.pool, 7), 0);
});
