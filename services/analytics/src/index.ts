// Analytics: consumes flow records as a consumer group and maintains the device inventory in PostgreSQL.
import type { WardwatchConfig } from '@wardwatch/config';
import { decodeFlowBatch, type FlowBatch, Topics } from '@wardwatch/flow-schema';
import { type Database, withTransaction } from '@wardwatch/storage';
import { createRateLimitedLog, type Logger, type Registry } from '@wardwatch/telemetry';
import type { ConsumedBatch, Subscriber, Transport } from '@wardwatch/transport';
import { addRecord, type DeviceDelta } from './aggregate.ts';
import { applyDeltas } from './inventory.ts';
import { createAnalyticsMetrics } from './metrics.ts';

/** What an analytics worker needs from its assembly. */
export interface AnalyticsDeps {
  config: WardwatchConfig;
  transport: Transport;
  db: Database;
  logger: Logger;
  registry: Registry;
}

/** A running analytics worker. */
export interface Analytics {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Applies one batch (exposed for tests and benchmarks; the subscriber calls it). */
  handle(batch: ConsumedBatch): Promise<void>;
}

/** Creates an analytics worker; it joins the consumer group on `start()`. */
export function createAnalytics(deps: AnalyticsDeps): Analytics {
  const { config, transport, db, logger } = deps;
  const metrics = createAnalyticsMetrics(deps.registry);
  const badMessage = createRateLimitedLog((f, m) => logger.warn(f, m));
  let subscriber: Subscriber | undefined;

  async function handle(batch: ConsumedBatch): Promise<void> {
    const deltas = new Map<string, DeviceDelta>();
    let records = 0;
    for (const m of batch.messages) {
      let flows: FlowBatch;
      try {
        flows = decodeFlowBatch(m.value);
      } catch (err) {
        metrics.badMessages.inc();
        badMessage({ partition: batch.partition, offset: m.offset, err }, 'undecodable flow batch skipped');
        continue;
      }
      // Each record comes with the device it was routed to (older producers: the message key).
      for (let i = 0; i < flows.records.length; i++) {
        addRecord(deltas, flows.devices[i] || m.key, flows.records[i]!);
      }
      records += flows.records.length;
    }
    try {
      await withTransaction(db.pool, (client) => applyDeltas(client, deltas.values()));
    } catch (err) {
      metrics.failures.inc();
      logger.error({ err, partition: batch.partition }, 'writing the batch failed; it will be redelivered');
      throw err;
    }
    metrics.batches.inc();
    metrics.records.inc(records);
  }

  return {
    handle,
    async start() {
      await transport.ensureTopic(Topics.flows, config.kafka.flowPartitions);
      subscriber = await transport.createSubscriber(config.analytics.groupId);
      await subscriber.start(Topics.flows, handle);
      logger.info({ groupId: config.analytics.groupId }, 'analytics consuming flow records');
    },
    async stop() {
      await subscriber?.close();
    },
  };
}
