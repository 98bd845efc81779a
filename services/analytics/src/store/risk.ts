import type { Statement } from './statements.ts';

// Device risk: 0..100, its class's criticality plus points per open alert by severity.

/** SQL: points of one alert (`a`) by severity. */
export const SEVERITY_POINTS = `CASE a.severity WHEN 'critical' THEN 40 WHEN 'high' THEN 25 WHEN 'medium' THEN 10
  WHEN 'low' THEN 5 ELSE 0 END`;

/** SQL: Risk 0..100 of `u.ip`: its class's criticality (`u.rb`) plus points per open alert by severity. */
export const RISK = `LEAST(100, u.rb + COALESCE(
  (SELECT sum(${SEVERITY_POINTS}) FROM alerts a WHERE a.device_ip = u.ip AND a.status <> 'resolved'), 0))`;

/**
 * Plans the risk update of devices not written by the devices statements (silent ones): 0..100, the
 * class's criticality (`risk`) plus points per open alert by severity.
 */
export function planRisk(out: Statement[], risk: Map<string, number>, written: ReadonlySet<string>): void {
  const rest = [...risk].filter(([ip]) => !written.has(ip));
  if (rest.length === 0) return;
  out.push({
    text: `UPDATE devices AS d SET risk = LEAST(100, u.base + COALESCE(
       (SELECT sum(${SEVERITY_POINTS}) FROM alerts a WHERE a.device_ip = d.ip AND a.status <> 'resolved'), 0))
     FROM unnest($1::inet[], $2::int[]) AS u(ip, base) WHERE d.ip = u.ip`,
    values: [rest.map(([ip]) => ip), rest.map(([, base]) => base)],
  });
}
