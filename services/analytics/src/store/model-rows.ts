import { type DeviceModel, DIRECTION_NAMES } from '../model/device-model.ts';
import type { Statement } from './statements.ts';

// The model rows of the changed devices (profiles, baselines, minute rollups, MAC addresses): every
// changed row in one statement each (two for profiles and rollups: UPDATE of the rows known to exist,
// upsert of the others).

/** Column arrays of the profile statements (see PROFILE_COLUMNS). */
type ProfileColumns = [
  string[],
  string[],
  number[],
  number[],
  string[],
  boolean[],
  number[],
  number[],
  number[],
  number[],
  number[],
  number[],
];
const profileColumns = (): ProfileColumns => [[], [], [], [], [], [], [], [], [], [], [], []];
/** Column arrays of the rollup statements (see ROLLUP_COLUMNS). */
type RollupColumns = [string[], number[], number[], number[], number[], number[], number[], number[]];
const rollupColumns = (): RollupColumns => [[], [], [], [], [], [], [], []];

/** Plans the profile, baseline, rollup and MAC address writes of `ds`; returns the rows they write. */
export function planModelRows(out: Statement[], ds: DeviceModel[]): number {
  return planProfiles(out, ds) + planBaselines(out, ds) + planRollups(out, ds) + planAddresses(out, ds);
}

function planProfiles(out: Statement[], ds: DeviceModel[]): number {
  const pk = profileColumns();
  const pn = profileColumns();
  for (const m of ds) {
    for (const e of m.profile.values()) {
      if (!e.dirty) continue;
      const c = e.stored ? pk : pn;
      c[0].push(m.ip);
      c[1].push(e.peer);
      c[2].push(e.port);
      c[3].push(e.proto);
      c[4].push(DIRECTION_NAMES[e.dir]!);
      c[5].push(e.internal);
      c[6].push(e.flows);
      c[7].push(e.bytesOut);
      c[8].push(e.bytesIn);
      c[9].push(e.packets);
      c[10].push(e.first);
      c[11].push(e.last);
    }
  }
  let rows = 0;
  const PROFILE_COLUMNS = `unnest($1::inet[], $2::text[], $3::int[], $4::int2[], $5::text[], $6::bool[], $7::bigint[],
    $8::bigint[], $9::bigint[], $10::bigint[], $11::float8[], $12::float8[])
    AS u(d, peer, port, proto, dir, internal, flows, bo, bi, pk, f, l)`;
  if (pk[0].length > 0) {
    out.push({
      text: `UPDATE device_profiles AS p SET
         flows = p.flows + u.flows,
         bytes_out = p.bytes_out + u.bo,
         bytes_in = p.bytes_in + u.bi,
         packets = p.packets + u.pk,
         first_seen = LEAST(p.first_seen, to_timestamp(u.f / 1000.0)),
         last_seen = GREATEST(p.last_seen, to_timestamp(u.l / 1000.0))
       FROM ${PROFILE_COLUMNS}
       WHERE p.device_ip = u.d AND p.peer = u.peer::cidr AND p.service_port = u.port AND p.protocol = u.proto
         AND p.direction = u.dir`,
      columns: pk,
      expect: pk[0].length,
    });
    rows += pk[0].length;
  }
  if (pn[0].length > 0) {
    out.push({
      text: `INSERT INTO device_profiles AS p (device_ip, peer, service_port, protocol, direction, peer_internal, flows,
         bytes_out, bytes_in, packets, first_seen, last_seen)
       SELECT u.d, u.peer::cidr, u.port, u.proto, u.dir, u.internal, u.flows, u.bo, u.bi, u.pk,
         to_timestamp(u.f / 1000.0), to_timestamp(u.l / 1000.0)
       FROM ${PROFILE_COLUMNS}
       ON CONFLICT (device_ip, peer, service_port, protocol, direction) DO UPDATE SET
         flows = p.flows + EXCLUDED.flows,
         bytes_out = p.bytes_out + EXCLUDED.bytes_out,
         bytes_in = p.bytes_in + EXCLUDED.bytes_in,
         packets = p.packets + EXCLUDED.packets,
         first_seen = LEAST(p.first_seen, EXCLUDED.first_seen),
         last_seen = GREATEST(p.last_seen, EXCLUDED.last_seen)`,
      columns: pn,
    });
    rows += pn[0].length;
  }
  return rows;
}

