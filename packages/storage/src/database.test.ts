import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openDatabase } from './database.ts';
import { migrate } from './migrate.ts';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

test('migrations run on real PostgreSQL into a schema of their own, and twice is a no-op', async () => {
  const schema = `t_storage_${process.pid}_${Date.now()}`;
  const db = await openDatabase({ kind: 'postgres', url, schema, poolSize: 2 });
  after(async () => {
    await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}_reporting" CASCADE`);
    await db.close();
  });
  const first = await migrate(db);
  assert.ok(first.length >= 1);
  assert.deepEqual(await migrate(db), []);
  const { rows } = await db.pool.query(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
    [schema],
  );
  assert.ok(rows.some((r) => r.table_name === 'devices'));
});

test('the same migrations run on embedded PGlite and its data persists across a reopen', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ww-pglite-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const db = await openDatabase({ kind: 'pglite', dataDir, schema: 'wardwatch' });
  assert.ok((await migrate(db)).length >= 1);
  await db.pool.query(
    "INSERT INTO devices (ip, first_seen, last_seen, bytes_sent) VALUES ('10.0.0.7', now(), now(), 42)",
  );
  await db.close();
  const again = await openDatabase({ kind: 'pglite', dataDir, schema: 'wardwatch' });
  assert.deepEqual(await migrate(again), []);
  const { rows } = await again.pool.query('SELECT host(ip) AS ip, bytes_sent FROM devices');
  assert.deepEqual(rows, [{ ip: '10.0.0.7', bytes_sent: 42 }]);
  await again.close();
});
