import fs from 'node:fs';
import { migrate, openDatabase } from '../packages/storage/src/index.ts';
const schema = 'an_replay_tmp';
const db = await openDatabase({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/test', schema, poolSize: 1 });
const load = (n: string) => JSON.parse(fs.readFileSync(`/tmp/an-tools/${n}`, 'utf8'));
const files = fs.readdirSync('/tmp/an-tools').filter((f) => f.startsWith('dump-')).sort((a, b) => Number(a.match(/-(\d+)\./)![1]) - Number(b.match(/-(\d+)\./)![1]));
if (process.argv[2] === 'setup') {
  await db.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.pool.query(`CREATE SCHEMA ${schema}`);
  await migrate(db);
  if (process.env.FF) for (const t of ['devices', 'device_profiles', 'device_rollups_minute']) await db.pool.query(`ALTER TABLE ${t} SET (fillfactor = ${process.env.FF})`);
  for (const f of files.filter((f) => Number(f.match(/-(\d+)\./)![1]) < 9)) { const d = load(f); await db.pool.query(d.sql, d.params); }
  if (process.env.VAC) await db.pool.query('VACUUM ANALYZE');
} else {
  const c = await db.pool.connect();
  for (const f of files.filter((f) => Number(f.match(/-(\d+)\./)![1]) >= 9)) {
    const d = load(f);
    await c.query('BEGIN');
    const t = performance.now();
    const r = await c.query(`EXPLAIN (ANALYZE, BUFFERS, WAL) ${d.sql}`, d.params);
    console.log(f, Math.round(performance.now() - t), 'ms');
    console.log(r.rows.map((x) => x['QUERY PLAN']).filter((l: string) => !/^ *(Buffers: temp|Planning)/.test(l)).join('\n'));
    await c.query('ROLLBACK');
  }
  c.release();
}
await db.close();
