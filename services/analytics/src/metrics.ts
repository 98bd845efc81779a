import { Counter, type Registry } from '@wardwatch/telemetry';

/** The analytics worker's Prometheus metrics. */
export function createAnalyticsMetrics(registry: Registry) {
  return {
    batches: new Counter({
      name: 'wardwatch_analytics_batches_total',
      help: 'Transport batches committed to the database',
      registers: [registry],
    }),
    records: new Counter({
      name: 'wardwatch_analytics_records_total',
      help: 'Flow records applied to device models',
      registers: [registry],
    }),
    badMessages: new Counter({
      name: 'wardwatch_analytics_bad_messages_total',
      help: 'Messages that could not be decoded and were skipped',
      registers: [registry],
    }),
    failures: new Counter({
      name: 'wardwatch_analytics_batch_failures_total',
      help: 'Batches whose database write failed (redelivered)',
      registers: [registry],
    }),
  };
}
