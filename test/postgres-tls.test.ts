// The TLS handshake between a service and a real PostgreSQL: a throwaway PostgreSQL 15 cluster (initdb and
// pg_ctl as the `postgres` user, on a free loopback port, with password authentication) serving a
// certificate this test makes. A connection with sslmode=verify-ca and the CA is encrypted (pg_stat_ssl of
// its own backend), verify-full checks the name, a certificate from another CA is refused with an error
// that names neither the URL nor the password, and sslmode=require never falls back to cleartext: every
// pooled connection is encrypted, and a server without TLS is refused, not used in the clear.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Database, openDatabase } from '@wardwatch/storage';
import { makeTestCertificates, type TestCertificates } from './support/certs.ts';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const PASSWORD = `tls-test-${process.pid}-${Date.now().toString(36)}`;

/** Why this machine cannot run a throwaway cluster, or undefined when it can. */
function cannotRun(): string | undefined {
  if (!existsSync(join(PG_BIN, 'initdb'))) return `no PostgreSQL 15 server binaries in ${PG_BIN}`;
  if (userInfo().uid !== 0) return 'initdb must run as the postgres user: this test needs root (runuser)';
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' });
  } catch {
    return 'no postgres user';
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const skip = cannotRun();

describe('PostgreSQL over TLS (a throwaway cluster with a test certificate)', { skip }, () => {
  let dir = '';
  let data = '';
  let certs: TestCertificates;
  let otherCa: TestCertificates;
  let port = 0;
  const asPostgres = (cmd: string, args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
  const pgCtl = (action: 'start' | 'restart', ssl: boolean) =>
    asPostgres('pg_ctl', [
      action,
      '-w',
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-o',
      [
        `-c port=${port}`,
        '-c listen_addresses=127.0.0.1',
        `-c unix_socket_directories=${dir}`,
        `-c ssl=${ssl ? 'on' : 'off'}`,
        `-c ssl_cert_file=${join(dir, 'server.pem')}`,
        `-c ssl_key_file=${join(dir, 'server.key')}`,
      ].join(' '),
    ]);
  const url = (params: string, host = '127.0.0.1') =>
    `postgres://postgres:${PASSWORD}@${host}:${port}/postgres?${params}`;
  const open = (u: string, poolSize = 1): Promise<Database> =>
    openDatabase({ kind: 'postgres', url: u, schema: 'public', poolSize });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ww-pg-tls-'));
    data = join(dir, 'data');
    certs = makeTestCertificates('localhost');
    otherCa = makeTestCertificates('localhost');
    port = await freePort();
    chmodSync(dir, 0o755);
    copyFileSync(certs.certFile, join(dir, 'server.pem'));
    copyFileSync(certs.keyFile, join(dir, 'server.key'));
    writeFileSync(join(dir, 'pwfile'), `${PASSWORD}\n`);
    const pg = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const pgGroup = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    for (const f of ['', 'server.pem', 'server.key', 'pwfile']) chownSync(join(dir, f), pg, pgGroup);
    chmodSync(join(dir, 'server.key'), 0o600);
    // Passwords over TCP (so a leaked URL would matter), trust on the test's own socket only.
    asPostgres('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '--pwfile',
      join(dir, 'pwfile'),
      '--auth-host=scram-sha-256',
      '--auth-local=trust',
      '--no-sync',
    ]);
    pgCtl('start', true);
  });

  after(() => {
    try {
      asPostgres('pg_ctl', ['stop', '-m', 'immediate', '-D', data]);
    } catch {
      // not started
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const c of [certs, otherCa]) if (c) rmSync(c.dir, { recursive: true, force: true });
  });

  test('verify-ca with the server CA: the backend serving the connection is encrypted', async () => {
    const db = await open(url(`sslmode=verify-ca&sslrootcert=${certs.caFile}`));
    try {
      const { rows } = await db.pool.query<{ ssl: boolean; version: string }>(
        'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      assert.equal(rows[0]?.ssl, true);
      assert.match(rows[0]!.version, /^TLSv1\.[23]$/);
    } finally {
      await db.close();
    }
  });

  test('verify-full checks the name too: the certificate is for localhost and 127.0.0.1', async () => {
    for (const host of ['localhost', '127.0.0.1']) {
      const db = await open(url(`sslmode=verify-full&sslrootcert=${certs.caFile}`, host));
      try {
        assert.equal((await db.pool.query('SELECT 1')).rowCount, 1, host);
      } finally {
        await db.close();
      }
    }
  });

  test('a certificate from another CA is refused, with an error that names no URL or password', async () => {
    for (const mode of ['verify-ca', 'verify-full', 'require']) {
      // libpq's require checks the chain when sslrootcert names a CA: so does the service.
      const db = await open(url(`sslmode=${mode}&sslrootcert=${otherCa.caFile}`));
      try {
        await assert.rejects(db.pool.query('SELECT 1'), (e: Error) => {
          assert.match(e.message, /certificate/i, mode);
          assert.ok(!e.message.includes(PASSWORD), `${mode}: no password in "${e.message}"`);
          assert.ok(!e.message.includes('postgres://'), `${mode}: no URL in "${e.message}"`);
          return true;
        });
      } finally {
        await db.close();
      }
    }
  });

  test('sslmode=require: every pooled connection is encrypted; a server without TLS is refused, never used in the clear', async () => {
    const db = await open(url('sslmode=require'), 4);
    try {
      const clients = await Promise.all([1, 2, 3, 4].map(() => db.pool.connect()));
      try {
        for (const c of clients) {
          const { rows } = await c.query<{ ssl: boolean }>(
            'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
          );
          assert.equal(rows[0]?.ssl, true);
        }
      } finally {
        for (const c of clients) c.release();
      }
    } finally {
      await db.close();
    }
    // The same server with TLS off: require fails; only an explicit disable connects (in the clear).
    pgCtl('restart', false);
    try {
      for (const mode of ['require', `verify-ca&sslrootcert=${certs.caFile}`]) {
        const plain = await open(url(`sslmode=${mode}`));
        try {
          await assert.rejects(plain.pool.query('SELECT 1'), /does not support SSL/, mode);
        } finally {
          await plain.close();
        }
      }
      const clear = await open(url('sslmode=disable'));
      try {
        const { rows } = await clear.pool.query<{ ssl: boolean }>(
          'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
        );
        assert.equal(rows[0]?.ssl, false, 'disable is the only way to cleartext');
      } finally {
        await clear.close();
      }
    } finally {
      pgCtl('restart', true);
    }
  });
});
