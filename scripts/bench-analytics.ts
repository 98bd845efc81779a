// Benchmark: flow records per second one analytics worker turns into device models (inventory, profiles,
// baselines, minute rollups, detections) and commits to PostgreSQL together with its offsets, for
// inventories of 1k, 10k and 100k devices. Prints one line per inventory (with the worker's and
// PostgreSQL's CPU per record, commits and model rows written per record) and its per-statement profile,
// the workers and partitions a 100k-device, 50k records/s hospital needs, and, last, key=value figures
// ending with ratio_100k_1k (records_per_s_100k / records_per_s_1k).
//
//   pnpm bench:analytics                  # DATABASE_URL or the local PostgreSQL
//
// Node runs with --max-semi-space-size=64, as the analytics containers do (NODE_OPTIONS in
// docker-compose.yml and deploy/k8s).
//   BENCH_RECORDS=400000 BENCH_BATCH_RECORDS=50000 BENCH_PARTITIONS=8 BENCH_INVENTORIES=1000,10000 pnpm bench:analytics
//
// Records arrive as the collector publishes them (services/collector/src/shard.ts): per partition (the
// device's, over BENCH_PARTITIONS partitions, default 8), FlowBatch messages of 500 records naming each
// record's device, keyed by the batch's first device) in fetches of
// BENCH_BATCH_RECORDS records across the partitions, handed to the worker concurrently as kafkajs does
// (partitionsConsumedConcurrently), so they commit together. Each inventory runs twice over the same flow
// time span shifted forward: the first pass creates the inventory (reported as `create`), the second is
// the steady state (reported as `records_per_s`). Flow time advances at 200k records per second. Decoding
// the protobuf messages is inside the timing; building them is not.
import { readFileSync } from 'node:fs';
import { loadConfig } from '../packages/config/src/index.ts';
import {
  createFlowRecord,
  encodeFlowBatch,
  type FlowRecord,
  partitionFor,
} from '../packages/flow-schema/src/index.ts';
import { mulberry32 } from '../packages/hospital-sim/src/index.ts';
import { migrate, openDatabase } from '../packages/storage/src/index.ts';
import { createLogger, createMetricsRegistry, type Registry } from '../packages/telemetry/src/index.ts';
import type { ConsumedBatch, ConsumedMessage, Transport } from '../packages/transport/src/index.ts';
import { createAnalytics } from '../services/analytics/src/index.ts';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const inventories = (process.env.BENCH_INVENTORIES ?? '1000,10000,100000').split(',').map(Number);
// Records per pass: 20 per device, at least 400k. At the goal rate (200k records/s) the worker commits every
// `analytics.commitRecords` (1M) records, so a pass holds whole commits as a steady stream would.
const recordsFor = (devices: number) => Number(process.env.BENCH_RECORDS ?? Math.max(400_000, 20 * devices));
// 25k records per partition and fetch: a FlowBatch record is ~70 bytes, ~20 gzip-compressed, so that is
// about half of kafkajs's default 1 MiB per partition when the worker has a backlog.
const batchRecords = Number(process.env.BENCH_BATCH_RECORDS ?? 200_000);
const partitionCount = Number(process.env.BENCH_PARTITIONS ?? 8);
// Records per FlowBatch message: the collector's default `collector.batchRecords`.
const MESSAGE_RECORDS = 500;

/** Splits a fetch into one batch per partition, with per-partition offsets (what kafkajs hands over). */
function byPartition(b: ConsumedBatch, next: number[]): ConsumedBatch[] {
  const parts: ConsumedMessage[][] = Array.from({ length: partitionCount }, () => []);
  for (const m of b.messages) {
    const p = partitionFor(m.key, partitionCount);
    parts[p]!.push({ ...m, offset: String(next[p]!++) });
  }
  return parts.flatMap((messages, partition) =>
    messages.length > 0 ? [{ topic: b.topic, partition, messages }] : [],
  );
}

/** Device i's address: 10.0.0.1 upwards (the servers live in 10.250/16, above every inventory here). */
const deviceIp = (i: number) => `10.${((i + 1) >> 16) & 255}.${((i + 1) >> 8) & 255}.${(i + 1) & 255}`;
const SERVICES = [443, 445, 53, 104, 2575, 3613, 2000, 9100];

/**
 * Consumed batches for one pass, built one at a time (a worker holds one batch, not the topic): every
 * device has three (server, port) habits; records are spread uniformly over the inventory and over
 * `spanMs` of flow time from `t0`. As the collector does, each record goes to its device's partition and
 * a partition's records leave as one FlowBatch message every MESSAGE_RECORDS; offsets continue from
 * `firstOffset` (per partition in `byPartition`).
 */
