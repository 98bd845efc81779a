// Collector benchmark (`pnpm bench:collector`): replays softflowd's NetFlow v9 and IPFIX exports of one
// generated pcap, at increasing rates, to (a) Wardwatch's collector publishing to the real Kafka broker,
// (b) nfcapd (nfdump) writing to disk, (c) nfacctd (pmacct) with its Kafka plugin to the same broker;
// and pmacctd's sFlow v5 (sfprobe, 1:1) of the same pcap to Wardwatch and to (d) sfacctd (pmacct) with
// its Kafka plugin. Same packets, same sender (a C program compiled here), same run. For each it prints per-step loss,
// the highest rate with < 0.1% loss and the peak RSS; the last line is key=value figures.
//
// Loss is measured where the data lands: Wardwatch's records acknowledged by Kafka (acks=all), nfcapd's
// records in its file (nfdump -I), nfacctd's bytes in its Kafka messages (it aggregates records, so it
// is compared by the octets the records carried). For sFlow a record is a flow sample: at 1:1 each is one
// packet, so sfacctd's aggregated `packets` count its samples exactly (its octets include L2 framing). Loopback only; every loop is bounded in count and time.
//
// Environment: BENCH_RATES (datagrams/s, comma list), BENCH_SECONDS (per step), BENCH_TARGETS
// (wardwatch,nfcapd,nfacctd,sfacctd), BENCH_FORMATS (v9,ipfix,sflow), BENCH_COMPRESSION (Wardwatch's Kafka compression,
// default lz4, the configuration's default), KAFKA_BROKERS (default 127.0.0.1:9092).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDecoderState, decodePacket } from '../packages/flow-decoder/src/index.ts';
import {
  ensureTool,
  runSfprobe,
  runSoftflowd,
  startCommandArgs,
  writePcap,
} from '../packages/testkit/src/index.ts';

// The root package has no dependencies of its own: kafkajs (for nfacctd's topic and the clean-up) is
// taken from where the transport package resolves it.
const { Kafka, logLevel } = createRequire(resolve(import.meta.dirname, '../packages/transport/package.json'))(
  'kafkajs',
) as typeof import('../packages/transport/node_modules/kafkajs/types/index.js');

