// Builds device-drilldown.json: one device in detail.
import {
  CLASS,
  dashboard,
  type Json,
  resetPanelIds,
  sqlTarget,
  sqlVariable,
  stat,
  table,
  timeseries,
} from './panels.ts';

/** The device dashboard. */
export function device(): Json {
  resetPanelIds();
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
