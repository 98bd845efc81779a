import { readFileSync } from 'node:fs';
import { type Analytics, createAnalytics } from '@wardwatch/analytics';
import { type Collector, createCollector } from '@wardwatch/collector';
import type { WardwatchConfig } from '@wardwatch/config';
import { createPolicyService, type PolicyService } from '@wardwatch/policy';
import { type Database, type DatabaseOptions, openDatabase, prepareSchema } from '@wardwatch/storage';
import { createMetricsRegistry, type Logger } from '@wardwatch/telemetry';
import { createKafkaTransport, createMemoryTransport, type Transport } from '@wardwatch/transport';

/** The services one process can run. */
export type ServiceName = 'collector' | 'analytics' | 'policy';
export const ALL_SERVICES: readonly ServiceName[] = ['collector', 'analytics', 'policy'];

/** A running Wardwatch process: whichever services it was asked for, over shared adapters. */
export interface Wardwatch {
  config: WardwatchConfig;
  db: Database | undefined;
  transport: Transport;
  collector: Collector | undefined;
  analytics: Analytics | undefined;
  policy: PolicyService | undefined;
  /** Stops the services in reverse order of start, then the adapters. */
  stop(): Promise<void>;
}

/** The database the mode calls for: PGlite under the data dir (embedded) or PostgreSQL (cluster). */
export function databaseOptions(config: WardwatchConfig): DatabaseOptions {
  return config.mode === 'embedded'
    ? { kind: 'pglite', dataDir: config.dataDir, schema: config.database.schema }
    : {
        kind: 'postgres',
        url: config.database.url,
        schema: config.database.schema,
        poolSize: config.database.poolSize,
      };
}

/** Opens the adapters the mode calls for: PGlite + memory bus (embedded) or PostgreSQL + Kafka (cluster). */
export async function openAdapters(config: WardwatchConfig, logger: Logger, needDb: boolean) {
  const db = needDb ? await openDatabase(databaseOptions(config)) : undefined;
  const kafkaLog = logger.child({ component: 'kafka' });
  const transport =
    config.mode === 'embedded'
      ? createMemoryTransport()
      : createKafkaTransport({
          brokers: config.kafka.brokers,
          clientId: config.kafka.clientId,
          topicPrefix: config.kafka.topicPrefix,
          ...(config.kafka.tls
            ? { tls: config.kafka.caFile ? { ca: readFileSync(config.kafka.caFile) } : (true as const) }
            : {}),
          ...(config.kafka.sasl ? { sasl: { ...config.kafka.sasl } } : {}),
          log: (level, message, extra) => kafkaLog[level](extra, message),
        });
  return { db, transport };
}

/**
 * The one place of assembly: builds the requested services in dependency order (database and
 * migrations (or their check), transport, analytics, collector, API), starts them, and returns a handle that stops them
 * in reverse order.
 */
export async function startWardwatch(
  config: WardwatchConfig,
  logger: Logger,
  services: readonly ServiceName[] = ALL_SERVICES,
): Promise<Wardwatch> {
  const registry = createMetricsRegistry();
  const needDb = services.includes('analytics') || services.includes('policy');
  const { db, transport } = await openAdapters(config, logger, needDb);
  const stops: Array<() => Promise<void>> = [];
  const ww: Wardwatch = {
    config,
    db,
    transport,
    collector: undefined,
    analytics: undefined,
    policy: undefined,
    async stop() {
      for (const stop of stops.reverse()) await stop().catch((err) => logger.error({ err }, 'stop failed'));
      await transport.close().catch(() => {});
      await db?.close().catch(() => {});
    },
  };
  try {
    if (db) {
      // The schema's owner migrates; a service on its own role (database.migrate: false) only checks.
      const applied = await prepareSchema(db, config.database.migrate, (msg) => logger.debug(msg));
      if (applied.length > 0) logger.info({ applied }, 'database migrated');
    }
    if (services.includes('analytics') && db) {
      const analytics = createAnalytics({
        config,
        transport,
        db,
        logger: logger.child({ service: 'analytics' }),
        registry,
      });
      await analytics.start();
      stops.push(() => analytics.stop());
      ww.analytics = analytics;
    }
    if (services.includes('collector')) {
      const collector = createCollector({
        config,
        transport,
        logger: logger.child({ service: 'collector' }),
        registry,
      });
      await collector.start();
      stops.push(() => collector.stop());
      ww.collector = collector;
    }
    if (services.includes('policy') && db) {
      const policy = createPolicyService({
        config,
        db,
        logger: logger.child({ service: 'policy' }),
        registry,
        readiness: {
          transport: () => transport.ping(),
          // Embedded mode serves the collector's readiness on the API: a decode shard down is not ready.
          ...(ww.collector ? { collector: async () => (await ww.collector!.notReady()) === undefined } : {}),
        },
        transport,
      });
      await policy.start();
      stops.push(() => policy.stop());
      ww.policy = policy;
    }
  } catch (err) {
    await ww.stop();
    throw err;
  }
  return ww;
}