const repo = resolve(import.meta.dirname, '..');
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const RATES = (process.env.BENCH_RATES ?? '2000,5000,10000,20000,40000,60000,80000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const TARGETS = (process.env.BENCH_TARGETS ?? 'wardwatch,nfcapd,nfacctd,sfacctd').split(',');
const FORMATS = (process.env.BENCH_FORMATS ?? 'v9,ipfix,sflow').split(',') as Format[];
const COMPRESSION = process.env.BENCH_COMPRESSION ?? 'lz4';
const FLOWS = 20_000;
const LOSS_FREE = 0.001;
/** Past this loss a target's ladder stops: higher rates only lose more. */
const GIVE_UP = 0.05;

type Format = 'v9' | 'ipfix' | 'sflow';
type Target = 'wardwatch' | 'nfcapd' | 'nfacctd' | 'sfacctd';

/** Which targets take which format: nfcapd and nfacctd NetFlow/IPFIX, sfacctd sFlow, Wardwatch all. */
function takes(target: Target, format: Format): boolean {
  if (target === 'wardwatch') return true;
  return format === 'sflow' ? target === 'sfacctd' : target !== 'sfacctd';
}

interface Sent {
  datagrams: number;
  records: number;
  octets: number;
  seconds: number;
}

interface Step {
  rate: number;
  recordsPerSecond: number;
  sent: number;
  landed: number;
  loss: number;
}

const dir = mkdtempSync(join(tmpdir(), 'ww-bench-collector-'));
const runId = `bench_${process.pid}_${Date.now().toString(36)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => console.log(s);

// ---------------------------------------------------------------------------------------------- setup

function compileSender(): string {
  const out = join(dir, 'bench-sender');
  execFileSync('gcc', ['-O2', '-Wall', '-o', out, join(repo, 'scripts/bench-sender.c')], {
    stdio: 'inherit',
  });
  return out;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * softflowd's (or for sFlow pmacctd sfprobe's, 1:1) export of the pcap, captured on a loopback socket,
 * with records and octets per datagram.
 */
async function captureExport(pcap: string, format: Format): Promise<string> {
  const sock = createSocket({ type: 'udp4', recvBufferSize: 64 << 20 });
  const datagrams: Buffer[] = [];
  sock.on('message', (m) => datagrams.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const target = `127.0.0.1:${sock.address().port}`;
  if (format === 'sflow') await runSfprobe({ pcap, target, agent: '127.0.0.1' });
  else await runSoftflowd({ pcap, target, version: format === 'v9' ? 9 : 10 });
  await sleep(500);
  sock.close();
  const state = createDecoderState();
  const parts: Buffer[] = [];
  let records = 0;
  for (const d of datagrams) {
    const r = decodePacket(d, state, { exporter: '127.0.0.1', receivedMs: Date.now() });
    const octets = r.records.reduce((s, x) => s + x.bytes, 0);
    const h = Buffer.alloc(8);
    h.writeUInt16BE(d.length, 0);
    h.writeUInt16BE(r.records.length, 2);
    h.writeUInt32BE(octets >>> 0, 4);
    parts.push(h, d);
    records += r.records.length;
  }
  const file = join(dir, `${format}.dgrams`);
  writeFileSync(file, Buffer.concat(parts));
  const exporter = format === 'sflow' ? 'pmacctd sfprobe' : 'softflowd';
  log(
    `# ${format}: ${exporter} exported ${records} records in ${datagrams.length} datagrams (${(records / datagrams.length).toFixed(1)} records/datagram)`,
  );
  // pmacctd loses a few packets at the end of a file.
  if (records !== FLOWS && !(format === 'sflow' && records >= FLOWS - 10))
    log(`# warning: expected ${FLOWS} records in the capture, got ${records}`);
  return file;
}

function send(sender: string, file: string, port: number, rate: number): Sent {
  const out = execFileSync(sender, [file, String(port), String(rate), String(SECONDS)], {
    encoding: 'utf8',
    timeout: (SECONDS + 30) * 1000,
  });
  const kv = Object.fromEntries(
    out
      .trim()
      .split(' ')
      .map((p) => p.split('=') as [string, string]),
  );
  return {
    datagrams: Number(kv.datagrams),
    records: Number(kv.records),
    octets: Number(kv.octets),
    seconds: Number(kv.seconds),
  };
}

/** Peak resident set (VmHWM) of a process and its children, MiB. */
function peakRssMb(pid: number): number {
  const pids = [pid];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(p));
    } catch {}
  }
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {}
  }
  return kb / 1024;
}

/** Polls `read` until it stops changing for 2.1 s (longer than nfacctd's 1 s purge), at most `maxMs`. */
async function settle(read: () => Promise<number>, maxMs = 20_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let last = await read();
  let stable = 0;
  while (Date.now() < deadline && stable < 3) {
    await sleep(700);
    const v = await read();
    stable = v === last ? stable + 1 : 0;
    last = v;
  }
  return last;
}

function stop(child: ChildProcess, ms = 15_000): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(t);
      r();
    });
    child.kill('SIGTERM');
  });
}

// -------------------------------------------------------------------------------------------- targets

/** A target under test: counts what landed (in its unit) and reports its peak RSS. */
interface Runner {
  /** Records (or octets, for nfacctd) landed so far. */
  landed(): Promise<number>;
  unit: 'records' | 'octets';
  rssMb(): number;
  close(): Promise<void>;
}

/**
 * The collector's V8 flags as docker-compose.yml and deploy/k8s run it (`NODE_OPTIONS`): a small young
 * generation keeps its peak RSS down when flooded (the analytics worker, by contrast, runs with a larger one).
 */
