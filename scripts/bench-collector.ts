// Collector benchmark (`pnpm bench:collector`): replays softflowd's NetFlow v9 and IPFIX exports of one
// generated pcap, at increasing rates, to (a) Wardwatch's collector publishing to the real Kafka broker,
// (b) nfcapd (nfdump) writing to disk, (c) nfacctd (pmacct) with its Kafka plugin to the same broker;
// and pmacctd's sFlow v5 (sfprobe, 1:1) of the same pcap to Wardwatch and to (d) sfacctd (pmacct) with
// its Kafka plugin. Same packets, same sender (a C program compiled here), same run. For each it prints
// per-step loss and CPU (per thread for Wardwatch, per process for the pmacct daemons, and the Kafka
// broker's), the highest rate with < 0.1% loss (the lower of two passes) and the peak RSS; the last line
// is key=value figures, among them the CPU per record of each NetFlow/IPFIX target over the highest step
// that every one of them held loss-free.
//
// Loss is measured where the data lands: Wardwatch's records acknowledged by Kafka (acks=all), nfcapd's
// records in its file (nfdump -I), nfacctd's bytes in its Kafka messages (it aggregates records, so it
// is compared by the octets the records carried). For sFlow a record is a flow sample: at 1:1 each is one
// packet, so sfacctd's aggregated `packets` count its samples exactly (its octets include L2 framing). Loopback only; every loop is bounded in count and time.
//
// Environment: BENCH_RATES (datagrams/s, comma list), BENCH_SECONDS (per step, default 5), BENCH_PASSES
// (default 2), BENCH_TARGETS (wardwatch,nfcapd,nfacctd,sfacctd), BENCH_FORMATS (v9,ipfix,sflow),
// BENCH_COMPRESSION (Wardwatch's Kafka compression, default lz4, the configuration's default),
// BENCH_COLLECTOR_YAML (extra lines for Wardwatch's `collector:` section, e.g. '  batchRecords: 1000'),
// BENCH_NODE_OPTIONS (the collector's NODE_OPTIONS, default its deployed '--max-semi-space-size=8'),
// KAFKA_BROKERS (default 127.0.0.1:9092: the broker already running there is used, never a second one).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
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
// ~31 records a datagram: 6 500 datagrams/s is ~200k records/s; above it each step is <= 25 % above the last.
const DEFAULT_RATES = '2000,5000,6500,8000,10000,12500,15500,19500,24500,30500,38000,47500,59500,74500';
const RATES = (process.env.BENCH_RATES ?? DEFAULT_RATES).split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PASSES = Math.max(1, Number(process.env.BENCH_PASSES ?? 2));
const COLLECTOR_YAML = process.env.BENCH_COLLECTOR_YAML ?? '';
const TARGETS = (process.env.BENCH_TARGETS ?? 'wardwatch,nfcapd,nfacctd,sfacctd').split(',');
const FORMATS = (process.env.BENCH_FORMATS ?? 'v9,ipfix,sflow').split(',') as Format[];
const COMPRESSION = process.env.BENCH_COMPRESSION ?? 'lz4';
const FLOWS = 20_000;
const LOSS_FREE = 0.001;
/** Past this loss, or after two steps in a row above LOSS_FREE, a target's ladder stops: higher rates only lose more. */
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
  /** Records the sender sent in the step. */
  records: number;
  sent: number;
  landed: number;
  loss: number;
  /** CPU seconds of the target over the step (send and settle), by part; `total` is all of it. */
  cpu: Record<string, number>;
  /** CPU seconds of the Kafka broker over the step. */
  brokerCpu: number;
  /** Wall seconds the CPU figures cover (the send, then the wait until the landed count settles). */
  wall: number;
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

