import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';

/** How to reach the database: a PostgreSQL server, or an embedded PGlite under a data directory. */
export type DatabaseOptions =
  | { kind: 'postgres'; url: string; schema: string; poolSize: number }
  | { kind: 'pglite'; dataDir: string; schema: string };

/** An open database: a `pg` pool whose connections see `schema` first on their search path. */
export interface Database {
  readonly kind: 'postgres' | 'pglite';
  readonly schema: string;
  readonly pool: pg.Pool;
  /** Answers whether the database answers now (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

// bigint (int8) as a JS number: counters stay far below 2^53 and the API serves numbers.
pg.types.setTypeParser(20, (v) => Number(v));

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** True when the database answers a trivial query now. */
async function answers(pool: pg.Pool): Promise<boolean> {
  try {
    await pool.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}

function createPool(config: pg.PoolConfig, schema: string): pg.Pool {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
  const pool = new pg.Pool({
    ...config,
    // Awaited before the pool hands the client out, so no query can run on the wrong search path.
    // The schema name is validated above; identifiers cannot be bound as parameters.
    onConnect: async (client) => {
      await client.query(`SET search_path TO "${schema}", public`);
    },
  });
  pool.on('error', () => {
    // An idle client died (server restart); the pool replaces it on next use.
  });
  return pool;
}

/** The port number in the PGlite socket's name (`.s.PGSQL.<port>`, as libpq and `pg` name Unix sockets). */
const PGLITE_SOCKET_PORT = 5432;

/**
 * A new 0700 directory for the PGlite socket: under the data dir, or under the system's temporary
 * directory when that path would be too long for a Unix socket (108 bytes on Linux).
 */
function privateSocketDir(dataDir: string): string {
  const base = resolve(dataDir);
  const dir =
    Buffer.byteLength(join(base, 'run-XXXXXX', `.s.PGSQL.${PGLITE_SOCKET_PORT}`)) < 100
      ? mkdtempSync(join(base, 'run-'))
      : mkdtempSync(join(tmpdir(), 'wardwatch-pglite-'));
  chmodSync(dir, 0o700);
  return dir;
}

async function openPglite(dataDir: string, schema: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const dir = resolve(dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const db = await PGlite.create(dir);
  // The socket server speaks the PostgreSQL wire protocol, so the same `pg` code runs on both.
  // PGlite is single-connection: one socket, one pooled client, so transactions never interleave.
  // PGlite has no authentication: it listens on a Unix socket in a directory only this user may enter
  // (0700), never on a TCP port another local user could reach.
  const socketDir = privateSocketDir(dataDir);
  const server = new PGLiteSocketServer({ db, path: join(socketDir, `.s.PGSQL.${PGLITE_SOCKET_PORT}`) });
  await server.start();
  const pool = createPool(
    { host: socketDir, port: PGLITE_SOCKET_PORT, user: 'postgres', database: 'postgres', max: 1 },
    schema,
  );
  return {
    kind: 'pglite',
    schema,
    pool,
    ping: () => answers(pool),
    close: async () => {
      await pool.end();
      await server.stop();
      await db.close();
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}

/** Opens the database named by the options; embedded mode keeps PGlite's files under `dataDir/pglite`. */
export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  if (opts.kind === 'pglite') {
    mkdirSync(opts.dataDir, { recursive: true });
    return openPglite(opts.dataDir, opts.schema);
  }
  const pool = createPool({ ...connectionFor(opts.url), max: opts.poolSize }, opts.schema);
  return {
    kind: 'postgres',
    schema: opts.schema,
    pool,
    ping: () => answers(pool),
    close: () => pool.end(),
  };
}

/** Runs `fn` inside one transaction on one client; rolls back if it throws. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

export const MIGRATIONS_DIR = join(import.meta.dirname, '..', 'migrations');

/**
 * The `pg` connection settings of a PostgreSQL URL, with libpq's meaning of `sslmode` (the `pg` driver
 * reads `sslmode=require` as verify-full, and ignores `verify-ca`'s "no host name check"):
 * `disable`/`allow`/`prefer` (or none): no TLS (`pg` cannot fall back, so `prefer` does not try);
 * `require`: TLS, the server's certificate checked only when `sslrootcert` names a CA (as libpq);
 * `verify-ca`: TLS, the certificate chain checked against `sslrootcert` (or the system CAs);
 * `verify-full`: that and the host name. `sslcert`/`sslkey`: a client certificate. Throws on an unknown
 * mode or an unreadable file (naming the file, not the URL, which may hold a password).
 */
export function connectionFor(url: string): pg.PoolConfig {
  const u = new URL(url);
  const p = u.searchParams;
  const mode = p.get('sslmode') ?? 'disable';
  const file = (name: string) => {
    const path = p.get(name);
    if (!path || path === 'system') return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`database URL ${name}=${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  };
  const ca = file('sslrootcert');
  const cert = file('sslcert');
  const key = file('sslkey');
  for (const k of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'ssl', 'uselibpqcompat']) p.delete(k);
  const connectionString = u.toString();
  const client = { ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  let ssl: ConnectionOptions | false;
  switch (mode) {
    case 'disable':
    case 'allow':
    case 'prefer':
      ssl = false;
      break;
    case 'require':
      ssl = ca
        ? { ...client, ca, rejectUnauthorized: true, checkServerIdentity: () => undefined }
        : { ...client, rejectUnauthorized: false };
      break;
    case 'verify-ca':
      ssl = {
        ...client,
        ...(ca ? { ca } : {}),
        rejectUnauthorized: true,
        checkServerIdentity: () => undefined,
      };
      break;
    case 'verify-full':
      ssl = { ...client, ...(ca ? { ca } : {}), rejectUnauthorized: true };
      break;
    default:
      throw new Error(
        `database URL sslmode=${mode}: expected disable, prefer, require, verify-ca or verify-full`,
      );
  }
  return { connectionString, ssl };
}
