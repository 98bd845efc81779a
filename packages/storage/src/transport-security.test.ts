// How services reach the database safely: the PostgreSQL URL's sslmode is honoured with libpq's meaning
// (checked against the real server, which has TLS off here: a mode that requires TLS must fail, not
// silently connect in cleartext), and embedded PGlite listens only on a Unix socket in a 0700 directory.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectionFor, openDatabase } from './database.ts';

const TEST_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const withParams = (params: string) =>
  `${TEST_DATABASE_URL}${TEST_DATABASE_URL.includes('?') ? '&' : '?'}${params}`;

test('sslmode keeps libpq meanings: require encrypts without checking, verify-* check, disable is clear', () => {
  assert.equal(connectionFor(withParams('sslmode=disable')).ssl, false);
  assert.deepEqual(connectionFor(withParams('sslmode=require')).ssl, { rejectUnauthorized: false });
  const full = connectionFor(withParams('sslmode=verify-full')).ssl as { rejectUnauthorized: boolean };
  assert.equal(full.rejectUnauthorized, true);
  const ca = connectionFor(withParams('sslmode=verify-ca')).ssl as { checkServerIdentity?: unknown };
  assert.equal(typeof ca.checkServerIdentity, 'function');
  // The TLS parameters are taken out of the URL, so the driver does not apply its own reading of them.
  assert.ok(!connectionFor(withParams('sslmode=require')).connectionString!.includes('sslmode'));
  assert.throws(() => connectionFor(withParams('sslmode=bogus')), /sslmode=bogus/);
  assert.throws(
    () => connectionFor(withParams('sslmode=verify-full&sslrootcert=/nonexistent/ca.pem')),
    (e: Error) =>
      /sslrootcert=\/nonexistent\/ca\.pem: ENOENT/.test(e.message) && !e.message.includes('postgres://'),
  );
});

test('a mode that requires TLS refuses a server without it (no silent cleartext); disable connects', async () => {
  for (const mode of ['require', 'verify-full']) {
    const db = await openDatabase({
      kind: 'postgres',
      url: withParams(`sslmode=${mode}`),
      schema: 'public',
      poolSize: 1,
    });
    await assert.rejects(db.pool.query('SELECT 1'), /does not support SSL/);
    await db.close();
  }
  const db = await openDatabase({
    kind: 'postgres',
    url: withParams('sslmode=disable'),
    schema: 'public',
    poolSize: 1,
  });
  assert.equal((await db.pool.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n, 1);
  await db.close();
});

test('embedded PGlite listens on a Unix socket in a 0700 directory, not on a TCP port', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ww-pglite-sock-'));
  const db = await openDatabase({ kind: 'pglite', dataDir, schema: 'public' });
  try {
    const host = (db.pool as unknown as { options: { host: string } }).options.host;
    assert.ok(host.startsWith('/'), `a socket directory, not ${host}`);
    assert.equal(statSync(host).mode & 0o777, 0o700);
    assert.ok(statSync(join(host, '.s.PGSQL.5432')).isSocket());
    assert.equal((await db.pool.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n, 1);
    await db.close();
    assert.equal(existsSync(host), false, 'the socket directory goes with the database');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
