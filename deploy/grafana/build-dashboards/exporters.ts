// Builds exporter-health.json: the routers and probes that send flows.
import {
  dashboard,
  type Json,
  panel,
  promTarget,
  resetPanelIds,
  sqlTarget,
  sqlVariable,
  stat,
  table,
  timeseries,
} from './panels.ts';

/** The exporters dashboard. */
export function exporters(): Json {
  resetPanelIds();
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
