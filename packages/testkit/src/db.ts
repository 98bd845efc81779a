import pg from 'pg';

/** The PostgreSQL the tests use: DATABASE_URL, or the local server of these machines. */
export const TEST_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The Kafka brokers the tests use: KAFKA_BROKERS, or the broker deploy/kafka-local starts. */
export const TEST_KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

/** A name unique to this test run, usable as a schema, topic prefix or consumer group. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema.replace(/"/g, '')}" CASCADE`);
    // The reporting views' schema made by migrate() (packages/storage).
    await client.query(`DROP SCHEMA IF EXISTS "${schema.replace(/"/g, '')}_reporting" CASCADE`);
  } finally {
    await client.end();
  }
}
