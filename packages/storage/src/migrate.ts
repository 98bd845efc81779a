import { runner } from 'node-pg-migrate';
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
    return applied.map((m) => m.name);
  } finally {
    client.release();
  }
}