function* batchesOf(
  devices: number,
  records: number,
  t0: number,
  spanMs: number,
  seed: number,
  firstOffset: number,
): Generator<ConsumedBatch> {
  const r = mulberry32(seed);
  const ready: ConsumedBatch[] = [];
  let messages: ConsumedMessage[] = [];
  let inBatch = 0;
  let offset = firstOffset;
  const parts = Array.from({ length: partitionCount }, () => ({
    records: [] as FlowRecord[],
    devices: [] as string[],
  }));
  const emit = (p: number) => {
    const part = parts[p]!;
    if (part.records.length === 0) return;
    messages.push({
      key: part.devices[0]!,
      value: encodeFlowBatch(part.records, part.devices),
      headers: {},
      offset: String(offset++),
    });
    parts[p] = { records: [], devices: [] };
  };
  const endFetch = () => {
    if (messages.length > 0) ready.push({ topic: 'flows-v1', partition: 0, messages });
    messages = [];
    inBatch = 0;
  };
  for (let k = 0; k < records; k++) {
    const d = Math.floor(r() * devices);
    const ip = deviceIp(d);
    const habit = (d * 7 + Math.floor(r() * 3)) % 97;
    const f = createFlowRecord();
    f.exporter = '192.0.2.1';
    f.version = 9;
    const external = habit % 11 === 0;
    f.srcAddr = ip;
    f.dstAddr = external ? `198.51.100.${habit}` : `10.250.${habit % 4}.${habit}`;
    f.srcPort = 49152 + Math.floor(r() * 16000);
    f.dstPort = SERVICES[habit % SERVICES.length]!;
    f.protocol = habit % 5 === 0 ? 17 : 6;
    f.tcpFlags = f.protocol === 6 ? 0x1b : 0;
    f.packets = 2 + Math.floor(r() * 20);
    f.bytes = f.packets * (60 + Math.floor(r() * 1200));
    f.startMs = t0 + Math.floor((k / records) * spanMs);
    f.endMs = f.startMs + Math.floor(r() * 20_000);
    f.receivedMs = f.endMs;
    const p = partitionFor(ip, partitionCount);
    const part = parts[p]!;
    part.records.push(f);
    part.devices.push(ip);
    if (part.records.length >= MESSAGE_RECORDS) emit(p);
    if (++inBatch >= batchRecords) endFetch();
    while (ready.length > 0) yield ready.shift()!;
  }
  for (let p = 0; p < partitionCount; p++) emit(p);
  endFetch();
  yield* ready;
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ: 100 on Linux). */
const CLK_TCK = 100;

/** CPU seconds a process has used so far (user + system), or undefined once it is gone. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/**
 * The CPU time of the PostgreSQL backends serving the worker (those connected with application name
 * `app`), read from /proc on a separate connection: PostgreSQL's share of the cost, apart from the
 * worker's. A backend's last reading is kept after it exits (the pool closes idle clients).
 */
class PgCpu {
  private readonly seen = new Map<number, number>();
  constructor(
    private readonly monitor: {
      query: (text: string, values: unknown[]) => Promise<{ rows: Array<{ pid: number }> }>;
    },
    private readonly app: string,
  ) {}

  async sample(): Promise<number> {
    const { rows } = await this.monitor.query(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [this.app],
    );
    for (const { pid } of rows) {
      const cpu = processCpuSeconds(pid);
      if (cpu !== undefined) this.seen.set(pid, cpu);
    }
    let total = 0;
    for (const cpu of this.seen.values()) total += cpu;
    return total;
  }
}

/** Per statement (verb and table): [seconds, rows] so far, from the worker's commit metrics. */
async function statementTotals(registry: Registry): Promise<Map<string, [number, number]>> {
  const totals = new Map<string, [number, number]>();
  for (const [name, k] of [
    ['wardwatch_analytics_statement_seconds_total', 0],
    ['wardwatch_analytics_statement_rows_total', 1],
  ] as const) {
    const metric = registry.getSingleMetric(name);
    if (!metric) continue;
    for (const v of (await metric.get()).values) {
      const key = String(v.labels.statement);
      const t = totals.get(key) ?? [0, 0];
      t[k] = v.value;
      totals.set(key, t);
    }
  }
  return totals;
}

/** A transport that only says "kafka": the worker then commits its offsets with the models. */
const kafkaLike = { kind: 'kafka' } as unknown as Transport;

