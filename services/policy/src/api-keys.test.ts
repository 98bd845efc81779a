import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, migrate, openDatabase } from '@wardwatch/storage';
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '@wardwatch/testkit';
import { createApiKey, createKeyVerifier } from './api-keys.ts';

let db: Database;
const schema = uniqueName('apikeys');
before(async () => {
  db = await openDatabase({ kind: 'postgres', url: TEST_DATABASE_URL, schema, poolSize: 2 });
  await migrate(db);
});
after(async () => {
  await db?.close();
  await dropSchema(schema);
});

test('a revocation while a verification is in flight is not undone by the cache', async () => {
  const { id, key } = await createApiKey(db.pool, { name: 'racing', role: 'admin' });
  // The verification's lookup answers (key live), then the revocation commits and clears the cache,
  // and only then does the verification store its (now stale) verdict.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let delay = true;
  const pool = Object.create(db.pool) as typeof db.pool;
  pool.query = (async (...args: Parameters<typeof db.pool.query>) => {
    const res = await (db.pool.query as (...a: unknown[]) => Promise<unknown>)(...args);
    if (delay && String(args[0]).includes('FROM api_keys')) {
      delay = false;
      await gate;
    }
    return res;
  }) as typeof db.pool.query;
  const verifier = createKeyVerifier(pool, 60_000);
  const inflight = verifier.verify(key);
  await new Promise((r) => setTimeout(r, 50));
  await db.pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [id]);
  verifier.clear();
  release();
  await inflight; // answered before the revocation: may still say yes
  assert.equal(await verifier.verify(key), undefined, 'after clear() the revoked key is refused');
});
