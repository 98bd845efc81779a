// Publish-path lever benchmark: the collector's producer side alone, so its levers can be compared
// without the sender, the sockets and the decoder competing for the cores. It publishes the same
// `FlowBatch` messages (synthetic records like bench-collector's pcap, routed to 8 partitions) through
// `createBufferedPublisher` as the collector does (acks=all, idempotent), with each variant of client,
// compression, produce request size and message size, and prints the CPU time per record of this
// process (all its threads: libuv's pool compresses LZ4 for kafkajs) and of the Kafka broker, from /proc.
//
// Variants alternate (A B C A B C ...) for BENCH_ROUNDS rounds so a change in the machine's other load
// falls on all of them; the figure per variant is the median. Uses the broker at KAFKA_BROKERS (default
// 127.0.0.1:9092), on topics of its own that it deletes at the end.
//
// Environment: BENCH_RECORDS (per round and variant, default 1 000 000), BENCH_ROUNDS (default 3),
// BENCH_VARIANTS (comma list of names below, default all).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { createFlowRecord, FlowBatchBuilder, partitionFor } from '../packages/flow-schema/src/index.ts';
import {
  type Compression,
  createBufferedPublisher,
  createKafkaTransport,
  type Publisher,
  type TransportMessage,
} from '../packages/transport/src/index.ts';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PARTITIONS = 8;
const runId = `benchpub_${process.pid}_${Date.now().toString(36)}`;
const log = (s: string) => console.log(s);

interface Variant {
  name: string;
  client: 'kafkajs' | 'platformatic';
  compression: Compression;
  /** Records per FlowBatch message (collector.batchRecords). */
  batchRecords: number;
  /** Bytes per produce request (createBufferedPublisher's maxBatchBytes). */
  requestBytes: number;
}

const ALL: Variant[] = [
  { name: 'kafkajs-lz4', client: 'kafkajs', compression: 'lz4', batchRecords: 500, requestBytes: 1 << 20 },
  { name: 'kafkajs-none', client: 'kafkajs', compression: 'none', batchRecords: 500, requestBytes: 1 << 20 },
  { name: 'kafkajs-gzip', client: 'kafkajs', compression: 'gzip', batchRecords: 500, requestBytes: 1 << 20 },
  {
    name: 'kafkajs-lz4-req4m',
    client: 'kafkajs',
    compression: 'lz4',
    batchRecords: 500,
    requestBytes: 4 << 20,
  },
  {
    name: 'kafkajs-lz4-req256k',
    client: 'kafkajs',
    compression: 'lz4',
    batchRecords: 500,
    requestBytes: 256 << 10,
  },
  {
    name: 'kafkajs-lz4-msg2000',
    client: 'kafkajs',
    compression: 'lz4',
    batchRecords: 2000,
    requestBytes: 1 << 20,
  },
  {
    name: 'kafkajs-lz4-msg100',
    client: 'kafkajs',
    compression: 'lz4',
    batchRecords: 100,
    requestBytes: 1 << 20,
  },
  {
    name: 'kafkajs-lz4-req2m',
    client: 'kafkajs',
    compression: 'lz4',
    batchRecords: 500,
    requestBytes: 2 << 20,
  },
  {
    name: 'kafkajs-lz4-req8m',
    client: 'kafkajs',
    compression: 'lz4',
    batchRecords: 500,
    requestBytes: 8 << 20,
  },
  {
    name: 'kafkajs-none-req4m',
    client: 'kafkajs',
    compression: 'none',
    batchRecords: 500,
    requestBytes: 4 << 20,
  },
  {
    name: 'platformatic-lz4-req4m',
    client: 'platformatic',
    compression: 'lz4',
    batchRecords: 500,
    requestBytes: 4 << 20,
  },
  {
    name: 'platformatic-lz4',
    client: 'platformatic',
    compression: 'lz4',
    batchRecords: 500,
    requestBytes: 1 << 20,
  },
  {
    name: 'platformatic-none',
    client: 'platformatic',
    compression: 'none',
    batchRecords: 500,
    requestBytes: 1 << 20,
  },
];
const wanted = process.env.BENCH_VARIANTS?.split(',');
const VARIANTS = wanted ? ALL.filter((v) => wanted.includes(v.name)) : ALL;

