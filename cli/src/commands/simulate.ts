import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { parseArgs } from 'node:util';
import { createExportEncoder, type ExportEncoder } from '@wardwatch/flow-encoder';
import type { FlowRecord } from '@wardwatch/flow-schema';
import { createHospitalSim, createLoadHospital, type SimScenario } from './simulate-scenario.ts';

const USAGE = `usage: wardwatch simulate [options]

Sends NetFlow v9 or IPFIX from a simulated hospital to a collector, with a progress line.

  --target HOST:PORT     collector address (default 127.0.0.1:2055)
  --protocol v9|ipfix    export protocol (default ipfix)
  --scenario NAME        hospital: the analytics scenario (packages/hospital-sim): 45 devices of 12
                         classes on their schedules, a silent monitor, a compromised pump (scan, then
                         exfiltration), lateral movement from a workstation, replayed in flow time;
                         load: a scalable hospital paced to --rate records/s (throughput demos)
                         (default hospital)
  --speed N              hospital: flow-time seconds per wall-clock second (default 1; 30 plays the
                         45 minutes in 90 s, ending at the present)
  --minutes N            hospital: minutes of flow time to play (default 45)
  --active-timeout S     hospital: flow seconds each exported record covers, like a router's active
                         timeout (default 10)
  --attack-at T          when the attacks start, from the scenario start: 90s, 31m (default 31m for
                         hospital, 30s for load); "none" for a clean hospital
  --rate N               load: background flow records per second (default 500); attacks come on top
  --devices N            load: devices, 10-2000 (default 60)
  --duration S           stop after S wall-clock seconds (default: the scenario's end, or until
                         interrupted for load)
  --records N            stop after about N records
  --exporters N          simulated routers, each with its own observation domain (default 2)
  --seed N               same seed, same hospital (default 1)
  --list                 print the scenario (devices, attacks, monitored networks) as JSON and exit
  --quiet                no progress line`;

/** What the simulator did, printed as one JSON line at the end. */
export interface SimulateSummary {
  target: string;
  protocol: 'v9' | 'ipfix';
  seconds: number;
  records: number;
  packets: number;
  bytes: number;
  recordsPerSecond: number;
}

function positiveInt(name: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min)
    throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
  return Number(v);
}

function parseTarget(target: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(target) ?? /^([^:]+):(\d+)$/.exec(target);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !(port >= 1 && port <= 65535)) throw new Error(`--target must be HOST:PORT, got ${target}`);
  return { host: m[1]!, port };
}

