import type pg from 'pg';
import type { AlertDraft, QuarantineRequest, Severity } from './detect.ts';
import {
  addProfileEntry,
  type Bucket,
  bucketAt,
  createDeviceModel,
  type DetectWindow,
  type DeviceModel,
  DIRECTION_NAMES,
  INBOUND,
  OUTBOUND,
  type ProfileEntry,
} from './model.ts';
import type { Classification } from './signatures.ts';

// Reads device models from PostgreSQL and writes a batch's changes in set-based statements (unnest of
// column arrays; times travel as epoch milliseconds). The caller runs the writes in one transaction
// together with the consumed offsets.

/** A partition's position as stored: next offset to consume and newest flow time seen. */
export interface StoredOffset {
  nextOffset: bigint;
  watermark: number;
}

/** Thrown when another worker committed the partition since this one read it (a zombie after a rebalance). */
export class FencedError extends Error {
  readonly code = 'OFFSETS_FENCED';
  readonly retriable = true;
  constructor(readonly partition: number) {
    super(`partition ${partition} was committed by another worker; reloading`);
    this.name = 'FencedError';
  }
}

const SAFE_ELEMENT = /^[A-Za-z0-9.:/_+-]+$/;

/**
 * A PostgreSQL array literal for a column array (the statement casts it, e.g. `$1::bigint[]`). Much
 * cheaper than the driver's generic per-element conversion on the hot write path: numbers and plain
 * tokens (addresses, CIDRs, names) go in as they are; anything else is quoted and escaped.
 */