const COLLECTOR_NODE_OPTIONS = '--max-semi-space-size=8';

/** Builds the bundle `pnpm start` runs when a source changed, so no build lands in a measured process. */
function prebuild(): void {
  const args = startCommandArgs(repo);
  execFileSync(process.execPath, [...args.slice(0, args.indexOf('start')), '--build'], {
    cwd: repo,
    stdio: 'ignore',
  });
}

async function startWardwatch(port: number): Promise<Runner> {
  const httpPort = await freeUdpPort();
  const cfg = join(dir, 'wardwatch.yaml');
  writeFileSync(
    cfg,
    [
      'mode: cluster',
      'logLevel: warn',
      "monitoredNetworks: ['10.0.0.0/8']",
      'kafka:',
      `  brokers: [${brokers.map((b) => `'${b}'`).join(', ')}]`,
      `  topicPrefix: '${runId}.'`,
      '  flowPartitions: 8',
      `  compression: ${COMPRESSION}`,
      'collector:',
      "  host: '127.0.0.1'",
      `  udpPorts: [${port}]`,
      '  tcpPorts: []',
      `  httpPort: ${httpPort}`,
      '',
    ].join('\n'),
  );
  const child = spawn(
    process.execPath,
    [...startCommandArgs(repo), '--service', 'collector', '--config', cfg],
    {
      cwd: repo,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        KAFKAJS_NO_PARTITIONER_WARNING: '1',
        NODE_OPTIONS: COLLECTOR_NODE_OPTIONS,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const base = `http://127.0.0.1:${httpPort}`;
  const metric = async (name: string) => {
    // A scrape can fail on a saturated machine: retry a few times before giving up on the step.
    let text = '';
    for (let attempt = 0; ; attempt++) {
      try {
        text = await (await fetch(`${base}/metrics`)).text();
        break;
      } catch (err) {
        if (attempt >= 4) throw err;
        await sleep(500);
      }
    }
    let sum = 0;
    for (const line of text.split('\n'))
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').pop());
    return sum;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('the Wardwatch collector exited at start');
    const ok = await fetch(`${base}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error('the Wardwatch collector did not become ready in 60 s');
    await sleep(300);
  }
  return {
    unit: 'records',
    landed: () => metric('wardwatch_collector_records_published_total'),
    rssMb: () => peakRssMb(child.pid!),
    async close() {
      const kernel = await metric('wardwatch_collector_udp_kernel_drops').catch(() => Number.NaN);
      const decoded = await metric('wardwatch_collector_records_decoded_total').catch(() => Number.NaN);
      const dropped = await metric('wardwatch_collector_records_dropped_total').catch(() => Number.NaN);
      const backlog = await metric('wardwatch_collector_packets_dropped_total').catch(() => Number.NaN);
      log(
        `#   wardwatch counters: decoded=${decoded} dropped_records=${dropped} dropped_packets=${backlog} kernel_drops=${kernel}`,
      );
      await stop(child);
    },
  };
}

async function startNfcapd(port: number): Promise<Runner> {
  const flowdir = join(dir, `nfcapd-${port}`);
  let total = 0;
  let peak = 0;
  let child: ChildProcess | undefined;
  const launch = async () => {
    rmSync(flowdir, { recursive: true, force: true });
    mkdirSync(flowdir, { recursive: true });
    child = spawn(
      'nfcapd',
      ['-B', '33554432', '-b', '127.0.0.1', '-p', String(port), '-w', flowdir, '-t', '3600'],
      {
        stdio: ['ignore', 'ignore', 'ignore'],
      },
    );
    await sleep(700);
  };
  // nfcapd's records are counted in its file, which is complete once it exits: one process per step.
  const collect = async () => {
    if (!child) return;
    peak = Math.max(peak, peakRssMb(child.pid!));
    await stop(child);
    child = undefined;
    for (const f of readdirSync(flowdir)) {
      if (!f.startsWith('nfcapd.')) continue;
      const out = execFileSync('nfdump', ['-r', join(flowdir, f), '-I'], { encoding: 'utf8' });
      total += Number(/^Flows:\s+(\d+)/m.exec(out)?.[1] ?? 0);
    }
  };
  await launch();
  return {
    unit: 'records',
    async landed() {
      await collect();
      const n = total;
      await launch();
      return n;
    },
    rssMb: () => Math.max(peak, child ? peakRssMb(child.pid!) : 0),
    async close() {
      await collect();
    },
  };
}

/**
 * nfacctd (NetFlow/IPFIX) or sfacctd (sFlow) with pmacct's Kafka plugin; counts the octets (nfacctd) or
 * the packets, that is the 1:1 samples (sfacctd), it published.
 */
async function startNfacctd(port: number, format: Format): Promise<Runner> {
  const daemon = format === 'sflow' ? 'sfacctd' : 'nfacctd';
  const topic = `${runId}.${daemon}-${format}`;
  const kafka = new Kafka({ clientId: 'bench-collector', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const [host, kport] = brokers[0]!.split(':');
  const conf = join(dir, `${daemon}-${format}.conf`);
  writeFileSync(
    conf,
    [
      'daemonize: false',
      `${daemon}_ip: 127.0.0.1`,
      `${daemon}_port: ${port}`,
      `${daemon}_pipe_size: 33554432`,
      'plugins: kafka',
      `kafka_broker_host: ${host}`,
      `kafka_broker_port: ${kport}`,
      `kafka_topic: ${topic}`,
      'kafka_output: json',
      'kafka_refresh_time: 1',
      'aggregate: src_host, dst_host, src_port, dst_port, proto, peer_src_ip',
      'plugin_pipe_size: 102400000',
      'plugin_buffer_size: 102400',
      '',
    ].join('\n'),
  );
  const child = spawn(daemon, ['-f', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
  const field = format === 'sflow' ? 'packets' : 'bytes';
  let octets = 0;
  let peak = 0;
  const consumer = kafka.consumer({ groupId: `${runId}-${daemon}-${format}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      try {
        const v = JSON.parse(message.value?.toString() ?? '{}') as Record<string, number | undefined>;
        octets += v[field] ?? 0;
      } catch {}
    },
  });
  await sleep(2000);
  return {
    unit: format === 'sflow' ? 'records' : 'octets',
    landed: async () => {
      peak = Math.max(peak, peakRssMb(child.pid!));
      return octets;
    },
    rssMb: () => Math.max(peak, peakRssMb(child.pid!)),
    async close() {
      peak = Math.max(peak, peakRssMb(child.pid!));
      await stop(child);
      await consumer.disconnect();
    },
  };
}

// ------------------------------------------------------------------------------------------------ run

async function ladder(
  target: Target,
  format: Format,
  file: string,
  sender: string,
): Promise<{ steps: Step[]; rss: number }> {
  const port = await freeUdpPort();
  const runner =
    target === 'wardwatch'
      ? await startWardwatch(port)
      : target === 'nfcapd'
        ? await startNfcapd(port)
        : await startNfacctd(port, format);
  const steps: Step[] = [];
  try {
    // Warm-up: templates reach the collector before the measured steps.
    send(sender, file, port, 200);
    let before = await settle(() => runner.landed());
    for (const rate of RATES) {
      const sent = send(sender, file, port, rate);
      const after = await settle(() => runner.landed());
      const landed = after - before;
      before = after;
      const want = runner.unit === 'records' ? sent.records : sent.octets;
      const loss = want > 0 ? Math.max(0, 1 - landed / want) : 1;
      const step = {
        rate,
        recordsPerSecond: Math.round(sent.records / sent.seconds),
        sent: want,
        landed,
        loss,
      };
      steps.push(step);
      log(
        `  ${target.padEnd(9)} ${format.padEnd(5)} ${String(rate).padStart(6)} datagrams/s  ${String(step.recordsPerSecond).padStart(9)} records/s  ` +
          `${runner.unit} sent=${want} landed=${landed} loss=${(loss * 100).toFixed(3)}%`,
      );
      if (loss > GIVE_UP) break;
    }
  } catch (err) {
    log(`# ${target} ${format}: the ladder stopped: ${err instanceof Error ? err.message : String(err)}`);
  }
  const rss = runner.rssMb();
  await runner.close();
  return { steps, rss };
}

function lossFree(steps: Step[]): number {
  let best = 0;
  for (const s of steps) if (s.loss < LOSS_FREE) best = Math.max(best, s.recordsPerSecond);
  return best;
}

async function main(): Promise<void> {
  for (const [cmd, pkg] of [
    ['softflowd', 'softflowd'],
    ['nfcapd', 'nfdump'],
    ['nfacctd', 'pmacct'],
    ['pmacctd', 'pmacct'],
    ['gcc', 'gcc'],
  ] as const) {
    if (TARGETS.includes('nfcapd') || cmd !== 'nfcapd') ensureTool(cmd, pkg);
  }
  log(
    `# collector benchmark ${new Date().toISOString()}: ${SECONDS} s per step, rates ${RATES.join(',')} datagrams/s, Wardwatch compression ${COMPRESSION}`,
  );
  log(
    `# machine: ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores (shared with other work: figures are indicative)`,
  );
  const sender = compileSender();
  if (TARGETS.includes('wardwatch')) prebuild();
  const pcap = join(dir, 'flows.pcap');
  const t0 = Date.now() - 120_000;
  writePcap(
    pcap,
    Array.from({ length: FLOWS }, (_, i) => ({
      tsMs: t0 + Math.floor(i / 20),
      src: `10.${(i >> 12) & 15}.${(i >> 6) & 63}.${(i & 63) + 1}`,
      dst: `203.0.113.${(i % 250) + 1}`,
      protocol: (i % 3 === 0 ? 17 : 6) as 6 | 17,
      srcPort: 10_000 + (i % 50_000),
      dstPort: i % 3 === 0 ? 53 : 443,
      payload: 40 + (i % 1200),
    })),
  );
  const files: Record<Format, string> = { v9: '', ipfix: '', sflow: '' };
  for (const f of FORMATS) files[f] = await captureExport(pcap, f);

  const results = new Map<string, { rps: number; rss: number }>();
  for (const target of TARGETS as Target[]) {
    for (const format of FORMATS) {
      if (!takes(target, format)) continue;
      const { steps, rss } = await ladder(target, format, files[format], sender);
      const rps = lossFree(steps);
      results.set(`${target}_${format}`, { rps, rss });
      log(
        `= ${target} ${format}: highest rate with < 0.1% loss ${rps} records/s; peak RSS ${rss.toFixed(0)} MB`,
      );
    }
  }
  await cleanup();

  const kv: string[] = [];
  for (const target of TARGETS as Target[]) {
    const per = FORMATS.filter((f) => takes(target, f)).map((f) => results.get(`${target}_${f}`)!);
    if (per.length > 0) kv.push(`${target}_lossfree_rps=${Math.min(...per.map((p) => p.rps))}`);
  }
  for (const target of TARGETS as Target[]) {
    const per = FORMATS.filter((f) => takes(target, f)).map((f) => results.get(`${target}_${f}`)!);
    if (per.length === 0) continue;
    kv.push(`${target}_rss_mb=${Math.round(Math.max(...per.map((p) => p.rss)))}`);
  }
  for (const [k, v] of results) kv.push(`${k}_lossfree_rps=${v.rps}`);
  log(kv.join(' '));
}

async function cleanup(): Promise<void> {
  // The benchmark's topics hold millions of records: remove them from the shared broker.
  const kafka = new Kafka({ clientId: 'bench-collector', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${runId}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } catch (err) {
    log(`# could not delete the benchmark topics: ${err}`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

main().catch(async (err) => {
  console.error(err);
  await cleanup().catch(() => {});
  process.exitCode = 1;
});