async function runInventory(devices: number) {
  const schema = `bench_an_${process.pid}_${devices}`;
  const withApp = (name: string) => `${url}${url.includes('?') ? '&' : '?'}application_name=${name}`;
  const db = await openDatabase({ kind: 'postgres', url: withApp(schema), schema, poolSize: 2 });
  const monitor = await openDatabase({
    kind: 'postgres',
    url: withApp(`${schema}_mon`),
    schema,
    poolSize: 1,
  });
  const pgCpu = new PgCpu(monitor.pool, schema);
  await migrate(db);
  const config = loadConfig({
    env: {},
    overrides: {
      monitoredNetworks: ['10.0.0.0/8'],
      'analytics.learningPeriod': '10m',
      'analytics.groupId': schema,
      // Every device comes from one exporter here: the per-exporter bound on new devices a minute (a
      // forged exporter's flood) would otherwise admit only its default 1000 of a larger inventory.
      'analytics.maxNewDevicesPerExporterPerMinute': Math.max(1000, devices),
    },
  });
  const registry = createMetricsRegistry();
  const analytics = createAnalytics({
    config,
    transport: kafkaLike,
    db,
    logger: createLogger({ level: process.env.BENCH_LOG ?? 'warn' }),
    registry,
  });
  await analytics.reload();
  // Flow time advances as it would at the goal rate (200k records per second of flow time), so buckets
  // fold and minutes roll over as often per record as in a network that really sends this much.
  const totalRecords = recordsFor(devices);
  const spanMs = Math.max(1000, Math.round((totalRecords / 200_000) * 1000));
  // An hour ago, 45 s into a minute: every run splits flows over minute boundaries the same way (the
  // number of rollup rows, hence the work, does not depend on when the benchmark starts).
  const t0 = Date.now() - 60 * 60_000 - (Date.now() % 60_000) + 45_000;
  const results: Array<{
    seconds: number;
    cpuSeconds: number;
    pgCpuSeconds: number;
    records: number;
    rows: number;
    commits: number;
    statements: Map<string, [number, number]>;
  }> = [];
  const nextOffsets = new Array<number>(partitionCount).fill(0);
  for (const pass of [0, 1]) {
    const before = analytics.counts();
    let seconds = 0;
    let cpuSeconds = 0;
    const pgBefore = await pgCpu.sample();
    const statementsBefore = await statementTotals(registry);
    // Sampled now and then during the pass, so a backend the pool closes still counts.
    const sampler = setInterval(() => void pgCpu.sample().catch(() => {}), 500);
    for (const b of batchesOf(devices, totalRecords, t0 + pass * spanMs, spanMs, 7 + pass, 0)) {
      // One fetch across the worker's partitions, handed over concurrently as kafkajs does with
      // partitionsConsumedConcurrently: the worker commits them in one transaction.
      const perPartition = byPartition(b, nextOffsets);
      const t = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      await Promise.all(perPartition.map((pb) => analytics.handle(pb)));
      seconds += Number(process.hrtime.bigint() - t) / 1e9;
      const used = process.cpuUsage(cpu);
      cpuSeconds += (used.user + used.system) / 1e6;
    }
    // The worker commits on its own schedule (every `analytics.commitRecords` records or
    // `analytics.commitInterval`): what it still holds is committed inside the timing.
    const t = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    await analytics.flush();
    seconds += Number(process.hrtime.bigint() - t) / 1e9;
    const used = process.cpuUsage(cpu);
    cpuSeconds += (used.user + used.system) / 1e6;
    clearInterval(sampler);
    const after = analytics.counts();
    results.push({
      seconds,
      cpuSeconds,
      pgCpuSeconds: (await pgCpu.sample()) - pgBefore,
      records: after.records - before.records,
      rows: after.rows - before.rows,
      commits: after.commits - before.commits,
      statements: new Map(
        [...(await statementTotals(registry))].map(([k, [sec, rows]]) => {
          const b = statementsBefore.get(k) ?? [0, 0];
          return [k, [sec - b[0], rows - b[1]]];
        }),
      ),
    });
  }
  const rows = await db.pool.query<{ devices: string; profiles: string; rollups: string }>(
    `SELECT (SELECT count(*) FROM devices)::text AS devices, (SELECT count(*) FROM device_profiles)::text AS profiles,
       (SELECT count(*) FROM device_rollups_minute)::text AS rollups`,
  );
  await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.close();
  await monitor.close();
  // A figure over fewer devices or records than asked for measures another inventory: refuse it.
  if (Number(rows.rows[0]!.devices) !== devices || results.some((r) => r.records !== totalRecords)) {
    throw new Error(
      `inventory ${devices}: the worker applied ${results.map((r) => r.records).join(' and ')} of ${totalRecords} records a pass and holds ${rows.rows[0]!.devices} devices`,
    );
  }
  const [create, steady] = results as [(typeof results)[0], (typeof results)[0]];
  const line = {
    inventory: devices,
    records: steady.records,
    batch_records: batchRecords,
    partitions: partitionCount,
    seconds: steady.seconds.toFixed(2),
    // The worker's own CPU (decode, models, detections, building statements): less noisy than wall time
    // on a shared machine; the rest of `seconds` is mostly PostgreSQL.
    worker_cpu_s: steady.cpuSeconds.toFixed(2),
    // The CPU of the PostgreSQL backends that served the worker's writes and loads (from /proc).
    pg_cpu_s: steady.pgCpuSeconds.toFixed(2),
    worker_us_per_record: ((steady.cpuSeconds / steady.records) * 1e6).toFixed(2),
    pg_us_per_record: ((steady.pgCpuSeconds / steady.records) * 1e6).toFixed(2),
    commits: steady.commits,
    // Model rows written per record applied: the write cost the commits amortise.
    rows_per_record: (steady.rows / steady.records).toFixed(3),
    records_per_s: Math.round(steady.records / steady.seconds),
    create_records_per_s: Math.round(create.records / create.seconds),
    db_devices: Number(rows.rows[0]!.devices),
    db_profiles: Number(rows.rows[0]!.profiles),
    db_rollups: Number(rows.rows[0]!.rollups),
  };
  console.log(
    Object.entries(line)
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
  );
  // PostgreSQL's side, per statement of the steady pass (time around each statement, its chunks' array
  // literals included), slowest first.
  const profile = [...steady.statements]
    .filter(([, [, rows]]) => rows > 0)
    .sort((a, b) => b[1][0] - a[1][0])
    .map(
      ([k, [sec, rows]]) =>
        `${k}: ${rows} rows ${sec.toFixed(2)} s ${((sec / rows) * 1e6).toFixed(1)} us/row`,
    );
  console.log(`  statements inventory=${devices}: ${profile.join('; ')}`);
  return line;
}

