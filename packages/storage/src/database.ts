import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
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

async function openPglite(dataDir: string, schema: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const dir = resolve(dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const db = await PGlite.create(dir);
  // The socket server speaks the PostgreSQL wire protocol, so the same `pg` code runs on both.
  // PGlite is single-connection: one socket, one pooled client, so transactions never interleave.
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0 });
  await server.start();
  const addr = server.getServerConn();
  const pool = createPool({ connectionString: `postgres://postgres@${addr}/postgres`, max: 1 }, schema);
  return {
    kind: 'pglite',
    schema,
    pool,
    ping: () => answers(pool),
    close: async () => {
      await pool.end();
      await server.stop();
      await db.close();
    },
  };
}

/** Opens the database named by the options; embedded mode keeps PGlite's files under `dataDir/pglite`. */
export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  if (opts.kind === 'pglite') {
    mkdirSync(opts.dataDir, { recursive: true });
    return openPglite(opts.dataDir, opts.schema);
  }
  const pool = createPool({ connectionString: opts.url, max: opts.poolSize }, opts.schema);
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
