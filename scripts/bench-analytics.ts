// Benchmark: flow records per second one analytics worker turns into device models (inventory, profiles,
// baselines, minute rollups, detections) and commits to PostgreSQL together with its offsets, for
// inventories of 1k, 10k and 100k devices. Prints one line per inventory and, last, key=value figures.
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
import { loadConfig } from '../packages/config/src/index.ts';
import {
  createFlowRecord,
  encodeFlowBatch,
  type FlowRecord,
  partitionFor,
} from '../packages/flow-schema/src/index.ts';
import { mulberry32 } from '../packages/hospital-sim/src/index.ts';
import { migrate, openDatabase } from '../packages/storage/src/index.ts';
import { createLogger, createMetricsRegistry } from '../packages/telemetry/src/index.ts';
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

/** A transport that only says "kafka": the worker then commits its offsets with the models. */
const kafkaLike = { kind: 'kafka' } as unknown as Transport;

async function runInventory(devices: number) {
  const schema = `bench_an_${process.pid}_${devices}`;
  const db = await openDatabase({ kind: 'postgres', url, schema, poolSize: 2 });
  await migrate(db);
  const config = loadConfig({
    env: {},
    overrides: {
      monitoredNetworks: ['10.0.0.0/8'],
      'analytics.learningPeriod': '10m',
      'analytics.groupId': schema,
    },
  });
  const analytics = createAnalytics({
    config,
    transport: kafkaLike,
    db,
    logger: createLogger({ level: process.env.BENCH_LOG ?? 'warn' }),
    registry: createMetricsRegistry(),
  });
  await analytics.reload();
  // Flow time advances as it would at the goal rate (200k records per second of flow time), so buckets
  // fold and minutes roll over as often per record as in a network that really sends this much.
  const totalRecords = recordsFor(devices);
  const spanMs = Math.max(1000, Math.round((totalRecords / 200_000) * 1000));
  // An hour ago, 45 s into a minute: every run splits flows over minute boundaries the same way (the
  // number of rollup rows, hence the work, does not depend on when the benchmark starts).
  const t0 = Date.now() - 60 * 60_000 - (Date.now() % 60_000) + 45_000;
  const results: Array<{ seconds: number; cpuSeconds: number; records: number }> = [];
  const nextOffsets = new Array<number>(partitionCount).fill(0);
  for (const pass of [0, 1]) {
    const before = analytics.counts().records;
    let seconds = 0;
    let cpuSeconds = 0;
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
    results.push({ seconds, cpuSeconds, records: analytics.counts().records - before });
  }
  const rows = await db.pool.query<{ devices: string; profiles: string; rollups: string }>(
    `SELECT (SELECT count(*) FROM devices)::text AS devices, (SELECT count(*) FROM device_profiles)::text AS profiles,
       (SELECT count(*) FROM device_rollups_minute)::text AS rollups`,
  );
  await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.close();
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
  return line;
}

const out: Record<string, number | string> = {};
let last: Awaited<ReturnType<typeof runInventory>> | undefined;
for (const n of inventories) {
  last = await runInventory(n);
  out[`records_per_s_${n >= 1000 ? `${n / 1000}k` : n}`] = last.records_per_s;
}
if (last) {
  console.log(
    Object.entries({
      inventory: last.inventory,
      records_per_s: last.records_per_s,
      batch_records: batchRecords,
      ...out,
    })
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
  );
}
