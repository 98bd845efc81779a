import { parseArgs } from 'node:util';
import { loadConfig } from '@wardwatch/config';
import { migrate, openDatabase } from '@wardwatch/storage';
import { createLogger } from '@wardwatch/telemetry';
import { databaseOptions } from '../assemble.ts';

const USAGE = 'usage: wardwatch migrate [--config FILE]';

/**
 * `wardwatch migrate`: brings the schema up to date and exits, as the schema's owner (DATABASE_URL). The
 * deployments run it once before the services, which connect with their own roles and
 * `database.migrate: false`; then deploy/postgres/service-roles.sql grants those roles the new tables.
 * Prints the migrations applied now as JSON.
 */
export async function migrateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig({ file: values.config });
  const logger = createLogger({ level: config.logLevel });
  // The database only: migrating needs no broker.
  const db = await openDatabase(databaseOptions(config));
  try {
    const applied = await migrate(db, (msg) => logger.debug(msg));
    console.log(JSON.stringify({ schema: config.database.schema, applied }));
    return 0;
  } finally {
    await db.close();
  }
}
