import { Counter, Gauge, type Registry } from '@wardwatch/telemetry';

/** The collector's Prometheus metrics; every received record ends in exactly one outcome counter. */
export function createCollectorMetrics(registry: Registry) {
  return {
    packets: new Counter({
      name: 'wardwatch_collector_packets_total',
      help: 'Export packets received, by export version',
      labelNames: ['version'] as const,
      registers: [registry],
    }),
    packetsDropped: new Counter({
      name: 'wardwatch_collector_packets_dropped_total',
      help: 'Export packets that could not be decoded, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    records: new Counter({
      name: 'wardwatch_collector_records_decoded_total',
      help: 'Flow records decoded',
      registers: [registry],
    }),
    recordsPublished: new Counter({
      name: 'wardwatch_collector_records_published_total',
      help: 'Flow records accepted by the transport (a record for two devices counts once)',
      registers: [registry],
    }),
    recordsDropped: new Counter({
      name: 'wardwatch_collector_records_dropped_total',
      help: 'Flow records not published, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    pending: new Gauge({
      name: 'wardwatch_collector_records_pending',
      help: 'Records decoded and waiting to be published',
      registers: [registry],
    }),
  };
}

export type CollectorMetrics = ReturnType<typeof createCollectorMetrics>;
