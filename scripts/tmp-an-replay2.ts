import fs from 'node:fs';
import { openDatabase } from '../packages/storage/src/index.ts';
const schema = 'an_replay_tmp';
const db = await openDatabase({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/test', schema, poolSize: 1 });
const L = (n: string) => JSON.parse(fs.readFileSync(`/tmp/an-tools/${n}`, 'utf8'));
const pairs: Array<[string, string, string]> = [
  ['devices', 'dump-devices-upd-14.json', 'dump-devices-4.json'],
  ['profiles', 'dump-device_profiles-upd-15.json', 'dump-device_profiles-11.json'],
  ['rollups', 'dump-device_rollups_minute-upd-17.json', 'dump-device_rollups_minute-13.json'],
];
const c = await db.pool.connect();
for (const [name, updF, insF] of pairs) {
  const upd = L(updF);
  const ins = L(insF);
  for (let rep = 0; rep < 2; rep++) {
    for (const [kind, sql] of [['update', upd.sql], ['upsert', ins.sql]]) {
      for (const wm of ['', "SET LOCAL work_mem = '64MB'"]) {
        await c.query('BEGIN');
        if (wm) await c.query(wm);
        const t = performance.now();
        await c.query(sql, upd.params);
        console.log(name, kind, wm ? 'wm64' : 'wm4', Math.round(performance.now() - t), 'ms');
        await c.query('ROLLBACK');
      }
    }
  }
}
c.release();
await db.close();
