import { Counter, Gauge, Histogram, type Registry } from '@wardwatch/telemetry';

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
    rows: new Counter({
      name: 'wardwatch_analytics_rows_written_total',
      help: 'Model rows written to PostgreSQL (devices, profiles, baselines, rollups, addresses, alerts); per record, the write cost',
      registers: [registry],
    }),
    statementSeconds: new Counter({
      name: 'wardwatch_analytics_statement_seconds_total',
      help: 'Time spent in each kind of commit statement (verb and table), committed writes only',
      labelNames: ['statement'] as const,
      registers: [registry],
    }),
    statementRows: new Counter({
      name: 'wardwatch_analytics_statement_rows_total',
      help: 'Rows touched by each kind of commit statement (verb and table), committed writes only',
      labelNames: ['statement'] as const,
      registers: [registry],
    }),
    badMessages: new Counter({
      name: 'wardwatch_analytics_bad_messages_total',
      help: 'Messages that could not be decoded and were skipped',
      registers: [registry],
    }),
    badRecords: new Counter({
      name: 'wardwatch_analytics_bad_records_total',
      help: 'Records skipped: no device named, or the device is neither endpoint',
      registers: [registry],
    }),
    failures: new Counter({
      name: 'wardwatch_analytics_batch_failures_total',
      help: 'Batches whose database write failed (redelivered)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    rewinds: new Counter({
      name: 'wardwatch_analytics_rewinds_total',
      help: 'Times uncommitted work was dropped and the owned partitions were read again from the stored offsets',
      registers: [registry],
    }),
    duplicates: new Counter({
      name: 'wardwatch_analytics_duplicate_messages_total',
      help: 'Redelivered messages skipped because their offsets were already committed with the models',
      registers: [registry],
    }),
    late: new Counter({
      name: 'wardwatch_analytics_late_contributions_total',
      help: 'Record minutes that arrived after their baseline bucket was folded (kept in rollups, not in baselines)',
      registers: [registry],
    }),
    clamped: new Counter({
      name: 'wardwatch_analytics_clamped_records_total',
      help: 'Records stamped more than analytics.maxClockSkew ahead of their receive time (exporter clock or sysUptime wrong): taken as received then',
      registers: [registry],
    }),
    alerts: new Counter({
      name: 'wardwatch_analytics_alerts_total',
      help: 'Alert detections written (new alerts and updates of open ones)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    reloads: new Counter({
      name: 'wardwatch_analytics_reloads_total',
      help: 'Reloads of policies and the threat-intelligence list, by what and outcome',
      labelNames: ['what', 'outcome'] as const,
      registers: [registry],
    }),
    models: new Gauge({
      name: 'wardwatch_analytics_device_models',
      help: 'Device models held in memory by this worker',
      registers: [registry],
    }),
    newDevicesLimited: new Counter({
      name: 'wardwatch_analytics_new_devices_limited_total',
      help: 'New devices not created: their exporter had added analytics.maxNewDevicesPerExporterPerMinute this minute',
      registers: [registry],
    }),
    modelsEvicted: new Counter({
      name: 'wardwatch_analytics_models_evicted_total',
      help: 'Device models dropped from memory past analytics.maxDeviceModels (least recently seen first)',
      registers: [registry],
    }),
    commitSeconds: new Histogram({
      name: 'wardwatch_analytics_commit_seconds',
      help: 'Time to write one batch (models, alerts and offsets) in one transaction',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}

/** The metrics object {@link createAnalyticsMetrics} returns. */
export type AnalyticsMetrics = ReturnType<typeof createAnalyticsMetrics>;
