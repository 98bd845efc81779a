import type { AlertDraft, Severity } from '../detect.ts';
import type { Statement } from './statements.ts';

// Alerts: drafts merged per device and kind, upserted into the open alert of that kind, and counted
// per minute of flow time.

/** Merges drafts of the same device and kind (one statement may touch a row only once). */
export function mergeAlerts(alerts: AlertDraft[]): AlertDraft[] {
  const rank: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };
  const byKey = new Map<string, AlertDraft>();
  for (const a of alerts) {
    const key = `${a.device}|${a.kind}`;
    const prev = byKey.get(key);
    if (!prev) byKey.set(key, { ...a });
    else {
      prev.first = Math.min(prev.first, a.first);
      prev.last = Math.max(prev.last, a.last);
      if (rank[a.severity] > rank[prev.severity]) prev.severity = a.severity;
      prev.title = a.title;
      prev.evidence = a.evidence;
    }
  }
  return [...byKey.values()];
}

/** Plans the alert upserts and the alert rollups; returns the rows they write. */
export function planAlerts(out: Statement[], alerts: AlertDraft[]): number {
  if (alerts.length === 0) return 0;
  const as = mergeAlerts(alerts);
  out.push({
    text: `INSERT INTO alerts AS a (device_ip, kind, severity, title, evidence, first_seen, last_seen)
     SELECT u.d, u.kind, u.sev, u.title, u.ev::jsonb, to_timestamp(u.f / 1000.0), to_timestamp(u.l / 1000.0)
     FROM unnest($1::inet[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[])
       AS u(d, kind, sev, title, ev, f, l)
     ON CONFLICT (device_ip, kind) WHERE status <> 'resolved' DO UPDATE SET
       severity = CASE WHEN array_position(ARRAY['info','low','medium','high','critical'], EXCLUDED.severity)
         > array_position(ARRAY['info','low','medium','high','critical'], a.severity) THEN EXCLUDED.severity
         ELSE a.severity END,
       title = EXCLUDED.title,
       evidence = EXCLUDED.evidence,
       first_seen = LEAST(a.first_seen, EXCLUDED.first_seen),
       last_seen = GREATEST(a.last_seen, EXCLUDED.last_seen),
       occurrences = a.occurrences + 1,
       updated_at = now()`,
    values: [
      as.map((a) => a.device),
      as.map((a) => a.kind),
      as.map((a) => a.severity),
      as.map((a) => a.title),
      as.map((a) => JSON.stringify(a.evidence)),
      as.map((a) => a.first),
      as.map((a) => a.last),
    ],
  });
  // Alerts over time, per minute of the evidence's flow time.
  const counts = new Map<string, number>();
  for (const a of alerts) {
    const minute = a.last - (a.last % 60_000);
    const key = `${minute}|${a.kind}|${a.severity}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const keys = [...counts.keys()].map((k) => k.split('|'));
  out.push({
    text: `INSERT INTO alert_rollups_minute AS r (minute, kind, severity, count)
     SELECT to_timestamp(u.m / 1000.0), u.kind, u.sev, u.c
     FROM unnest($1::float8[], $2::text[], $3::text[], $4::bigint[]) AS u(m, kind, sev, c)
     ON CONFLICT (minute, kind, severity) DO UPDATE SET count = r.count + EXCLUDED.count`,
    values: [
      keys.map((k) => Number(k[0])),
      keys.map((k) => k[1]),
      keys.map((k) => k[2]),
      [...counts.values()],
    ],
  });
  return as.length + counts.size;
}
