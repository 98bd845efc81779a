// Builds pipeline-health.json: the collector, Kafka and the services behind them.
import {
  dashboard,
  type Json,
  PROMETHEUS,
  panel,
  promTarget,
  resetPanelIds,
  timeseries,
  unit,
} from './panels.ts';

/** The pipeline dashboard. */
export function pipeline(): Json {
  resetPanelIds();
  const job = 'job=~"$job"';
  return dashboard(
    'wardwatch-pipeline',
    'Wardwatch / Pipeline health',
    [
      panel(
        'stat',
        'Targets up',
        { x: 0, y: 0, w: 6, h: 4 },
        [promTarget(`sum(up{${job}})`, 'up')],
        unit('short'),
      ),
      panel(
        'stat',
        'Collector buffer fill',
        { x: 6, y: 0, w: 6, h: 4 },
        [promTarget(`max(wardwatch_collector_buffer_fill_ratio{${job}})`, 'fill')],
        unit('percentunit'),
      ),
      panel(
        'stat',
        'Analytics batch failures (1h)',
        { x: 12, y: 0, w: 6, h: 4 },
        [promTarget(`sum(increase(wardwatch_analytics_batch_failures_total{${job}}[1h]))`, 'failures')],
        unit('short'),
      ),
      panel(
        'stat',
        'Undecodable flow batches (1h)',
        { x: 18, y: 0, w: 6, h: 4 },
        [promTarget(`sum(increase(wardwatch_analytics_bad_messages_total{${job}}[1h]))`, 'bad')],
        unit('short'),
      ),
      timeseries(
        'Records through the pipeline',
        { x: 0, y: 4, w: 12, h: 9 },
        [
          promTarget(
            `sum(rate(wardwatch_collector_records_decoded_total{${job}}[$__rate_interval]))`,
            'decoded (collectors)',
            'A',
          ),
          promTarget(
            `sum(rate(wardwatch_collector_records_published_total{${job}}[$__rate_interval]))`,
            'published to Kafka',
            'B',
          ),
          promTarget(
            `sum(rate(wardwatch_analytics_records_total{${job}}[$__rate_interval]))`,
            'applied (analytics)',
            'C',
          ),
        ],
        'short',
      ),
      timeseries(
        'Records dropped by reason',
        { x: 12, y: 4, w: 12, h: 9 },
        [
          promTarget(
            `sum by (reason) (rate(wardwatch_collector_records_dropped_total{${job}}[$__rate_interval]))`,
            '{{reason}}',
          ),
        ],
        'short',
      ),
      timeseries(
        'Analytics batches committed/s',
        { x: 0, y: 13, w: 12, h: 8 },
        [
          promTarget(
            `sum by (instance) (rate(wardwatch_analytics_batches_total{${job}}[$__rate_interval]))`,
            '{{instance}}',
          ),
        ],
        'short',
      ),
      timeseries(
        'Analytics commit latency p99 (models, alerts and offsets in one transaction)',
        { x: 0, y: 37, w: 8, h: 8 },
        [
          promTarget(
            'histogram_quantile(0.99, sum by (le) ' +
              `(rate(wardwatch_analytics_commit_seconds_bucket{${job}}[$__rate_interval])))`,
            'p99',
          ),
        ],
        's',
      ),
      timeseries(
        'Alert detections written/s',
        { x: 8, y: 37, w: 8, h: 8 },
        [promTarget(`sum(rate(wardwatch_analytics_alerts_total{${job}}[$__rate_interval]))`, 'detections')],
        'short',
      ),
      timeseries(
        'Webhook deliveries by outcome',
        { x: 16, y: 37, w: 8, h: 8 },
        [
          promTarget(
            `sum by (outcome) (rate(wardwatch_webhook_attempts_total{${job}}[$__rate_interval]))`,
            '{{outcome}}',
          ),
        ],
        'short',
      ),
      timeseries(
        'Export packets/s by version',
        { x: 12, y: 13, w: 12, h: 8 },
        [
          promTarget(
            `sum by (version) (rate(wardwatch_collector_packets_total{${job}}[$__rate_interval]))`,
            'v{{version}}',
          ),
        ],
        'pps',
      ),
      timeseries(
        'Kernel UDP drops/s (receive buffer overflow)',
        { x: 0, y: 29, w: 8, h: 8 },
        [
          promTarget(
            `sum by (instance, port) (rate(wardwatch_collector_udp_kernel_drops{${job}}[$__rate_interval]))`,
            '{{instance}} :{{port}}',
          ),
        ],
        'pps',
      ),
      timeseries(
        'Kafka publish latency p99',
        { x: 8, y: 29, w: 8, h: 8 },
        [
          promTarget(
            'histogram_quantile(0.99, sum by (le) ' +
              `(rate(wardwatch_collector_kafka_publish_seconds_bucket{${job}}[$__rate_interval])))`,
            'p99',
          ),
        ],
        's',
      ),
      timeseries(
        'Kafka publish retries/s',
        { x: 16, y: 29, w: 8, h: 8 },
        [
          promTarget(
            `sum(rate(wardwatch_collector_kafka_retries_total{${job}}[$__rate_interval]))`,
            'retries',
          ),
        ],
        'short',
      ),
      timeseries(
        'CPU by process',
        { x: 0, y: 21, w: 8, h: 8 },
        [
          promTarget(
            `rate(wardwatch_process_cpu_seconds_total{${job}}[$__rate_interval])`,
            '{{job}} {{instance}}',
          ),
        ],
        'percentunit',
      ),
      timeseries(
        'Resident memory by process',
        { x: 8, y: 21, w: 8, h: 8 },
        [promTarget(`wardwatch_process_resident_memory_bytes{${job}}`, '{{job}} {{instance}}')],
        'bytes',
      ),
      timeseries(
        'Event loop lag p99',
        { x: 16, y: 21, w: 8, h: 8 },
        [promTarget(`wardwatch_nodejs_eventloop_lag_p99_seconds{${job}}`, '{{job}} {{instance}}')],
        's',
      ),
      timeseries(
        'Collector disk spool (collector.spoolDir): bytes waiting on disk',
        { x: 0, y: 45, w: 12, h: 8 },
        [promTarget(`wardwatch_collector_spool_bytes{${job}}`, '{{instance}}')],
        'bytes',
      ),
      timeseries(
        'Records spooled/s (memory buffer full or shutdown)',
        { x: 12, y: 45, w: 12, h: 8 },
        [
          promTarget(
            `sum by (instance) (rate(wardwatch_collector_records_spooled_total{${job}}[$__rate_interval]))`,
            '{{instance}}',
          ),
        ],
        'short',
      ),
    ],
    [
      {
        name: 'job',
        label: 'Service',
        type: 'query',
        datasource: PROMETHEUS,
        query: { query: 'label_values(up, job)', refId: 'PrometheusVariableQueryEditor-VariableQuery' },
        definition: 'label_values(up, job)',
        refresh: 2,
        multi: true,
        includeAll: true,
        allValue: 'wardwatch-.*',
        current: {},
      },
    ],
    'now-1h',
  );
}