/** Pids of a process's children (one level: the collectors here fork at most once). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(p));
    } catch {}
  }
  return out;
}

/** CPU seconds (user + system, all threads) of a process or thread from its /proc stat file; 0 once gone. */
function cpuSeconds(statPath: string): number {
  try {
    const stat = readFileSync(statPath, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** The pid of the process listening on a TCP port (the Kafka broker), from /proc/net/tcp{,6} and fds. */
function listenerPid(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      if (Number.parseInt(f[1]!.split(':')[1] ?? '', 16) === port) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${p}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return Number(p);
      } catch {}
    }
  }
  return undefined;
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
  /** CPU seconds used since start, cumulative, by part (`total` is the sum of all the target's processes). */
  cpu(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/**
 * The collector's V8 flags as docker-compose.yml and deploy/k8s run it (`NODE_OPTIONS`): a small young
 * generation keeps its peak RSS down when flooded (the analytics worker, by contrast, runs with a larger one).
 */
const COLLECTOR_NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? '--max-semi-space-size=8';

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
      ...(COLLECTOR_YAML ? COLLECTOR_YAML.split('\\n') : []),
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
  // A collector flooded on a machine this busy may not answer a scrape at once: a few tries, 1 s apart.
  const scrape = async (): Promise<string> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(15_000) })).text();
      } catch (err) {
        if (attempt >= 4) throw err;
        await sleep(1_000);
      }
    }
  };
  const metric = async (name: string) => {
    const text = await scrape();
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
  const pid = child.pid!;
  return {
    unit: 'records',
    landed: () => metric('wardwatch_collector_records_published_total'),
    rssMb: () => peakRssMb(pid),
    async cpu() {
      // Per thread as the collector reads /proc for its threads (receive = main thread, decode-N);
      // `other` is the rest of the process: V8's GC helpers and libuv's pool (LZ4 compression).
      const text = await scrape();
      const out: Record<string, number> = { total: cpuSeconds(`/proc/${pid}/stat`) };
      let named = 0;
      for (const m of text.matchAll(/^wardwatch_collector_thread_cpu_seconds\{thread="([^"]+)"\} (\S+)$/gm)) {
        out[m[1]!] = Number(m[2]);
        named += Number(m[2]);
      }
      out.other = Math.max(0, out.total! - named);
      return out;
    },
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
  /** CPU seconds of the nfcapd processes of steps already collected. */
  let cpuDone = 0;
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
    cpuDone += cpuSeconds(`/proc/${child.pid}/stat`);
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
    async cpu() {
      const now = cpuDone + (child ? cpuSeconds(`/proc/${child.pid}/stat`) : 0);
      return { total: now };
    },
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
    async cpu() {
      // The core process and the Kafka plugin process it forked (librdkafka's threads are in it).
      const core = cpuSeconds(`/proc/${child.pid}/stat`);
      let plugins = 0;
      for (const p of childrenOf(child.pid!)) plugins += cpuSeconds(`/proc/${p}/stat`);
      return { total: core + plugins, core, plugin: plugins };
    },
    async close() {
      peak = Math.max(peak, peakRssMb(child.pid!));
      await stop(child);
      await consumer.disconnect();
    },
  };
}

// ------------------------------------------------------------------------------------------------ run

/** CPU figures of one step, one line: seconds per part, the broker's, and microseconds per record. */
function cpuLine(step: Step): string {
  const parts = Object.entries(step.cpu)
    .filter(([k]) => k !== 'total')
    .map(([k, v]) => `${k}=${v.toFixed(2)}`)
    .join(' ');
  const us = step.records > 0 ? (step.cpu.total! / step.records) * 1e6 : 0;
  return `cpu_s total=${step.cpu.total!.toFixed(2)}${parts ? ` ${parts}` : ''} broker=${step.brokerCpu.toFixed(2)} over ${step.wall.toFixed(1)} s; us/record=${us.toFixed(2)}`;
}