function planBaselines(out: Statement[], ds: DeviceModel[]): number {
  const bd: string[] = [];
  const bMetric: string[] = [];
  const bSlot: number[] = [];
  const bN: number[] = [];
  const bMean: number[] = [];
  const bM2: number[] = [];
  const bLast: number[] = [];
  for (const m of ds) {
    for (const [key, s] of m.stats) {
      if (!s.dirty) continue;
      const bar = key.indexOf('|');
      bd.push(m.ip);
      bMetric.push(key.slice(0, bar));
      bSlot.push(Number(key.slice(bar + 1)));
      bN.push(s.n);
      bMean.push(s.mean);
      bM2.push(s.m2);
      bLast.push(s.last);
    }
  }
  if (bd.length > 0) {
    out.push({
      text: `INSERT INTO device_baselines AS b (device_ip, metric, slot, n, mean, m2, last_bucket)
       SELECT u.d, u.metric, u.slot, u.n, u.mean, u.m2, to_timestamp(u.l / 1000.0)
       FROM unnest($1::inet[], $2::text[], $3::int2[], $4::bigint[], $5::float8[], $6::float8[], $7::float8[])
         AS u(d, metric, slot, n, mean, m2, l)
       ON CONFLICT (device_ip, metric, slot) DO UPDATE SET
         n = EXCLUDED.n, mean = EXCLUDED.mean, m2 = EXCLUDED.m2, last_bucket = EXCLUDED.last_bucket`,
      columns: [bd, bMetric, bSlot, bN, bMean, bM2, bLast],
    });
    return bd.length;
  }
  return 0;
}

function planRollups(out: Statement[], ds: DeviceModel[]): number {
  const rk = rollupColumns();
  const rn = rollupColumns();
  for (const m of ds) {
    for (const [minute, a] of m.minutes) {
      const c = m.rollupMinutes.has(minute) ? rk : rn;
      c[0].push(m.ip);
      c[1].push(minute);
      c[2].push(a.bytesOut);
      c[3].push(a.bytesIn);
      c[4].push(a.packetsOut);
      c[5].push(a.packetsIn);
      c[6].push(a.flows);
      c[7].push(a.extOut);
    }
  }
  let rows = 0;
  const ROLLUP_COLUMNS = `unnest($1::inet[], $2::float8[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
    $7::bigint[], $8::bigint[]) AS u(d, m, bo, bi, po, pi, fl, eo)`;
  if (rk[0].length > 0) {
    out.push({
      text: `UPDATE device_rollups_minute AS r SET
         bytes_out = r.bytes_out + u.bo,
         bytes_in = r.bytes_in + u.bi,
         packets_out = r.packets_out + u.po,
         packets_in = r.packets_in + u.pi,
         flows = r.flows + u.fl,
         ext_bytes_out = r.ext_bytes_out + u.eo
       FROM ${ROLLUP_COLUMNS}
       WHERE r.device_ip = u.d AND r.minute = to_timestamp(u.m / 1000.0)`,
      columns: rk,
      expect: rk[0].length,
    });
    rows += rk[0].length;
  }
  if (rn[0].length > 0) {
    out.push({
      text: `INSERT INTO device_rollups_minute AS r (device_ip, minute, bytes_out, bytes_in, packets_out, packets_in, flows,
         ext_bytes_out)
       SELECT u.d, to_timestamp(u.m / 1000.0), u.bo, u.bi, u.po, u.pi, u.fl, u.eo
       FROM ${ROLLUP_COLUMNS}
       ON CONFLICT (device_ip, minute) DO UPDATE SET
         bytes_out = r.bytes_out + EXCLUDED.bytes_out,
         bytes_in = r.bytes_in + EXCLUDED.bytes_in,
         packets_out = r.packets_out + EXCLUDED.packets_out,
         packets_in = r.packets_in + EXCLUDED.packets_in,
         flows = r.flows + EXCLUDED.flows,
         ext_bytes_out = r.ext_bytes_out + EXCLUDED.ext_bytes_out`,
      columns: rn,
    });
    rows += rn[0].length;
  }
  return rows;
}

function planAddresses(out: Statement[], ds: DeviceModel[]): number {
  const aMac: string[] = [];
  const aIp: string[] = [];
  const aF: number[] = [];
  const aL: number[] = [];
  for (const m of ds) {
    if (m.macs) {
      for (const [mac, [f, l]] of m.macs) {
        aMac.push(mac);
        aIp.push(m.ip);
        aF.push(f);
        aL.push(l);
      }
    }
  }
  if (aMac.length > 0) {
    out.push({
      text: `INSERT INTO device_addresses AS a (mac, ip, first_seen, last_seen)
       SELECT u.mac::macaddr, u.ip, to_timestamp(u.f / 1000.0), to_timestamp(u.l / 1000.0)
       FROM unnest($1::text[], $2::inet[], $3::float8[], $4::float8[]) AS u(mac, ip, f, l)
       ON CONFLICT (mac, ip) DO UPDATE SET
         first_seen = LEAST(a.first_seen, EXCLUDED.first_seen), last_seen = GREATEST(a.last_seen, EXCLUDED.last_seen)`,
      columns: [aMac, aIp, aF, aL],
    });
    return aMac.length;
  }
  return 0;
}