/** CPU seconds of a process from /proc (all threads). */
function cpuSeconds(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

function listenerPid(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f[3] === '0A' && Number.parseInt(f[1]?.split(':')[1] ?? '', 16) === port) inodes.add(f[9]!);
      }
    } catch {}
  }
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      for (const fd of readdirSync(`/proc/${p}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${p}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return Number(p);
      }
    } catch {}
  }
  return undefined;
}

/** FlowBatch messages for `records` records, `per` records a message, routed as the collector routes. */
function makeMessages(records: number, per: number): { messages: TransportMessage[]; records: number[] } {
  const builders = Array.from({ length: PARTITIONS }, () => new FlowBatchBuilder());
  const messages: TransportMessage[] = [];
  const counts: number[] = [];
  const t0 = Date.now();
  const r = createFlowRecord();
  for (let i = 0; i < records; i++) {
    const j = i % 20_000;
    r.exporter = '127.0.0.1';
    r.version = 9;
    r.templateId = 256;
    r.srcAddr = `10.${(j >> 12) & 15}.${(j >> 6) & 63}.${(j & 63) + 1}`;
    r.dstAddr = `203.0.113.${(j % 250) + 1}`;
    r.protocol = j % 3 === 0 ? 17 : 6;
    r.srcPort = 10_000 + j;
    r.dstPort = j % 3 === 0 ? 53 : 443;
    r.bytes = 40 + (j % 1200);
    r.packets = 1 + (j % 7);
    r.startMs = t0 + Math.floor(j / 20);
    r.endMs = r.startMs + 500;
    r.receivedMs = t0 + 1000;
    const p = partitionFor(r.srcAddr, PARTITIONS);
    const b = builders[p]!;
    b.add(r, r.srcAddr);
    if (b.count >= per) {
      const key = b.firstDevice;
      counts.push(b.count);
      messages.push({ key, value: b.finish(), partition: p });
    }
  }
  return { messages, records: counts };
}

async function platformaticPublisher(compression: Compression, prefix: string): Promise<Publisher> {
  const { Producer } = createRequire(resolve(import.meta.dirname, '../packages/transport/package.json'))(
    '@platformatic/kafka',
  ) as typeof import('../packages/transport/node_modules/@platformatic/kafka/dist/index.js');
  const producer = new Producer({
    clientId: 'bench-publish',
    bootstrapBrokers: brokers,
    idempotent: true,
    acks: -1,
    compression,
    autocreateTopics: false,
  });
  return {
    async publish(topic, messages) {
      await producer.send({
        messages: messages.map((m) => ({
          topic: prefix + topic,
          key: Buffer.from(m.key),
          value: Buffer.from(m.value!.buffer, m.value!.byteOffset, m.value!.byteLength),
          partition: m.partition,
        })),
      });
    },
    close: () => producer.close(),
  };
}

async function runOnce(v: Variant, brokerPid: number | undefined) {
  const { messages, records } = makeMessages(RECORDS, v.batchRecords);
  const total = records.reduce((s, n) => s + n, 0);
  const transport = createKafkaTransport({ brokers, clientId: 'bench-publish', topicPrefix: `${runId}.` });
  await transport.ensureTopic('flows', PARTITIONS);
  const sink =
    v.client === 'kafkajs'
      ? await transport.createPublisher({ compression: v.compression, retries: 2 })
      : await platformaticPublisher(v.compression, `${runId}.`);
  let published = 0;
  let failed = 0;
  const buf = createBufferedPublisher({
    publisher: sink,
    maxBytes: 32 << 20,
    maxBatchBytes: v.requestBytes,
    onPublished: (_t, _n, w) => {
      published += w;
    },
    onRetry: () => {
      failed++;
    },
  });
  // Warm-up (connections, JIT), not measured.
  for (let i = 0; i < 50; i++) buf.offer('flows', [messages[i]!], records[i]!);
  await buf.drain(60_000);
  const start = published;
  const cpu0 = cpuSeconds('self');
  const broker0 = brokerPid === undefined ? 0 : cpuSeconds(brokerPid);
  const t0 = performance.now();
  // Offered as fast as the buffer takes them, as the shards would under a flood.
  for (let i = 0; i < messages.length; i++) {
    while (buf.queuedBytes() > 16 << 20) await new Promise((r) => setImmediate(r));
    buf.offer('flows', [messages[i]!], records[i]!);
  }
  const ok = await buf.drain(300_000);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds('self') - cpu0;
  const broker = brokerPid === undefined ? 0 : cpuSeconds(brokerPid) - broker0;
  await buf.close(5_000);
  await transport.close();
  if (v.client === 'platformatic') await sink.close();
  const n = published - start;
  if (!ok || n !== total || failed > 0) log(`#   ${v.name}: published ${n} of ${total}, ${failed} retries`);
  return {
    clientUs: (cpu / n) * 1e6,
    brokerUs: (broker / n) * 1e6,
    recordsPerSecond: n / seconds,
    bytesPerRecord: messages.reduce((s, m) => s + m.value!.byteLength, 0) / total,
  };
}

async function main() {
  const brokerPid = listenerPid(Number(brokers[0]!.split(':').pop()));
  log(
    `# publish-path levers ${new Date().toISOString()}: ${RECORDS} records per run, ${ROUNDS} rounds, broker pid ${brokerPid ?? 'not local'}`,
  );
  const figures = new Map<string, { clientUs: number; brokerUs: number; recordsPerSecond: number }[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const v of VARIANTS) {
      const r = await runOnce(v, brokerPid);
      figures.set(v.name, [...(figures.get(v.name) ?? []), r]);
      log(
        `  round ${round} ${v.name.padEnd(20)} client ${r.clientUs.toFixed(2)} us/record  broker ${r.brokerUs.toFixed(2)} us/record  ${Math.round(r.recordsPerSecond)} records/s  (${r.bytesPerRecord.toFixed(1)} B/record uncompressed)`,
      );
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [name, list] of figures) {
    log(
      `= ${name.padEnd(20)} median client ${median(list.map((x) => x.clientUs)).toFixed(2)} us/record, broker ${median(list.map((x) => x.brokerUs)).toFixed(2)} us/record, ${Math.round(median(list.map((x) => x.recordsPerSecond)))} records/s`,
    );
  }
  // The topics hold millions of records: remove them from the shared broker.
  const { Kafka, logLevel } = createRequire(
    resolve(import.meta.dirname, '../packages/transport/package.json'),
  )('kafkajs') as typeof import('../packages/transport/node_modules/kafkajs/types/index.js');
  const admin = new Kafka({ clientId: 'bench-publish', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${runId}.`));
  if (topics.length > 0) await admin.deleteTopics({ topics });
  await admin.disconnect();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