/** The hospital the sizing is for: 100k devices sending 50k records/s in all. */
const HOSPITAL_DEVICES = 100_000;
const HOSPITAL_RECORDS_PER_S = 50_000;
/**
 * Workers run at most at half their measured rate: a worker back from a restart or a rebalance must
 * catch up on its backlog while the traffic goes on, and the measuring host is shared.
 */
const HEADROOM = 0.5;

const out: Record<string, number | string> = {};
const lines: Array<Awaited<ReturnType<typeof runInventory>>> = [];
for (const n of inventories) {
  const line = await runInventory(n);
  lines.push(line);
  out[`records_per_s_${n >= 1000 ? `${n / 1000}k` : n}`] = line.records_per_s;
}
const last = lines.at(-1);
if (last) {
  // Sizing from the per-worker rate measured at the inventory closest to the hospital's (a worker of N
  // holds 1/N of the devices, so this errs on the safe side).
  const basis = lines.reduce((a, b) =>
    Math.abs(b.inventory - HOSPITAL_DEVICES) < Math.abs(a.inventory - HOSPITAL_DEVICES) ? b : a,
  );
  const workers = Math.ceil(HOSPITAL_RECORDS_PER_S / (basis.records_per_s * HEADROOM));
  // Two partitions per worker (and at least the default 8), so the group can double without repartitioning.
  const partitions = Math.max(8, 2 * workers);
  const small = lines.find((l) => l.inventory === 1000);
  const large = lines.find((l) => l.inventory === 100_000);
  console.log(
    `sizing: a ${HOSPITAL_DEVICES / 1000}k-device hospital sending ${HOSPITAL_RECORDS_PER_S / 1000}k records/s needs ` +
      `${workers} analytics worker(s) and ${partitions} flows-v1 partitions (${basis.records_per_s} records/s per worker ` +
      `measured at ${basis.inventory} devices, run at ${HEADROOM * 100}%); by CPU per record, the workers use ` +
      `${((HOSPITAL_RECORDS_PER_S * Number(basis.worker_us_per_record)) / 1e6).toFixed(2)} cores and PostgreSQL ` +
      `${((HOSPITAL_RECORDS_PER_S * Number(basis.pg_us_per_record)) / 1e6).toFixed(2)} cores at that rate`,
  );
  console.log(
    Object.entries({
      inventory: last.inventory,
      records_per_s: last.records_per_s,
      rows_per_record: last.rows_per_record,
      batch_records: batchRecords,
      ...out,
      hospital_workers: workers,
      hospital_partitions: partitions,
      ...(small && large ? { ratio_100k_1k: (large.records_per_s / small.records_per_s).toFixed(3) } : {}),
    })
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
  );
}
