import fs from 'node:fs';
import { migrate, openDatabase } from '../packages/storage/src/index.ts';
const schema = 'an_replay_tmp3';
const db = await openDatabase({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/test', schema, poolSize: 1 });
await db.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
await db.pool.query(`CREATE SCHEMA ${schema}`);
await migrate(db);
const d = JSON.parse(fs.readFileSync('/tmp/an-tools/dump-devices-0.json', 'utf8'));
const c = await db.pool.connect();
for (const trig of [true, false, true, false]) {
  await c.query('BEGIN');
  if (!trig) await c.query('ALTER TABLE devices DISABLE TRIGGER devices_new');
  const r = await c.query(`EXPLAIN (ANALYZE) ${d.sql}`, d.params);
  console.log('devices create, trigger', trig, r.rows.map((x) => x['QUERY PLAN']).filter((l: string) => /Trigger|Execution|Tuples/.test(l)).join(' | '));
  await c.query('ROLLBACK');
}
// Alerts: 15k new alerts (as in the bench's first commit: external_contact of internal-only classes), then 15k updates.
const n = 15000;
const ips = Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
const sql = `INSERT INTO alerts AS a (device_ip, kind, severity, title, evidence, first_seen, last_seen)
  SELECT u.d, 'external_contact', 'high', 't', '{"peers":[{"peer":"198.51.100.1","bytes":1000}]}'::jsonb, now(), now()
  FROM unnest($1::inet[]) AS u(d)
  ON CONFLICT (device_ip, kind) WHERE status <> 'resolved' DO UPDATE SET title = EXCLUDED.title, evidence = EXCLUDED.evidence,
    last_seen = GREATEST(a.last_seen, EXCLUDED.last_seen), occurrences = a.occurrences + 1, updated_at = now()`;
for (const trig of [true, false, true, false]) {
  await c.query('BEGIN');
  if (!trig) await c.query('ALTER TABLE alerts DISABLE TRIGGER alerts_events');
  let t = performance.now();
  await c.query(sql, [ips]);
  const ins = performance.now() - t;
  t = performance.now();
  await c.query(sql, [ips]);
  const upd = performance.now() - t;
  console.log(`alerts x${n}, trigger ${trig}: insert ${Math.round(ins)} ms, update ${Math.round(upd)} ms`);
  await c.query('ROLLBACK');
}
c.release();
await db.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
await db.close();
