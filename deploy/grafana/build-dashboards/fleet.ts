// Builds fleet-overview.json: the whole fleet at a glance.
import {
  CLASS,
  dashboard,
  type Json,
  panel,
  resetPanelIds,
  SEVERITY_ORDER,
  sqlTarget,
  sqlVariable,
  stat,
  table,
  timeseries,
} from './panels.ts';

/** The fleet dashboard. */
export function fleet(): Json {
  resetPanelIds();
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
