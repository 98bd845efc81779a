// A policy service in a process of its own (for tests that kill it): config overrides come as JSON in
// argv[2]; prints {"url": ...} on stdout once listening.
import { loadConfig } from '@wardwatch/config';
import { createPolicyService } from '@wardwatch/policy';
import { openDatabase } from '@wardwatch/storage';
import { createLogger, createMetricsRegistry } from '@wardwatch/telemetry';

const overrides = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const config = loadConfig({ env: {}, overrides });
const db = await openDatabase({
  kind: 'postgres',
  url: config.database.url,
  schema: config.database.schema,
  poolSize: config.database.poolSize,
});
const service = createPolicyService({
  config,
  db,
  logger: createLogger({ level: 'silent' }),
  registry: createMetricsRegistry(),
});
await service.start();
process.stdout.write(`${JSON.stringify({ url: service.url() })}\n`);
process.once('SIGTERM', async () => {
  await service.stop();
  await db.close();
  process.exit(0);
});
