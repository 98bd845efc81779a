// Builds Wardwatch's Grafana dashboards (deploy/grafana/dashboards/*.json) from one description, so every
// panel shares the same data sources, units and links. Run after editing:
//   node --import tsx deploy/grafana/build-dashboards.ts
// test/ecosystem-grafana.test.ts checks the JSON is current and runs every panel's SQL on the real schema.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Data sources provisioned by deploy/grafana/provisioning/datasources/wardwatch.yaml. */
export const POSTGRES = { type: 'grafana-postgresql-datasource', uid: 'wardwatch-postgres' } as const;
export const PROMETHEUS = { type: 'prometheus', uid: 'wardwatch-prometheus' } as const;

type Json = Record<string, unknown>;
interface Grid {
  x: number;
  y: number;
  w: number;
  h: number;
}

let nextId = 1;

function sqlTarget(rawSql: string, format: 'time_series' | 'table'): Json {
  return { refId: 'A', datasource: POSTGRES, editorMode: 'code', format, rawQuery: true, rawSql };
}

function promTarget(expr: string, legendFormat: string, refId = 'A'): Json {
  return { refId, datasource: PROMETHEUS, editorMode: 'code', expr, legendFormat, range: true };
}

function panel(type: string, title: string, gridPos: Grid, targets: Json[], extra: Json = {}): Json {
  const ds = (targets[0]?.datasource as Json | undefined) ?? POSTGRES;
  return { id: nextId++, type, title, gridPos, datasource: ds, targets, ...extra };
}

const unit = (u: string, overrides: Json[] = []) => ({ fieldConfig: { defaults: { unit: u }, overrides } });

function stat(title: string, gridPos: Grid, sql: string, u = 'short', thresholds?: number[]): Json {
  const steps = [{ color: 'green', value: null }];
  const colors = ['orange', 'red'];
  for (const [i, v] of (thresholds ?? []).entries())
    steps.push({ color: colors[i] ?? 'red', value: v as never });
  return panel('stat', title, gridPos, [sqlTarget(sql, 'table')], {
    fieldConfig: { defaults: { unit: u, thresholds: { mode: 'absolute', steps } }, overrides: [] },
    options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value' },
  });
}

function timeseries(title: string, gridPos: Grid, targets: Json[], u = 'short', stacked = false): Json {
  return panel('timeseries', title, gridPos, targets, {
    fieldConfig: {
      defaults: {
        unit: u,
        custom: stacked
          ? { drawStyle: 'bars', stacking: { mode: 'normal' }, fillOpacity: 80 }
          : { drawStyle: 'line', fillOpacity: 10 },
      },
      overrides: [],
    },
    options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
  });
}

/** A table; `link` names the column whose cells open the device drill-down. */
function table(title: string, gridPos: Grid, sql: string, opts: { link?: string; units?: Json } = {}): Json {
  const overrides: Json[] = [];
  if (opts.link) {
    overrides.push({
      matcher: { id: 'byName', options: opts.link },
      properties: [
        {
          id: 'links',
          value: [
            {
              title: 'Device drill-down',
              url: `/d/wardwatch-device/wardwatch-device?\${__url_time_range}&var-device=\${__data.fields.${opts.link}}`,
            },
          ],
        },
      ],
    });
  }
  for (const [name, u] of Object.entries(opts.units ?? {})) {
    overrides.push({ matcher: { id: 'byName', options: name }, properties: [{ id: 'unit', value: u }] });
  }
  return panel('table', title, gridPos, [sqlTarget(sql, 'table')], {
    fieldConfig: { defaults: {}, overrides },
    options: { showHeader: true, cellHeight: 'sm' },
  });
}

function sqlVariable(name: string, label: string, query: string, multi: boolean): Json {
  return {
    name,
    label,
    type: 'query',
    datasource: POSTGRES,
    query,
    definition: query,
    refresh: 2,
    multi,
    includeAll: multi,
    sort: 1,
    current: {},
  };
}

