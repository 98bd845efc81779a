import type { DeviceModel } from '../model/device-model.ts';
import type { Classification } from '../signatures.ts';
import { detectState } from './detect-state.ts';
import { RISK } from './risk.ts';
import { ts } from './sql.ts';
import type { Statement } from './statements.ts';

// The devices rows: inventory counters (deltas added), model columns, and (when due) risk and class.

/**
 * Plans the devices writes: classification and risk ride on the same statement as the counters (one
 * row version per device and commit): one statement for the devices whose class and risk stay, one for
 * those whose risk is recomputed, one for those reclassified (their risk is recomputed too); each split
 * into an `UPDATE` of the rows known to exist and an upsert of the others.
 */
export function planDevices(
  out: Statement[],
  ds: DeviceModel[],
  classifications: Array<[DeviceModel, Classification]>,
  risk: Map<string, number>,
): number {
  if (ds.length === 0) return 0;
  const classified = new Map<DeviceModel, Classification>(classifications);
  // [withRisk, withClass] groups, each split into rows known to exist (UPDATE) and the others (upsert).
  const groups: Array<[boolean, boolean, DeviceModel[], DeviceModel[]]> = [
    [false, false, [], []],
    [true, false, [], []],
    [true, true, [], []],
  ];
  for (const m of ds) {
    const g = classified.has(m) ? groups[2]! : risk.has(m.ip) ? groups[1]! : groups[0]!;
    (m.stored ? g[2] : g[3]).push(m);
  }
  for (const [withRisk, withClass, stored, fresh] of groups) {
    if (stored.length > 0) writeDevices(out, stored, classified, risk, withRisk, withClass, true);
    if (fresh.length > 0) writeDevices(out, fresh, classified, risk, withRisk, withClass, false);
  }
  return ds.length;
}

/**
 * Writes the inventory and model columns of `ds` (deltas added to the stored counters), with their risk
 * (`withRisk`: recomputed from `risk`'s class criticality and the open alerts) and class fields
 * (`withClass`: from `classified`); otherwise those columns keep their stored (or default) values.
 * `stored`: every row is known to exist (loaded or committed by this worker), so a plain
 * `UPDATE ... FROM unnest` that must touch them all (no speculative insertion, no tuple-lock WAL
 * record, as for profiles and rollups); else an upsert.
 */