export function arrayLiteral(
  values: ReadonlyArray<string | number | boolean | null>,
  from = 0,
  to = values.length,
): string {
  let numeric = true;
  for (let i = from; i < to; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) >= 1e21) {
      numeric = false;
      break;
    }
  }
  // Finite numbers below 1e21 print without exponent or as a float8-readable exponent: join as they are.
  if (numeric) return `{${(from === 0 && to === values.length ? values : values.slice(from, to)).join(',')}}`;
  const parts = new Array<string>(to - from);
  for (let i = from; i < to; i++) {
    const v = values[i];
    const k = i - from;
    if (v === null || v === undefined) parts[k] = 'NULL';
    else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
      parts[k] = Math.abs(v) < 1e21 ? String(v) : v.toPrecision(17);
    } else if (typeof v === 'boolean') parts[k] = v ? 't' : 'f';
    else if (SAFE_ELEMENT.test(v) && (v.length !== 4 || v.toUpperCase() !== 'NULL')) parts[k] = v;
    else parts[k] = `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  }
  return `{${parts.join(',')}}`;
}

const ms = (col: string) => `(extract(epoch FROM ${col}) * 1000)::float8`;
const ts = (col: string) => `CASE WHEN ${col} > 0 THEN to_timestamp(${col} / 1000.0) END`;

/** Reads the stored offsets of the given partitions. */
export async function loadOffsets(
  db: pg.Pool | pg.PoolClient,
  groupId: string,
  topic: string,
  partitions: number[],
): Promise<Map<number, StoredOffset>> {
  const res = await db.query<{ partition: number; next_offset: string; wm: number | null }>(
    `SELECT partition, next_offset::text AS next_offset, ${ms('flow_watermark')} AS wm FROM analytics_offsets
     WHERE group_id = $1 AND topic = $2 AND partition = ANY($3::int[])`,
    [groupId, topic, partitions],
  );
  const out = new Map<number, StoredOffset>();
  for (const r of res.rows) out.set(r.partition, { nextOffset: BigInt(r.next_offset), watermark: r.wm ?? 0 });
  return out;
}

/**
 * Advances a partition's stored offset from `expected` (-1: none stored yet) to `next`; throws
 * FencedError when the stored offset is no longer `expected`. Run first in the batch's transaction.
 */
export async function commitOffset(
  client: pg.PoolClient,
  groupId: string,
  topic: string,
  partition: number,
  expected: bigint,
  next: bigint,
  watermark: number,
): Promise<void> {
  const res = await client.query(
    `INSERT INTO analytics_offsets AS o (group_id, topic, partition, next_offset, flow_watermark)
     VALUES ($1, $2, $3, $4::bigint, ${ts('$6::float8')})
     ON CONFLICT (group_id, topic, partition) DO UPDATE SET
       next_offset = EXCLUDED.next_offset,
       flow_watermark = GREATEST(o.flow_watermark, EXCLUDED.flow_watermark),
       updated_at = now()
     WHERE o.next_offset = $5::bigint
     RETURNING 1`,
    [groupId, topic, partition, next.toString(), expected.toString(), watermark],
  );
  if (res.rowCount !== 1) throw new FencedError(partition);
}

interface DeviceRow {
  ip: string;
  kafka_partition: number | null;
  first_seen: number;
  last_seen: number;
  learned_at: number | null;
  last_sent: number | null;
  max_send_gap_ms: number;
  baseline_through: number | null;
  detect_state: SerializedState | null;
  silence_reported: number | null;
  class: string;
  class_confidence: number;
  class_override: string | null;
}

/**
 * `devices.detect_state`: the open scan / lateral-movement window (absent when none), and the alert
 * kinds already raised for open baseline buckets (`buckets`: [bucket start, bits]), so a reloaded model
 * does not raise them again.
 */
interface SerializedState {
  start?: number;
  /** Host -> [port, latest time] pairs (a bare port, from before windows slid: the window's start). */
  probes?: Record<string, Array<[number, number] | number>>;
  admin?: Record<string, Array<[number, number] | number>>;
  reported?: Record<string, number>;
  buckets?: Array<[number, number]>;
}

function toWindow(s: SerializedState | null): DetectWindow | undefined {
  if (!s || typeof s.start !== 'number') return undefined;
  const start = s.start;
  const sets = (o: Record<string, Array<[number, number] | number>> | undefined) =>
    new Map(
      Object.entries(o ?? {}).map(([k, v]) => [
        k,
        new Map(v.map((x): [number, number] => (typeof x === 'number' ? [x, start] : x))),
      ]),
    );
  return {
    start: s.start,
    probes: sets(s.probes),
    admin: sets(s.admin),
    reported: s.reported ?? {},
    dirty: false,
  };
}

/** The detect state of a model as stored (NULL when there is none: the common case, no JSON built). */
function detectState(m: DeviceModel): string | null {
  let buckets: Array<[number, number]> | undefined;
  for (const b of m.buckets.values()) {
    if (b.reported === 0) continue;
    if (!buckets) buckets = [];
    buckets.push([b.start, b.reported]);
  }
  const w = m.window;
  const open = w !== undefined && (w.probes.size > 0 || w.admin.size > 0);
  if (!open && !buckets) return null;
  const state: SerializedState = {};
  if (open) {
    const obj = (x: Map<string, Map<number, number>>) =>
      Object.fromEntries([...x].map(([k, v]) => [k, [...v]]));
    state.start = w.start;
    state.probes = obj(w.probes);
    state.admin = obj(w.admin);
    state.reported = w.reported;
  }
  if (buckets) state.buckets = buckets;
  return JSON.stringify(state);
}

/**
 * Loads the stored models of the devices matching `where` ('ip': addresses; 'partition': every device
 * of those partitions), with their profiles, baselines and open baseline buckets (rebuilt from the
 * minute rollups after `baseline_through`). Addresses without a row are absent from the result.
 */
export async function loadModels(
  db: pg.Pool | pg.PoolClient,
  where: { ips: string[] } | { partitions: number[] },
  learningMs: number,
  bucketMs: number,
): Promise<Map<string, DeviceModel>> {
  const [cond, param] =
    'ips' in where
      ? ['d.ip = ANY($1::inet[])', where.ips]
      : ['d.kafka_partition = ANY($1::int[])', where.partitions];
  const devices = await db.query<DeviceRow>(
    `SELECT host(d.ip) AS ip, d.kafka_partition, ${ms('d.first_seen')} AS first_seen, ${ms('d.last_seen')} AS last_seen,
       ${ms('d.learned_at')} AS learned_at, ${ms('d.last_sent')} AS last_sent, d.max_send_gap_ms,
       ${ms('d.baseline_through')} AS baseline_through, d.detect_state, d.class, d.class_confidence, d.class_override,
       (SELECT ${ms("(a.evidence->>'lastSent')::timestamptz")} FROM alerts a
        WHERE a.device_ip = d.ip AND a.kind = 'device_silent' AND a.status <> 'resolved') AS silence_reported
     FROM devices d WHERE ${cond}`,
    [param],
  );
  const models = new Map<string, DeviceModel>();
  if (devices.rows.length === 0) return models;
  for (const r of devices.rows) {
    const m = createDeviceModel(r.ip, r.kafka_partition ?? -1);
    m.stored = true;
    m.firstSeen = r.first_seen;
    m.lastSeen = r.last_seen;
    m.learnedAt = r.learned_at ?? r.first_seen + learningMs;
    m.lastSent = r.last_sent ?? 0;
    m.maxSendGap = Number(r.max_send_gap_ms);
    m.baselineThrough = r.baseline_through ?? 0;
    m.window = toWindow(r.detect_state);
    // The silence the open device_silent alert reports (its evidence names the last sending): not again.
    m.silenceReported = r.silence_reported ?? 0;
    m.inferredClass = r.class;
    m.classConfidence = r.class_confidence;
    m.classOverride = r.class_override;
    models.set(r.ip, m);
  }
  const ips = [...models.keys()];
  const [profiles, baselines, rollups] = await Promise.all([
    db.query<{
      ip: string;
      peer: string;
      service_port: number;
      protocol: number;
      direction: string;
      peer_internal: boolean;
      first_seen: number;
      last_seen: number;
    }>(
      `SELECT host(device_ip) AS ip, peer::text AS peer, service_port, protocol, direction, peer_internal,
         ${ms('first_seen')} AS first_seen, ${ms('last_seen')} AS last_seen
       FROM device_profiles WHERE device_ip = ANY($1::inet[])`,
      [ips],
    ),
    db.query<{ ip: string; metric: string; slot: number; n: number; mean: number; m2: number; last: number }>(
      `SELECT host(device_ip) AS ip, metric, slot, n, mean, m2, ${ms('last_bucket')} AS last
       FROM device_baselines WHERE device_ip = ANY($1::inet[])`,
      [ips],
    ),
    db.query<{ ip: string; minute: number; bo: number; bi: number; pk: number; flows: number; eo: number }>(
      `SELECT host(r.device_ip) AS ip, ${ms('r.minute')} AS minute, r.bytes_out AS bo, r.bytes_in AS bi,
         r.packets_out + r.packets_in AS pk, r.flows, r.ext_bytes_out AS eo
       FROM device_rollups_minute r JOIN devices d ON d.ip = r.device_ip
       WHERE r.device_ip = ANY($1::inet[]) AND r.minute >= COALESCE(d.baseline_through, '-infinity')`,
      [ips],
    ),
  ]);
  for (const p of profiles.rows) {
    const m = models.get(p.ip);
    if (!m) continue;
    const slash = p.peer.indexOf('/');
    const bits = Number(p.peer.slice(slash + 1));
    const host = p.peer.slice(0, slash);
    const isHost = bits === 32 || bits === 128;
    const peerKey = isHost ? host : p.peer;
    const dir = p.direction === 'inbound' ? INBOUND : OUTBOUND;
    const key = `${peerKey}|${p.service_port}|${p.protocol}|${dir}`;
    const e: ProfileEntry = {
      key,
      peer: p.peer,
      port: p.service_port,
      proto: p.protocol,
      dir,
      internal: p.peer_internal,
      flows: 0,
      bytesOut: 0,
      bytesIn: 0,
      packets: 0,
      first: p.first_seen,
      last: p.last_seen,
      dirty: false,
      stored: true,
      rateMinute: 0,
      rateBytes: 0,
    };
    addProfileEntry(m, peerKey, e);
    if (isHost) m.peers.add(host);
  }
  for (const b of baselines.rows) {
    models.get(b.ip)?.stats.set(`${b.metric}|${b.slot}`, {
      n: Number(b.n),
      mean: b.mean,
      m2: b.m2,
      last: b.last,
      dirty: false,
    });
  }
  for (const r of rollups.rows) {
    const m = models.get(r.ip);
    if (!m) continue;
    m.rollupMinutes.add(r.minute);
    const b = bucketAt(m, r.minute, bucketMs);
    if (!b) continue;
    b.bytesOut += Number(r.bo);
    b.bytesIn += Number(r.bi);
    b.packets += Number(r.pk);
    b.flows += Number(r.flows);
    b.extOut += Number(r.eo);
  }
  // Alert kinds already raised for the open buckets.
  for (const r of devices.rows) {
    const reported = r.detect_state?.buckets;
    if (!Array.isArray(reported)) continue;
    const m = models.get(r.ip)!;
    for (const [start, bits] of reported) {
      const b = bucketAt(m, start, bucketMs);
      if (b) b.reported |= bits;
    }
  }
  // Distinct peers of an open bucket, approximated by the profile entries last seen within it; a host
  // peer by its address, as applying a record adds it (not its /32 or /128, which would count it twice).
  for (const m of models.values()) {
    if (m.buckets.size === 0) continue;
    for (const e of m.profile.values()) {
      const start = e.last - (e.last % bucketMs);
      const b: Bucket | undefined = m.buckets.get(start);
      if (!b) continue;
      const slash = e.peer.indexOf('/');
      const bits = e.peer.slice(slash + 1);
      b.peers.add(bits === '32' || bits === '128' ? e.peer.slice(0, slash) : e.peer);
    }
  }
  return models;
}

/** What one batch changes, gathered by the worker. */
export interface BatchWrites {
  devices: DeviceModel[];
  classifications: Array<[DeviceModel, Classification]>;
  alerts: AlertDraft[];
  quarantines: QuarantineRequest[];
  /** Risk base per device (class criticality) for devices whose risk must be recomputed. */
  risk: Map<string, number>;
}

const SEVERITY_POINTS = `CASE a.severity WHEN 'critical' THEN 40 WHEN 'high' THEN 25 WHEN 'medium' THEN 10
  WHEN 'low' THEN 5 ELSE 0 END`;

/** Merges drafts of the same device and kind (one statement may touch a row only once). */
function mergeAlerts(alerts: AlertDraft[]): AlertDraft[] {
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

/** Risk 0..100 of `u.ip`: its class's criticality (`u.rb`) plus points per open alert by severity. */
const RISK = `LEAST(100, u.rb + COALESCE(
  (SELECT sum(${SEVERITY_POINTS}) FROM alerts a WHERE a.device_ip = u.ip AND a.status <> 'resolved'), 0))`;

/**
 * Upserts the inventory and model columns of `ds` (deltas added to the stored counters), with their risk
 * (`withRisk`: recomputed from `risk`'s class criticality and the open alerts) and class fields
 * (`withClass`: from `classified`); otherwise those columns keep their stored (or default) values.
 */
function upsertDevices(
  out: Statement[],
  ds: DeviceModel[],
  classified: Map<DeviceModel, Classification>,
  risk: Map<string, number>,
  withRisk: boolean,
  withClass: boolean,
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
  const params = [ip, fs, ls, bs, ps, fls, br, pr, flr, mac, vlan, exp, inIf, part, la, lsent, gap, bt, det];
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
  out.push({
    text: `INSERT INTO devices AS d (ip, first_seen, last_seen, bytes_sent, packets_sent, flows_sent, bytes_received,
       packets_received, flows_received, mac, vlan, exporter, input_if, kafka_partition, learned_at, last_sent,
       max_send_gap_ms, baseline_through, detect_state${cols})
     SELECT u.ip, to_timestamp(u.fs / 1000.0), to_timestamp(u.ls / 1000.0), u.bs, u.ps, u.fls, u.br, u.pr, u.flr,
       NULLIF(u.mac, '')::macaddr, NULLIF(u.vlan, 0), NULLIF(u.exp, '')::inet, NULLIF(u.inif, 0), u.part,
       to_timestamp(u.la / 1000.0), ${ts('u.lsent')}, u.gap, ${ts('u.bt')}, u.det::jsonb${vals}
     FROM unnest($1::inet[], $2::float8[], $3::float8[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
       $8::bigint[], $9::bigint[], $10::text[], $11::int[], $12::text[], $13::int[], $14::int[], $15::float8[],
       $16::float8[], $17::bigint[], $18::float8[], $19::text[]${types})
       AS u(ip, fs, ls, bs, ps, fls, br, pr, flr, mac, vlan, exp, inif, part, la, lsent, gap, bt, det${names})
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
       baseline_through = EXCLUDED.baseline_through,
       detect_state = EXCLUDED.detect_state${sets},
       updated_at = now()`,
    columns: params,
  });
}

/** Runs a plan inside the caller's transaction. */
export async function runPlan(client: pg.PoolClient, plan: BatchPlan): Promise<void> {
  for (const st of plan.statements) {
    let touched = 0;
    if (st.columns === undefined) touched = (await client.query(st.text, st.values)).rowCount ?? 0;
    else {
      const rows = st.columns[0]?.length ?? 0;
      for (let from = 0; from < rows; from += CHUNK_ROWS) {
        const to = Math.min(rows, from + CHUNK_ROWS);
        const values = st.columns.map((c) => arrayLiteral(c, from, to));
        touched += (await client.query(st.text, values)).rowCount ?? 0;
      }
    }
    if (st.expect !== undefined && touched !== st.expect)
      throw new Error('model rows missing from the database; reloading');
  }
}

/** Column arrays of the profile statements (see PROFILE_COLUMNS in writeBatch). */
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
/** Column arrays of the rollup statements (see ROLLUP_COLUMNS in writeBatch). */
type RollupColumns = [string[], number[], number[], number[], number[], number[], number[], number[]];
const rollupColumns = (): RollupColumns => [[], [], [], [], [], [], [], []];

/**
 * One statement of a plan: with `values` as they are, or over `columns` (equal-length arrays, one
 * unnest parameter each) in chunks of rows. `expect`: the rows it must touch (fewer: the cache is stale).
 */
export type Statement = { text: string; expect?: number } & (
  | { values: unknown[]; columns?: undefined }
  | { columns: ReadonlyArray<ReadonlyArray<string | number | boolean | null>>; values?: undefined }
);

/**
 * Rows per statement when a plan runs: each chunk's array literals are built just before it is sent
 * and are garbage right after, instead of a commit's whole column texts (hundreds of MB at 100k
 * devices) living through the write in the old generation. Large enough that PostgreSQL's hash join
 * reads the profile and rollup tables once per 131072 changed rows, not once per few thousand: at 100k
 * devices, 16384-row chunks cost 22 µs per updated profile row, 131072-row chunks 12 µs.
 */
const CHUNK_ROWS = 131_072;

/** A batch's writes as statements, built from the models at one moment (see {@link planBatch}). */
export interface BatchPlan {
  statements: Statement[];
  /** Rows the plan writes (for logs). */
  rows: number;
}

/**
 * Builds the statements that write one batch's changes, from the models as they are now: the caller may
 * change the models again (apply the next batch) while the plan runs.
 */
export function planBatch(w: BatchWrites, quarantinesTable: boolean): BatchPlan {
  const out: Statement[] = [];
  let rows = 0;
  // Alerts first: the devices statement recomputes risk from the open alerts.
  if (w.alerts.length > 0) {
    const as = mergeAlerts(w.alerts);
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
    for (const a of w.alerts) {
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
    rows += as.length + counts.size;
  }

  const ds = w.devices;
  if (ds.length > 0) {
    const classified = new Map<DeviceModel, Classification>(w.classifications);
    // Classification and risk ride on the same statement as the counters (one row version per device and
    // commit): one upsert for the devices whose class and risk stay, one for those whose risk is
    // recomputed, one for those reclassified (their risk is recomputed too).
    const plain: DeviceModel[] = [];
    const risky: DeviceModel[] = [];
    const reclassified: DeviceModel[] = [];
    for (const m of ds) {
      if (classified.has(m)) reclassified.push(m);
      else if (w.risk.has(m.ip)) risky.push(m);
      else plain.push(m);
    }
    if (plain.length > 0) upsertDevices(out, plain, classified, w.risk, false, false);
    if (risky.length > 0) upsertDevices(out, risky, classified, w.risk, true, false);
    if (reclassified.length > 0) upsertDevices(out, reclassified, classified, w.risk, true, true);
    rows += ds.length;
  }

  // Profiles, baselines, minute rollups and MAC addresses: every changed row in one statement each
  // (two for profiles and rollups: UPDATE of the rows known to exist, upsert of the others).
  const pk = profileColumns();
  const pn = profileColumns();
  const bd: string[] = [];
  const bMetric: string[] = [];
  const bSlot: number[] = [];
  const bN: number[] = [];
  const bMean: number[] = [];
  const bM2: number[] = [];
  const bLast: number[] = [];
  const rk = rollupColumns();
  const rn = rollupColumns();
  const aMac: string[] = [];
  const aIp: string[] = [];
  const aF: number[] = [];
  const aL: number[] = [];
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
    if (m.macs) {
      for (const [mac, [f, l]] of m.macs) {
        aMac.push(mac);
        aIp.push(m.ip);
        aF.push(f);
        aL.push(l);
      }
    }
  }
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
    rows += bd.length;
  }
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
  if (aMac.length > 0) {
    out.push({
      text: `INSERT INTO device_addresses AS a (mac, ip, first_seen, last_seen)
       SELECT u.mac::macaddr, u.ip, to_timestamp(u.f / 1000.0), to_timestamp(u.l / 1000.0)
       FROM unnest($1::text[], $2::inet[], $3::float8[], $4::float8[]) AS u(mac, ip, f, l)
       ON CONFLICT (mac, ip) DO UPDATE SET
         first_seen = LEAST(a.first_seen, EXCLUDED.first_seen), last_seen = GREATEST(a.last_seen, EXCLUDED.last_seen)`,
      columns: [aMac, aIp, aF, aL],
    });
    rows += aMac.length;
  }

  if (w.quarantines.length > 0) {
    const q = w.quarantines;
    out.push({
      text: `UPDATE devices SET quarantined = true, updated_at = now() WHERE ip = ANY($1::inet[])`,
      values: [q.map((x) => x.device)],
    });
    if (quarantinesTable) {
      out.push({
        text: `INSERT INTO quarantines (device_ip, reason, source, policy_id, created_by)
         SELECT u.d, u.reason, 'policy', u.pid, 'analytics'
         FROM unnest($1::inet[], $2::text[], $3::bigint[]) AS u(d, reason, pid)
         ON CONFLICT (device_ip) WHERE released_at IS NULL DO NOTHING`,
        values: [q.map((x) => x.device), q.map((x) => x.reason), q.map((x) => x.policyId)],
      });
    }
  }

  // Risk of devices not written above (silent ones): 0..100, the class's criticality plus points per
  // open alert by severity.
  const written = new Set(ds.map((m) => m.ip));
  const rest = [...w.risk].filter(([ip]) => !written.has(ip));
  if (rest.length > 0) {
    out.push({
      text: `UPDATE devices AS d SET risk = LEAST(100, u.base + COALESCE(
         (SELECT sum(${SEVERITY_POINTS}) FROM alerts a WHERE a.device_ip = d.ip AND a.status <> 'resolved'), 0))
       FROM unnest($1::inet[], $2::int[]) AS u(ip, base) WHERE d.ip = u.ip`,
      values: [rest.map(([ip]) => ip), rest.map(([, base]) => base)],
    });
  }
  return { statements: out, rows };
}
