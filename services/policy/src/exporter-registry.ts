import { decodeExporterStatus, type ExporterStatus, Topics } from '@wardwatch/flow-schema';
import { createRateLimitedLog, type Logger } from '@wardwatch/telemetry';
import type { ConsumedBatch, Subscriber, Transport } from '@wardwatch/transport';
import type pg from 'pg';

/**
 * Keeps the `exporters` table (served by GET /v1/exporters) up to date from the compacted
 * `exporters-v1` topic the collectors publish: the latest status per exporter address and observation
 * domain wins (by report time, so a replayed older status never overwrites a newer one).
 */
export function createExporterRegistry(deps: {
  transport: Transport;
  pool: pg.Pool;
  groupId: string;
  logger: Logger;
}) {
  const { transport, pool, logger } = deps;
  const bad = createRateLimitedLog((f, m) => logger.warn(f, m));
  let subscriber: Subscriber | undefined;

  async function handle(batch: ConsumedBatch): Promise<void> {
    // The latest status per key within the batch; older ones in it are superseded anyway.
    const latest = new Map<string, ExporterStatus>();
    for (const m of batch.messages) {
      const s = decodeExporterStatus(m.value);
      if (!s) {
        bad({ partition: batch.partition, offset: m.offset }, 'undecodable exporters-v1 message skipped');
        continue;
      }
      const k = `${s.exporter}|${s.observationDomain}`;
      const prev = latest.get(k);
      if (!prev || prev.reportedMs <= s.reportedMs) latest.set(k, s);
    }
    for (const s of latest.values()) {
      await pool
        .query(
          `INSERT INTO exporters (address, observation_domain, version, packets, records, records_per_second, templates,
           sequence_lost, sampling_interval, first_seen, last_seen, decode_errors, sequence_unit, sequence_resets,
           transports, collector, reported_at, datagrams_lost, interfaces)
         VALUES ($1::inet, $2, $3, $4, $5, $6, $7, $8, $9, to_timestamp($10 / 1000.0), to_timestamp($11 / 1000.0), $12,
           $13, $14, $15, $16, to_timestamp($17 / 1000.0), $18, $19::jsonb)
         ON CONFLICT (address, observation_domain) DO UPDATE SET version = EXCLUDED.version, packets = EXCLUDED.packets,
           records = EXCLUDED.records, records_per_second = EXCLUDED.records_per_second, templates = EXCLUDED.templates,
           sequence_lost = EXCLUDED.sequence_lost, sampling_interval = EXCLUDED.sampling_interval,
           first_seen = LEAST(exporters.first_seen, EXCLUDED.first_seen), last_seen = EXCLUDED.last_seen,
           decode_errors = EXCLUDED.decode_errors, sequence_unit = EXCLUDED.sequence_unit,
           sequence_resets = EXCLUDED.sequence_resets, transports = EXCLUDED.transports,
           collector = EXCLUDED.collector, reported_at = EXCLUDED.reported_at,
           datagrams_lost = EXCLUDED.datagrams_lost, interfaces = EXCLUDED.interfaces
         WHERE exporters.reported_at IS NULL OR exporters.reported_at <= EXCLUDED.reported_at`,
          [
            s.exporter,
            s.observationDomain,
            s.version,
            s.packets,
            s.records,
            s.recordsPerSecond,
            s.templates,
            s.sequenceLost,
            Math.max(1, Math.round(s.samplingRate)),
            s.firstSeenMs,
            s.lastSeenMs,
            s.decodeErrors,
            s.sequenceUnit,
            s.sequenceResets,
            s.transports,
            s.collector,
            s.reportedMs,
            s.datagramsLost ?? 0,
            s.interfaces === undefined ? null : JSON.stringify(s.interfaces),
          ],
        )
        .catch((err: { code?: string }) => {
          // A status whose address PostgreSQL refuses is bad input, not a reason to stall the topic.
          if (err.code === '22P02')
            bad({ exporter: s.exporter }, 'exporter status with an invalid address skipped');
          else throw err;
        });
    }
  }

  return {
    handle,
    async start() {
      await transport.ensureTopic(Topics.exporters, 1, { compacted: true });
      subscriber = await transport.createSubscriber(deps.groupId);
      await subscriber.start(Topics.exporters, handle);
    },
    async stop() {
      await subscriber?.close();
    },
  };
}