function writeDevices(
  out: Statement[],
  ds: DeviceModel[],
  classified: Map<DeviceModel, Classification>,
  risk: Map<string, number>,
  withRisk: boolean,
  withClass: boolean,
  stored: boolean,
): void {
  const n = ds.length;
  const ip = new Array<string>(n);
  const fs = new Array<number>(n);
  const ls = new Array<number>(n);
  const bs = new Array<number>(n);
  const ps = new Array<number>(n);
  const fls = new Array<number>(n);
  const br = new Array<number>(n);
  const pr = new Array<number>(n);
  const flr = new Array<number>(n);
  const mac = new Array<string>(n);
  const vlan = new Array<number>(n);
  const exp = new Array<string>(n);
  const inIf = new Array<number>(n);
  const part = new Array<number>(n);
  const la = new Array<number>(n);
  const lsent = new Array<number>(n);
  const gap = new Array<number>(n);
  const lsm = new Array<number>(n);
  const bt = new Array<number>(n);
  const det = new Array<string | null>(n);
  const rb = new Array<number>(n);
  const cls = new Array<string>(n);
  const conf = new Array<number>(n);
  const ev = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const m = ds[i]!;
    ip[i] = m.ip;
    fs[i] = m.firstSeen;
    ls[i] = m.lastSeen;
    bs[i] = m.bytesSent;
    ps[i] = m.packetsSent;
    fls[i] = m.flowsSent;
    br[i] = m.bytesReceived;
    pr[i] = m.packetsReceived;
    flr[i] = m.flowsReceived;
    mac[i] = m.mac;
    vlan[i] = m.vlan;
    exp[i] = m.exporter;
    inIf[i] = m.inputIf;
    part[i] = m.partition;
    la[i] = m.learnedAt;
    lsent[i] = m.lastSent;
    gap[i] = m.maxSendGap;
    lsm[i] = m.learnedSamples;
    bt[i] = m.baselineThrough;
    det[i] = detectState(m);
    if (withRisk) rb[i] = risk.get(m.ip) ?? 0;
    if (withClass) {
      const c = classified.get(m)!;
      cls[i] = c.class;
      conf[i] = c.confidence;
      ev[i] = JSON.stringify(c.evidence);
    }
  }
  const params = [
    ip,
    fs,
    ls,
    bs,
    ps,
    fls,
    br,
    pr,
    flr,
    mac,
    vlan,
    exp,
    inIf,
    part,
    la,
    lsent,
    gap,
    bt,
    det,
    lsm,
  ];
  let cols = '';
  let vals = '';
  let types = '';
  let names = '';
  let sets = '';
  if (withRisk) {
    params.push(rb);
    types += `, $${params.length}::int[]`;
    names += ', rb';
    cols += ', risk';
    vals += `, ${RISK}`;
    sets += ',\n         risk = EXCLUDED.risk';
  }
  if (withClass) {
    params.push(cls, conf, ev);
    const k = params.length;
    types += `, $${k - 2}::text[], $${k - 1}::real[], $${k}::text[]`;
    names += ', cls, conf, ev';
    cols += ', class, class_confidence, class_evidence';
    vals += ', u.cls, u.conf, u.ev::jsonb';
    sets +=
      ',\n         class = EXCLUDED.class, class_confidence = EXCLUDED.class_confidence, class_evidence = EXCLUDED.class_evidence';
  }
  const unnest = `unnest($1::inet[], $2::float8[], $3::float8[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
       $8::bigint[], $9::bigint[], $10::text[], $11::int[], $12::text[], $13::int[], $14::int[], $15::float8[],
       $16::float8[], $17::bigint[], $18::float8[], $19::text[], $20::bigint[]${types})
       AS u(ip, fs, ls, bs, ps, fls, br, pr, flr, mac, vlan, exp, inif, part, la, lsent, gap, bt, det, lsm${names})`;
  if (stored) {
    out.push({
      text: `UPDATE devices AS d SET
       first_seen = LEAST(d.first_seen, to_timestamp(u.fs / 1000.0)),
       last_seen = GREATEST(d.last_seen, to_timestamp(u.ls / 1000.0)),
       bytes_sent = d.bytes_sent + u.bs,
       packets_sent = d.packets_sent + u.ps,
       flows_sent = d.flows_sent + u.fls,
       bytes_received = d.bytes_received + u.br,
       packets_received = d.packets_received + u.pr,
       flows_received = d.flows_received + u.flr,
       mac = COALESCE(NULLIF(u.mac, '')::macaddr, d.mac),
       vlan = COALESCE(NULLIF(u.vlan, 0), d.vlan),
       exporter = COALESCE(NULLIF(u.exp, '')::inet, d.exporter),
       input_if = COALESCE(NULLIF(u.inif, 0), d.input_if),
       kafka_partition = u.part,
       learned_at = to_timestamp(u.la / 1000.0),
       last_sent = ${ts('u.lsent')},
       max_send_gap_ms = u.gap,
       learned_samples = u.lsm,
       baseline_through = ${ts('u.bt')},
       detect_state = u.det::jsonb${withRisk ? `,\n       risk = ${RISK}` : ''}${
         withClass ? ',\n       class = u.cls, class_confidence = u.conf, class_evidence = u.ev::jsonb' : ''
       },
       updated_at = now()
     FROM ${unnest}
     WHERE d.ip = u.ip`,
      columns: params,
      expect: n,
    });
    return;
  }
  out.push({
    text: `INSERT INTO devices AS d (ip, first_seen, last_seen, bytes_sent, packets_sent, flows_sent, bytes_received,
       packets_received, flows_received, mac, vlan, exporter, input_if, kafka_partition, learned_at, last_sent,
       max_send_gap_ms, baseline_through, detect_state, learned_samples${cols})
     SELECT u.ip, to_timestamp(u.fs / 1000.0), to_timestamp(u.ls / 1000.0), u.bs, u.ps, u.fls, u.br, u.pr, u.flr,
       NULLIF(u.mac, '')::macaddr, NULLIF(u.vlan, 0), NULLIF(u.exp, '')::inet, NULLIF(u.inif, 0), u.part,
       to_timestamp(u.la / 1000.0), ${ts('u.lsent')}, u.gap, ${ts('u.bt')}, u.det::jsonb, u.lsm${vals}
     FROM ${unnest}
     ON CONFLICT (ip) DO UPDATE SET
       first_seen = LEAST(d.first_seen, EXCLUDED.first_seen),
       last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen),
       bytes_sent = d.bytes_sent + EXCLUDED.bytes_sent,
       packets_sent = d.packets_sent + EXCLUDED.packets_sent,
       flows_sent = d.flows_sent + EXCLUDED.flows_sent,
       bytes_received = d.bytes_received + EXCLUDED.bytes_received,
       packets_received = d.packets_received + EXCLUDED.packets_received,
       flows_received = d.flows_received + EXCLUDED.flows_received,
       mac = COALESCE(EXCLUDED.mac, d.mac),
       vlan = COALESCE(EXCLUDED.vlan, d.vlan),
       exporter = COALESCE(EXCLUDED.exporter, d.exporter),
       input_if = COALESCE(EXCLUDED.input_if, d.input_if),
       kafka_partition = EXCLUDED.kafka_partition,
       learned_at = EXCLUDED.learned_at,
       last_sent = EXCLUDED.last_sent,
       max_send_gap_ms = EXCLUDED.max_send_gap_ms,
       learned_samples = EXCLUDED.learned_samples,
       baseline_through = EXCLUDED.baseline_through,
       detect_state = EXCLUDED.detect_state${sets},
       updated_at = now()`,
    columns: params,
  });
}