function dashboard(
  uid: string,
  title: string,
  panels: Json[],
  variables: Json[] = [],
  from = 'now-6h',
): Json {
  return {
    uid,
    title,
    tags: ['wardwatch'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '1m',
    time: { from, to: 'now' },
    links: [
      { type: 'dashboards', tags: ['wardwatch'], asDropdown: true, title: 'Wardwatch', includeVars: false },
    ],
    templating: { list: variables },
    annotations: { list: [] },
    panels,
  };
}

// The class a device is shown with: the analyst's override wins over inference.
const CLASS = 'COALESCE(d.class_override, d.class)';
const SEVERITY_ORDER =
  "CASE a.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END";

function fleet(): Json {
  nextId = 1;
  const inClass = `${CLASS} IN ($class)`;
  return dashboard(
    'wardwatch-fleet',
    'Wardwatch / Fleet overview',
    [
      stat(
        'Devices',
        { x: 0, y: 0, w: 4, h: 4 },
        `SELECT count(*) AS devices FROM devices d WHERE ${inClass}`,
      ),
      stat(
        'Active in range',
        { x: 4, y: 0, w: 4, h: 4 },
        `SELECT count(*) AS active FROM devices d WHERE $__timeFilter(d.last_seen) AND ${inClass}`,
      ),
      stat(
        'New in range',
        { x: 8, y: 0, w: 4, h: 4 },
        `SELECT count(*) AS new_devices FROM devices d WHERE $__timeFilter(d.first_seen) AND ${inClass}`,
        'short',
        [1, 20],
      ),
      stat(
        'Open alerts',
        { x: 12, y: 0, w: 4, h: 4 },
        "SELECT count(*) AS open_alerts FROM alerts a WHERE a.status <> 'resolved'",
        'short',
        [1, 10],
      ),
      stat(
        'Critical / high open',
        { x: 16, y: 0, w: 4, h: 4 },
        "SELECT count(*) AS severe_open FROM alerts a WHERE a.status <> 'resolved' AND a.severity IN ('critical', 'high')",
        'short',
        [1, 1],
      ),
      stat(
        'Quarantined',
        { x: 20, y: 0, w: 4, h: 4 },
        `SELECT count(*) AS quarantined FROM devices d WHERE d.quarantined AND ${inClass}`,
        'short',
        [1, 5],
      ),
      panel(
        'piechart',
        'Devices by class',
        { x: 0, y: 4, w: 8, h: 9 },
        [
          sqlTarget(
            `SELECT ${CLASS} AS class, count(*) AS devices FROM devices d WHERE ${inClass} GROUP BY 1 ORDER BY 2 DESC`,
            'table',
          ),
        ],
        {
          options: {
            reduceOptions: { calcs: ['lastNotNull'], fields: '/^devices$/', values: true },
            pieType: 'donut',
            legend: { displayMode: 'table', placement: 'right', values: ['value'] },
          },
          fieldConfig: { defaults: { unit: 'short' }, overrides: [] },
        },
      ),
      timeseries(
        'New devices',
        { x: 8, y: 4, w: 8, h: 9 },
        [
          sqlTarget(
            `SELECT $__timeGroupAlias(d.first_seen, $__interval, 0), ${CLASS} AS metric, count(*) AS new_devices\n` +
              `FROM devices d WHERE $__timeFilter(d.first_seen) AND ${inClass}\nGROUP BY 1, 2 ORDER BY 1`,
            'time_series',
          ),
        ],
        'short',
        true,
      ),
      timeseries(
        'Alerts by severity',
        { x: 16, y: 4, w: 8, h: 9 },
        [
          sqlTarget(
            'SELECT $__timeGroupAlias(a.first_seen, $__interval, 0), a.severity AS metric, count(*) AS alerts\n' +
              'FROM alerts a WHERE $__timeFilter(a.first_seen)\nGROUP BY 1, 2 ORDER BY 1',
            'time_series',
          ),
        ],
        'short',
        true,
      ),
      timeseries(
        'Traffic by class',
        { x: 0, y: 13, w: 24, h: 8 },
        [
          sqlTarget(
            `SELECT $__timeGroupAlias(r.minute, $__interval), ${CLASS} AS metric,\n` +
              '  sum(r.bytes_out + r.bytes_in) AS bytes\n' +
              'FROM device_rollups_minute r JOIN devices d ON d.ip = r.device_ip\n' +
              `WHERE $__timeFilter(r.minute) AND ${inClass}\nGROUP BY 1, 2 ORDER BY 1`,
            'time_series',
          ),
        ],
        'decbytes',
      ),
      timeseries(
        'Detections by kind (analytics, per minute of flow time)',
        { x: 0, y: 31, w: 24, h: 8 },
        [
          sqlTarget(
            'SELECT $__timeGroupAlias(r.minute, $__interval, 0), r.kind AS metric, sum(r.count) AS detections\n' +
              'FROM alert_rollups_minute r WHERE $__timeFilter(r.minute)\nGROUP BY 1, 2 ORDER BY 1',
            'time_series',
          ),
        ],
        'short',
        true,
      ),
      table(
        'Highest-risk devices',
        { x: 0, y: 21, w: 12, h: 10 },
        `SELECT host(d.ip) AS ip, ${CLASS} AS class, d.risk, d.label, d.department,\n` +
          "  (SELECT count(*) FROM alerts a WHERE a.device_ip = d.ip AND a.status <> 'resolved') AS open_alerts,\n" +
          `  d.quarantined, d.last_seen\nFROM devices d WHERE ${inClass}\n` +
          'ORDER BY d.risk DESC, open_alerts DESC, d.last_seen DESC LIMIT 20',
        { link: 'ip' },
      ),
      table(
        'Open alerts',
        { x: 12, y: 21, w: 12, h: 10 },
        'SELECT a.id, a.severity, a.kind, host(a.device_ip) AS device, a.title, a.status, a.occurrences,\n' +
          `  a.last_seen\nFROM alerts a WHERE a.status <> 'resolved'\nORDER BY ${SEVERITY_ORDER}, a.last_seen DESC LIMIT 50`,
        { link: 'device' },
      ),
    ],
    [
      sqlVariable(
        'class',
        'Class',
        'SELECT DISTINCT COALESCE(class_override, class) FROM devices ORDER BY 1',
        true,
      ),
    ],
  );
}

function device(): Json {
  nextId = 1;
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax (quoted, escaped), not JS
  const ip = '${device:sqlstring}::inet';
  return dashboard(
    'wardwatch-device',
    'Wardwatch / Device drill-down',
    [
      table(
        'Device',
        { x: 0, y: 0, w: 24, h: 4 },
        `SELECT host(d.ip) AS ip, d.mac::text AS mac, d.vlan, ${CLASS} AS class,\n` +
          '  round(d.class_confidence::numeric, 2) AS confidence, d.label, d.owner, d.department, d.criticality,\n' +
          '  d.risk, d.quarantined, host(d.exporter) AS exporter, d.input_if, d.first_seen, d.last_seen\n' +
          `FROM devices d WHERE d.ip = ${ip}`,
      ),
      stat(
        'Risk',
        { x: 0, y: 4, w: 4, h: 4 },
        `SELECT d.risk FROM devices d WHERE d.ip = ${ip}`,
        'short',
        [40, 70],
      ),
      stat(
        'Open alerts',
        { x: 4, y: 4, w: 4, h: 4 },
        `SELECT count(*) AS open_alerts FROM alerts a WHERE a.device_ip = ${ip} AND a.status <> 'resolved'`,
        'short',
        [1, 3],
      ),
      stat(
        'Sent (all time)',
        { x: 8, y: 4, w: 4, h: 4 },
        `SELECT d.bytes_sent FROM devices d WHERE d.ip = ${ip}`,
        'decbytes',
      ),
      stat(
        'Received (all time)',
        { x: 12, y: 4, w: 4, h: 4 },
        `SELECT d.bytes_received FROM devices d WHERE d.ip = ${ip}`,
        'decbytes',
      ),
      stat(
        'Peers',
        { x: 16, y: 4, w: 4, h: 4 },
        `SELECT count(DISTINCT p.peer) AS peers FROM device_profiles p WHERE p.device_ip = ${ip}`,
      ),
      stat(
        'Flows sent (all time)',
        { x: 20, y: 4, w: 4, h: 4 },
        `SELECT d.flows_sent FROM devices d WHERE d.ip = ${ip}`,
      ),
      timeseries(
        'Traffic',
        { x: 0, y: 8, w: 16, h: 9 },
        [
          sqlTarget(
            'SELECT $__timeGroupAlias(r.minute, $__interval, 0), sum(r.bytes_out) AS bytes_out,\n' +
              '  sum(r.bytes_in) AS bytes_in\nFROM device_rollups_minute r\n' +
              `WHERE r.device_ip = ${ip} AND $__timeFilter(r.minute)\nGROUP BY 1 ORDER BY 1`,
            'time_series',
          ),
        ],
        'decbytes',
      ),
      timeseries('Flows', { x: 16, y: 8, w: 8, h: 9 }, [
        sqlTarget(
          'SELECT $__timeGroupAlias(r.minute, $__interval, 0), sum(r.flows) AS flows\n' +
            `FROM device_rollups_minute r WHERE r.device_ip = ${ip} AND $__timeFilter(r.minute)\n` +
            'GROUP BY 1 ORDER BY 1',
          'time_series',
        ),
      ]),
      table(
        'Peers (communication profile)',
        { x: 0, y: 17, w: 14, h: 10 },
        'SELECT CASE WHEN masklen(p.peer) IN (32, 128) THEN host(p.peer) ELSE text(p.peer) END AS peer,\n' +
          '  p.peer_internal AS internal, p.direction, p.protocol, p.service_port, p.flows, p.bytes_out, p.bytes_in,\n' +
          `  p.last_seen\nFROM device_profiles p WHERE p.device_ip = ${ip}\n` +
          'ORDER BY p.bytes_out + p.bytes_in DESC LIMIT 50',
        { units: { bytes_out: 'decbytes', bytes_in: 'decbytes' } },
      ),
      table(
        'Classification evidence',
        { x: 14, y: 17, w: 10, h: 10 },
        'SELECT e.value::text AS evidence\n' +
          `FROM devices d, jsonb_array_elements(d.class_evidence) AS e WHERE d.ip = ${ip}`,
      ),
      table(
        'Quarantine history',
        { x: 0, y: 35, w: 24, h: 6 },
        'SELECT q.id, q.source, q.reason, q.created_by, q.created_at, q.expires_at, q.released_at, q.released_by,\n' +
          `  q.release_reason\nFROM quarantines q WHERE q.device_ip = ${ip}\nORDER BY q.created_at DESC LIMIT 50`,
      ),
      table(
        'Alerts',
        { x: 0, y: 27, w: 24, h: 8 },
        'SELECT a.id, a.severity, a.kind, a.title, a.status, a.occurrences, a.first_seen, a.last_seen, a.assignee\n' +
          `FROM alerts a WHERE a.device_ip = ${ip}\nORDER BY a.last_seen DESC LIMIT 100`,
      ),
    ],
    [
      sqlVariable(
        'device',
        'Device',
        'SELECT host(ip) FROM devices ORDER BY risk DESC, last_seen DESC LIMIT 1000',
        false,
      ),
    ],
  );
}

function exporters(): Json {
  nextId = 1;
  const inExporter = 'host(e.address) IN ($exporter)';
  return dashboard(
    'wardwatch-exporters',
    'Wardwatch / Exporter health',
    [
      stat('Exporters', { x: 0, y: 0, w: 4, h: 4 }, 'SELECT count(*) AS exporters FROM exporters e'),
      stat(
        'Silent for 5 minutes',
        { x: 4, y: 0, w: 5, h: 4 },
        "SELECT count(*) AS silent FROM exporters e WHERE e.last_seen < now() - interval '5 minutes'",
        'short',
        [1, 1],
      ),
      stat(
        'Records/s (all exporters)',
        { x: 9, y: 0, w: 5, h: 4 },
        `SELECT coalesce(sum(e.records_per_second), 0) AS records_per_second FROM exporters e WHERE ${inExporter}`,
      ),
      stat(
        'Undecodable packets (all time)',
        { x: 14, y: 0, w: 5, h: 4 },
        `SELECT coalesce(sum(e.decode_errors), 0) AS decode_errors FROM exporters e WHERE ${inExporter}`,
        'short',
        [1, 100],
      ),
      stat(
        'Sequence loss',
        { x: 19, y: 0, w: 5, h: 4 },
        'SELECT coalesce(sum(e.sequence_lost)::float8 / nullif(sum(e.records + e.sequence_lost), 0), 0)' +
          ` AS loss_ratio\nFROM exporters e WHERE ${inExporter}`,
        'percentunit',
        [0.001, 0.01],
      ),
      table(
        'Exporters',
        { x: 0, y: 4, w: 24, h: 8 },
        'SELECT host(e.address) AS exporter, e.observation_domain AS domain, e.version, e.records_per_second,\n' +
          '  e.packets, e.records, e.templates, e.sequence_lost, e.sequence_unit, e.sequence_resets,\n' +
          '  e.sequence_lost::float8 / nullif(e.records + e.sequence_lost, 0) AS loss_ratio, e.decode_errors,\n' +
          "  e.sampling_interval, array_to_string(e.transports, ', ') AS transports, e.collector,\n" +
          '  e.first_seen, e.last_seen,\n' +
          '  extract(epoch FROM now() - e.last_seen)::bigint AS silent_seconds\n' +
          `FROM exporters e WHERE ${inExporter}\nORDER BY e.records_per_second DESC`,
        { units: { loss_ratio: 'percentunit', silent_seconds: 's' } },
      ),
      panel(
        'bargauge',
        'Records/s by exporter',
        { x: 0, y: 12, w: 12, h: 8 },
        [
          sqlTarget(
            "SELECT host(e.address) || ' #' || e.observation_domain AS exporter, e.records_per_second\n" +
              `FROM exporters e WHERE ${inExporter} ORDER BY 2 DESC LIMIT 30`,
            'table',
          ),
        ],
        {
          options: {
            reduceOptions: { calcs: ['lastNotNull'], fields: '/^records_per_second$/', values: true },
          },
          fieldConfig: { defaults: { unit: 'short' }, overrides: [] },
        },
      ),
      table(
        'Devices behind each exporter',
        { x: 12, y: 12, w: 12, h: 8 },
        'SELECT host(d.exporter) AS exporter, count(*) AS devices, count(*) FILTER (WHERE d.mac IS NOT NULL)' +
          ' AS with_mac,\n  count(*) FILTER (WHERE d.vlan IS NOT NULL) AS with_vlan, max(d.last_seen) AS last_seen\n' +
          'FROM devices d WHERE d.exporter IS NOT NULL AND host(d.exporter) IN ($exporter)\nGROUP BY 1 ORDER BY 2 DESC',
      ),
      timeseries(
        'Export packets/s by version (collectors)',
        { x: 0, y: 20, w: 12, h: 8 },
        [
          promTarget(
            'sum by (version) (rate(wardwatch_collector_packets_total[$__rate_interval]))',
            'v{{version}}',
          ),
        ],
        'pps',
      ),
      timeseries(
        'Sequence loss by exporter (collectors)',
        { x: 0, y: 28, w: 12, h: 8 },
        [
          promTarget(
            'sum by (exporter) (rate(wardwatch_collector_sequence_lost_total[$__rate_interval]))',
            '{{exporter}}',
          ),
        ],
        'short',
      ),
      timeseries(
        'Templates and held data sets (collectors)',
        { x: 12, y: 28, w: 12, h: 8 },
        [
          promTarget('sum(wardwatch_collector_templates)', 'templates', 'A'),
          promTarget('sum(wardwatch_collector_held_sets)', 'held data sets', 'B'),
          promTarget(
            'sum(rate(wardwatch_collector_unknown_template_sets_total[$__rate_interval]))',
            'data sets before their template /s',
            'C',
          ),
        ],
        'short',
      ),
      timeseries(
        'Undecodable packets/s by reason',
        { x: 12, y: 20, w: 12, h: 8 },
        [
          promTarget(
            'sum by (reason) (rate(wardwatch_collector_packets_dropped_total[$__rate_interval]))',
            '{{reason}}',
          ),
        ],
        'pps',
      ),
    ],
    [sqlVariable('exporter', 'Exporter', 'SELECT DISTINCT host(address) FROM exporters ORDER BY 1', true)],
  );
}

function pipeline(): Json {
  nextId = 1;
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

/** Every dashboard, by file name. */
export function buildDashboards(): Record<string, Json> {
  return {
    'fleet-overview.json': fleet(),
    'device-drilldown.json': device(),
    'exporter-health.json': exporters(),
    'pipeline-health.json': pipeline(),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'dashboards');
  for (const [name, json] of Object.entries(buildDashboards())) {
    writeFileSync(join(dir, name), `${JSON.stringify(json, null, 2)}\n`);
    console.log(`wrote ${join(dir, name)}`);
  }
}