async function ladder(
  target: Target,
  format: Format,
  file: string,
  sender: string,
  pass: number,
): Promise<{ steps: Step[]; rss: number }> {
  const port = await freeUdpPort();
  const runner =
    target === 'wardwatch'
      ? await startWardwatch(port)
      : target === 'nfcapd'
        ? await startNfcapd(port)
        : await startNfacctd(port, format);
  const steps: Step[] = [];
  const brokerCpu = () => (brokerPid === undefined ? 0 : cpuSeconds(`/proc/${brokerPid}/stat`));
  try {
    // Warm-up: templates reach the collector before the measured steps.
    send(sender, file, port, 200);
    let before = await settle(() => runner.landed());
    let lossy = 0;
    for (const rate of RATES) {
      const cpu0 = await runner.cpu();
      const broker0 = brokerCpu();
      const wall0 = performance.now();
      const sent = send(sender, file, port, rate);
      const after = await settle(() => runner.landed());
      const cpu1 = await runner.cpu();
      const landed = after - before;
      before = after;
      const want = runner.unit === 'records' ? sent.records : sent.octets;
      const loss = want > 0 ? Math.max(0, 1 - landed / want) : 1;
      const cpu: Record<string, number> = {};
      for (const [k, v] of Object.entries(cpu1)) cpu[k] = Math.max(0, v - (cpu0[k] ?? 0));
      const step: Step = {
        rate,
        recordsPerSecond: Math.round(sent.records / sent.seconds),
        records: sent.records,
        sent: want,
        landed,
        loss,
        cpu,
        brokerCpu: brokerCpu() - broker0,
        wall: (performance.now() - wall0) / 1000,
      };
      steps.push(step);
      log(
        `  ${target.padEnd(9)} ${format.padEnd(5)} pass ${pass} ${String(rate).padStart(6)} datagrams/s  ${String(step.recordsPerSecond).padStart(9)} records/s  ` +
          `${runner.unit} sent=${want} landed=${landed} loss=${(loss * 100).toFixed(3)}%  ${cpuLine(step)}`,
      );
      lossy = loss >= LOSS_FREE ? lossy + 1 : 0;
      if (loss > GIVE_UP || lossy >= 2) break;
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

let brokerPid: number | undefined;

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
    `# collector benchmark ${new Date().toISOString()}: ${SECONDS} s per step, ${PASSES} passes, rates ${RATES.join(',')} datagrams/s, Wardwatch compression ${COMPRESSION}${COLLECTOR_YAML ? `, collector: ${COLLECTOR_YAML}` : ''}`,
  );
  log(
    `# machine: ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores (shared with other work: figures are indicative; compare targets within the run)`,
  );
  const brokerPort = Number(brokers[0]!.split(':').pop());
  brokerPid = listenerPid(brokerPort);
  log(
    brokerPid === undefined
      ? `# the Kafka broker on port ${brokerPort} is not a local process: its CPU is not measured`
      : `# Kafka broker: pid ${brokerPid} (shared: its CPU includes any other client's load)`,
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

  // Passes run one after the other over every target, so a change in the machine's other load falls on
  // all targets alike; each target's figure is its lower pass.
  const runs = new Map<string, { steps: Step[]; rss: number }[]>();
  for (let pass = 1; pass <= PASSES; pass++) {
    for (const target of TARGETS as Target[]) {
      for (const format of FORMATS) {
        if (!takes(target, format)) continue;
        const r = await ladder(target, format, files[format], sender, pass);
        const key = `${target}_${format}`;
        runs.set(key, [...(runs.get(key) ?? []), r]);
        log(
          `= ${target} ${format} pass ${pass}: highest rate with < 0.1% loss ${lossFree(r.steps)} records/s; peak RSS ${r.rss.toFixed(0)} MB`,
        );
      }
    }
  }
  await cleanup();

  const results = new Map<string, { rps: number; rss: number }>();
  for (const [key, list] of runs) {
    results.set(key, {
      rps: Math.min(...list.map((r) => lossFree(r.steps))),
      rss: Math.max(...list.map((r) => r.rss)),
    });
  }

  // CPU per record over the highest step that every target held loss-free in every format and pass.
  // sFlow is compared on its own (its records are samples, about 6 a datagram against ~31).
  const NETFLOW = FORMATS.filter((f) => f !== 'sflow');
  const all = [...runs.entries()].filter(([k]) => !k.endsWith('_sflow')).flatMap(([, v]) => v);
  const common = [...RATES]
    .reverse()
    .find((rate) => all.every((r) => r.steps.some((s) => s.rate === rate && s.loss < LOSS_FREE)));
  const cpuPerRecord = new Map<Target, number>();
  if (common !== undefined) {
    for (const target of TARGETS as Target[]) {
      if (target === 'sfacctd') continue;
      let cpu = 0;
      let records = 0;
      const parts: Record<string, number> = {};
      let broker = 0;
      for (const format of NETFLOW) {
        for (const r of runs.get(`${target}_${format}`) ?? []) {
          const s = r.steps.find((x) => x.rate === common)!;
          cpu += s.cpu.total!;
          records += s.records;
          broker += s.brokerCpu;
          for (const [k, v] of Object.entries(s.cpu)) if (k !== 'total') parts[k] = (parts[k] ?? 0) + v;
        }
      }
      const us = (cpu / records) * 1e6;
      cpuPerRecord.set(target, us);
      const per = Object.entries(parts)
        .map(([k, v]) => `${k}=${((v / records) * 1e6).toFixed(2)}`)
        .join(' ');
      log(
        `= ${target} CPU at ${common} datagrams/s (every target loss-free): ${us.toFixed(2)} us/record${per ? ` (${per})` : ''}; broker ${((broker / records) * 1e6).toFixed(2)} us/record`,
      );
    }
  } else {
    log('= no step was loss-free for every target in every pass: no CPU per record compared');
  }

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
  kv.push(`cpu_step_dps=${common ?? 0}`);
  for (const target of TARGETS as Target[]) {
    const us = cpuPerRecord.get(target);
    if (target !== 'sfacctd')
      kv.push(`${target}_cpu_us_per_record=${us === undefined ? 'NaN' : us.toFixed(2)}`);
  }
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