/** `90s`, `31m`, `1h` (or a bare number of seconds) as milliseconds; `none` as -1. */
function parseOffset(v: string): number {
  if (v === 'none') return -1;
  const m = /^(\d+)(s|m|h)?$/.exec(v);
  if (!m) throw new Error(`--attack-at must be like 90s, 31m or none, got ${v}`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

/** A /24 (or /64-ish prefix) of the record's internal end: which simulated router exported it. */
function subnetHash(r: FlowRecord): number {
  const a = /^(10|172|192)\./.test(r.srcAddr) ? r.srcAddr : r.dstAddr;
  const prefix = a.slice(0, a.lastIndexOf(a.includes(':') ? ':' : '.'));
  let h = 0;
  for (let i = 0; i < prefix.length; i++) h = (h * 31 + prefix.charCodeAt(i)) >>> 0;
  return h;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const clock = (s: number) =>
  `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

/** `wardwatch simulate`: a simulated hospital's routers exporting flows to a collector. */
export async function simulateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: 'string', default: '127.0.0.1:2055' },
      protocol: { type: 'string', default: 'ipfix' },
      scenario: { type: 'string', default: 'hospital' },
      speed: { type: 'string' },
      minutes: { type: 'string' },
      'active-timeout': { type: 'string' },
      'attack-at': { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      records: { type: 'string' },
      devices: { type: 'string' },
      exporters: { type: 'string' },
      seed: { type: 'string' },
      list: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const named = values.protocol.toLowerCase();
  const protocol =
    named === 'v9' || named === '9' ? 'v9' : named === 'ipfix' || named === '10' ? 'ipfix' : '';
  if (protocol === '') throw new Error(`--protocol must be v9 or ipfix, got ${values.protocol}`);
  const version = protocol === 'v9' ? 9 : 10;
  const rate = positiveInt('rate', values.rate, 500);
  const durationS = positiveInt('duration', values.duration, 0, 0);
  const maxRecords = positiveInt('records', values.records, 0, 0);
  const exporterCount = positiveInt('exporters', values.exporters, 2);
  const seed = positiveInt('seed', values.seed, 1, 0);
  const wallStart = Date.now();
  let scenario: SimScenario;
  let speed = 1;
  let activeTimeoutMs = 0;
  if (values.scenario === 'hospital') {
    speed = positiveInt('speed', values.speed, 1);
    const durationMs = positiveInt('minutes', values.minutes, 45) * 60_000;
    activeTimeoutMs = positiveInt('active-timeout', values['active-timeout'], 10) * 1000;
    const attackAtMs = parseOffset(values['attack-at'] ?? '31m');
    if (attackAtMs >= durationMs) throw new Error('--attack-at must fall inside --minutes');
    // Flow time starts in the past so that, played at `speed`, it never runs ahead of the wall clock.
    scenario = createHospitalSim({
      startMs: wallStart - durationMs + durationMs / speed,
      durationMs,
      seed,
      attacks: attackAtMs >= 0,
      attackAtMs: Math.max(attackAtMs, 60_000),
    });
  } else if (values.scenario === 'load') {
    const attackAtMs = parseOffset(values['attack-at'] ?? '30s');
    scenario = createLoadHospital({
      devices: positiveInt('devices', values.devices, 60, 10),
      seed,
      startMs: wallStart,
      attackAfterS: attackAtMs < 0 ? -1 : attackAtMs / 1000,
    });
  } else {
    throw new Error(`--scenario must be hospital or load, got ${values.scenario}`);
  }
  if (values.list) {
    console.log(
      JSON.stringify({
        scenario: scenario.name,
        startMs: scenario.startMs,
        endMs: Number.isFinite(scenario.endMs) ? scenario.endMs : null,
        monitoredNetworks: scenario.monitoredNetworks,
        devices: scenario.devices,
        attacks: scenario.attacks,
      }),
    );
    return 0;
  }
  const { host, port } = parseTarget(values.target);
  const address = (await lookup(host)).address;
  const family = address.includes(':') ? 'udp6' : 'udp4';

  // One socket and one encoder per simulated router; each router serves a few VLANs.
  const exporters: Array<{ socket: Socket; encoder: ExportEncoder; batch: FlowRecord[] }> = [];
  for (let i = 0; i < exporterCount; i++) {
    exporters.push({
      socket: createSocket(family),
      encoder: createExportEncoder({ version, observationDomain: i + 1 }),
      batch: [],
    });
  }
  const routerOf = (r: FlowRecord) => subnetHash(r) % exporterCount;

  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  const quiet = values.quiet;
  const tty = process.stderr.isTTY === true;
  let records = 0;
  let packets = 0;
  let bytes = 0;
  let lastProgress = 0;
  let sendErrors = 0;
  const flowAt = (wallMs: number) =>
    Math.min(scenario.endMs, scenario.startMs + (wallMs - wallStart) * speed);
  const offset = (ms: number) => clock(Math.max(0, ms - scenario.startMs) / 1000);
  if (!quiet) {
    const attackNote = scenario.attacks.length
      ? scenario.attacks.map((a) => `${a.kind} by ${a.device} at +${offset(a.atMs)}`).join(', ')
      : 'no attack';
    const span = Number.isFinite(scenario.endMs)
      ? `${offset(scenario.endMs)} of flow time at ${speed}x`
      : 'open-ended';
    console.error(
      `simulate: ${scenario.name}, ${scenario.devices.length} devices, ${exporterCount} exporters -> ` +
        `${host}:${port} (${protocol}), ${span}; ${attackNote}`,
    );
  }
  const progress = (final: boolean) => {
    if (quiet) return;
    const s = (Date.now() - wallStart) / 1000;
    const flow = flowAt(Date.now());
    const started = scenario.attacks.filter((a) => a.atMs <= flow).map((a) => a.kind);
    const line =
      `${clock(s)}  flow +${offset(flow)}  records ${fmt(records)} (${fmt(records / Math.max(s, 0.001))}/s)  ` +
      `packets ${fmt(packets)}  attacks: ${started.length ? [...new Set(started)].join(', ') : 'none yet'}` +
      `${sendErrors ? `  send errors ${sendErrors}` : ''}`;
    if (tty) process.stderr.write(`\r${line.padEnd(110)}${final ? '\n' : ''}`);
    else console.error(line);
  };

  const tickMs = 100;
  let windowStart = scenario.startMs;
  try {
    while (!stopping) {
      const now = Date.now();
      const flowNow = flowAt(now);
      const ended = flowNow >= scenario.endMs;
      // One export round per active timeout of flow time (every tick for the load model), and the rest at the end.
      if (flowNow - windowStart >= activeTimeoutMs || ended) {
        const recs = scenario.records(windowStart, flowNow, rate);
        windowStart = flowNow;
        for (const r of recs) exporters[routerOf(r)]!.batch.push(r);
      }
      const sends: Promise<void>[] = [];
      for (const e of exporters) {
        for (const p of e.encoder.encode(e.batch, now)) {
          packets++;
          bytes += p.length;
          sends.push(
            new Promise<void>((resolve) =>
              e.socket.send(p, port, address, (err) => {
                if (err) sendErrors++;
                resolve();
              }),
            ),
          );
        }
        records += e.batch.length;
        e.batch = [];
      }
      await Promise.all(sends);
      const elapsedS = (Date.now() - wallStart) / 1000;
      if (ended || (durationS > 0 && elapsedS >= durationS) || (maxRecords > 0 && records >= maxRecords))
        break;
      if (Date.now() - lastProgress >= (tty ? 1000 : 10_000)) {
        progress(false);
        lastProgress = Date.now();
      }
      await new Promise((r) => setTimeout(r, Math.max(0, tickMs - (Date.now() - now))));
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await Promise.all(exporters.map((e) => new Promise<void>((r) => e.socket.close(() => r()))));
  }
  progress(true);
  const seconds = (Date.now() - wallStart) / 1000;
  const summary: SimulateSummary = {
    target: `${host}:${port}`,
    protocol,
    seconds: Math.round(seconds * 10) / 10,
    records,
    packets,
    bytes,
    recordsPerSecond: Math.round(records / Math.max(seconds, 0.001)),
  };
  console.log(JSON.stringify(summary));
  return sendErrors > 0 ? 1 : 0;
}
