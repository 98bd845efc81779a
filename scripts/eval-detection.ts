// The detection scorecard (issue 17): seeded hospital scenarios (different device mixes, attack timings,
// day/night load), each replayed minute by minute through a real exporter (softflowd or pmacctd nfprobe, at
// 1:1 or 1:100 packet sampling) into the embedded stack (collector, in-process bus, analytics, PGlite, API).
// Prints per-class precision and recall, group purity and completeness, each attack's detection delay in
// flow time, the false alerts on clean devices; the last line is `key=value` figures.
//
// The seeds here are used by no test, so the figures are not tuned to them. Options (env):
//   EVAL_RUNS=a,b   only these runs (by name)      EVAL_LOG=warn   the stack's log level
//   EVAL_SILENCE_AFTER=45s   analytics.silenceAfter (default: the product's, 2m): what the silence delay needs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWardwatch, type Wardwatch } from '../cli/src/index.ts';
import { loadConfig } from '../packages/config/src/index.ts';
import { createScenario, type Scenario, type SimDevice } from '../packages/hospital-sim/src/index.ts';
import { createLogger } from '../packages/telemetry/src/index.ts';
import {
  runPmacctdNfprobe,
  runSoftflowd,
  type SyntheticPacket,
  waitFor,
  writePcap,
} from '../packages/testkit/src/index.ts';

const MINUTE = 60_000;
const API_KEY = 'eval-detection-admin-key-0123456789';

interface Run {
  name: string;
  seed: number;
  exporter: 'softflowd' | 'pmacctd';
  sampling: number;
  attackAtMin: number;
  silenceAtMin: number;
  utcOffsetHours: number;
  /** Extra devices: clones of a clean device's traffic under a new address (a different hospital mix). */
  clones: Array<[string, string]>;
}

const range = (prefix: string, from: number, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${from + i}`);

const RUNS: Run[] = [
  {
    name: 'day-softflowd-1:1',
    seed: 4242,
    exporter: 'softflowd',
    sampling: 1,
    attackAtMin: 31,
    silenceAtMin: 24,
    utcOffsetHours: 0,
    clones: [],
  },
  {
    name: 'night-pmacctd-1:1-more-pumps',
    seed: 5353,
    exporter: 'pmacctd',
    sampling: 1,
    attackAtMin: 27,
    silenceAtMin: 33,
    utcOffsetHours: 12,
    // Eight more pumps and four more monitors (clones of clean ones: pump 1 and monitor 1 are never attacked).
    clones: [
      ...range('10.20.2.', 1, 8).map((ip) => ['10.20.1.1', ip] as [string, string]),
      ...range('10.30.2.', 1, 4).map((ip) => ['10.30.1.1', ip] as [string, string]),
    ],
  },
  {
    name: 'day-softflowd-1:100-more-workstations',
    seed: 6464,
    exporter: 'softflowd',
    sampling: 100,
    attackAtMin: 35,
    silenceAtMin: 22,
    utcOffsetHours: 3,
    clones: range('10.90.3.', 1, 6).map((ip) => ['10.90.1.1', ip] as [string, string]),
  },
  {
    name: 'night-pmacctd-1:100',
    seed: 7575,
    exporter: 'pmacctd',
    sampling: 100,
    attackAtMin: 29,
    silenceAtMin: 30,
    utcOffsetHours: 20,
    clones: range('10.50.2.', 1, 3).map((ip) => ['10.50.1.2', ip] as [string, string]),
  },
];

interface ApiAlert {
  deviceIp: string;
  kind: string;
  firstSeen: string;
}

async function api<T>(ww: Wardwatch, path: string): Promise<T> {
  const res = await fetch(`${ww.policy!.url()}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

function cloneAs(packets: SyntheticPacket[], from: string, as: string): SyntheticPacket[] {
  return packets
    .filter((p) => p.src === from || p.dst === from)
    .map((p) => ({ ...p, src: p.src === from ? as : p.src, dst: p.dst === from ? as : p.dst }));
}

interface RunResult {
  run: Run;
  truth: Map<string, string>;
  /** Device -> its real kind (the simulator's template: `pump`, `pump-server`), what groups are scored on. */
  kinds: Map<string, string>;
  clean: Set<string>;
  predicted: Map<string, string>;
  groups: Array<{ id: number; members: string[] }>;
  attacks: Array<{ device: string; kind: string; detected: boolean; delayS: number | undefined }>;
  falseAlerts: string[];
  deviceDays: number;
}

async function runOne(run: Run): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ww-eval-'));
  const scenario: Scenario = createScenario({
    seed: run.seed,
    // Recent flow time, as a live exporter sends (the exporters stamp flows relative to their own clock).
    startMs: Math.floor((Date.now() - 50 * MINUTE) / MINUTE) * MINUTE,
    durationMs: 45 * MINUTE,
    attackAtMs: run.attackAtMin * MINUTE,
    silenceAtMs: run.silenceAtMin * MINUTE,
    utcOffsetHours: run.utcOffsetHours,
  });
  const config = loadConfig({
    env: {},
    overrides: {
      mode: 'embedded',
      dataDir: join(dir, 'data'),
      monitoredNetworks: scenario.monitoredNetworks,
      'collector.host': '127.0.0.1',
      'collector.udpPorts': [0],
      'collector.tcpPorts': [0],
      'collector.lingerMs': 20,
      'api.host': '127.0.0.1',
      'api.port': 0,
      'api.bootstrapApiKey': API_KEY,
      'analytics.learningPeriod': '15m',
      'analytics.baselineBucket': '1m',
      // The exporters' active timeout here is the one-minute window: flows are never later than that.
      'analytics.allowedLateness': '1m',
      ...(process.env.EVAL_SILENCE_AFTER ? { 'analytics.silenceAfter': process.env.EVAL_SILENCE_AFTER } : {}),
      logLevel: process.env.EVAL_LOG ?? 'error',
    },
  });
  const ww = await startWardwatch(
    config,
    createLogger({ level: (process.env.EVAL_LOG ?? 'error') as 'error' }),
  );
  const truth = new Map<string, string>(scenario.devices.map((d: SimDevice) => [d.ip, d.class]));
  const kinds = new Map<string, string>(scenario.devices.map((d: SimDevice) => [d.ip, d.kind]));
  for (const [from, as] of run.clones) {
    truth.set(as, truth.get(from)!);
    kinds.set(as, kinds.get(from)!);
  }
  const attacked = new Set(scenario.devices.filter((d) => d.attacked).map((d) => d.ip));
  const clean = new Set([...truth.keys()].filter((ip) => !attacked.has(ip)));
  const firstSeenAt = new Map<string, number>();
  try {
    const port = ww.collector!.ports()[0]!;
    for (const [i, [from, to]] of scenario.windows(MINUTE).entries()) {
      const base = scenario.packets(from, to);
      const packets = [...base, ...run.clones.flatMap(([orig, as]) => cloneAs(base, orig, as))].sort(
        (a, b) => a.tsMs - b.tsMs,
      );
      const pcap = join(dir, `w${i}.pcap`);
      writePcap(pcap, packets);
      const target = `127.0.0.1:${port}`;
      if (run.exporter === 'softflowd')
        await runSoftflowd({ pcap, target, version: 9, samplingRate: run.sampling });
      else await runPmacctdNfprobe({ pcap, target, version: 10, samplingRate: run.sampling });
      rmSync(pcap);
      await ww.collector!.flush();
      await waitFor(
        async () => {
          const a = ww.analytics!.counts();
          return a.records + a.skipped >= ww.collector!.counts().published ? true : undefined;
        },
        { what: `minute ${i} through analytics`, timeoutMs: 120_000, intervalMs: 20 },
      );
      await ww.analytics!.flush();
      // The grouping job runs every 5 minutes (analytics.groupInterval); here, every 5 minutes of flow time.
      if (i % 5 === 4) await ww.analytics!.regroup();
      const alerts = (await api<{ items: ApiAlert[] }>(ww, '/v1/alerts?limit=1000')).items;
      for (const a of alerts) {
        const key = `${a.deviceIp} ${a.kind}`;
        if (!firstSeenAt.has(key)) firstSeenAt.set(key, to);
      }
    }
    await ww.analytics!.regroup();
    const devices = (await api<{ items: Array<{ ip: string; class: string }> }>(ww, '/v1/devices?limit=1000'))
      .items;
    const groups = (
      await api<{ items: Array<{ id: number; members: Array<{ ip: string }> }> }>(ww, '/v1/groups')
    ).items;
    const alerts = (await api<{ items: ApiAlert[] }>(ww, '/v1/alerts?limit=1000')).items;
    const attacks = scenario.expectedAlerts.map((e) => {
      const at = firstSeenAt.get(`${e.device} ${e.kind}`);
      return {
        device: e.device,
        kind: e.kind,
        detected: at !== undefined,
        delayS: at === undefined ? undefined : Math.max(0, (at - e.atMs) / 1000),
      };
    });
    const falseAlerts = alerts.filter((a) => clean.has(a.deviceIp)).map((a) => `${a.deviceIp} ${a.kind}`);
    if (process.env.EVAL_DEBUG)
      for (const a of alerts)
        if (attacked.has(a.deviceIp)) console.log(`  debug alert: ${JSON.stringify(a)}`);
    return {
      run,
      truth,
      kinds,
      clean,
      predicted: new Map(devices.map((d) => [d.ip, d.class])),
      groups: groups.map((g) => ({
        id: g.id,
        members: g.members.map((m) => m.ip).filter((ip) => truth.has(ip)),
      })),
      attacks,
      falseAlerts,
      deviceDays: (clean.size * (scenario.endMs - scenario.startMs)) / 86_400_000,
    };
  } finally {
    await ww.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');

async function main(): Promise<void> {
  const only = process.env.EVAL_RUNS?.split(',');
  const runs = RUNS.filter((r) => !only || only.includes(r.name));
  const results: RunResult[] = [];
  for (const run of runs) {
    const t0 = Date.now();
    const r = await runOne(run);
    results.push(r);
    const detected = r.attacks.filter((a) => a.detected).length;
    console.log(
      `run ${run.name} (seed ${run.seed}, ${run.exporter}, 1:${run.sampling}, ${r.truth.size} devices): ` +
        `${detected}/${r.attacks.length} attacks, ${r.falseAlerts.length} false alerts, ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
    for (const a of r.attacks)
      console.log(
        `  attack ${a.kind} on ${a.device}: ${a.detected ? `detected after ${a.delayS} s of flow time` : 'MISSED'}`,
      );
    for (const fa of r.falseAlerts) console.log(`  false alert: ${fa} (${r.truth.get(fa.split(' ')[0]!)})`);
    for (const g of r.groups) {
      const count = new Map<string, number>();
      for (const ip of g.members) count.set(r.kinds.get(ip)!, (count.get(r.kinds.get(ip)!) ?? 0) + 1);
      console.log(`  group ${g.id}: ${[...count].map(([k, n]) => `${n} ${k}`).join(', ')}`);
    }
  }

  printClasses(results);
  // The figures per sampling rate, then over every run (the last line).
  for (const rate of [...new Set(results.map((r) => r.run.sampling))].sort((x, y) => x - y)) {
    const subset = results.filter((r) => r.run.sampling === rate);
    console.log(`sampling 1:${rate} (${subset.length} runs): ${keyValues(subset)}`);
  }
  console.log(keyValues(results));
}

/** Per-class precision and recall over the runs. */
function printClasses(results: RunResult[]): void {
  const classes = new Set<string>();
  for (const r of results) for (const c of r.truth.values()) classes.add(c);
  console.log('class                 precision  recall  devices');
  for (const c of [...classes].sort()) {
    let tp = 0;
    let predicted = 0;
    let actual = 0;
    for (const r of results) {
      for (const [ip, t] of r.truth) {
        const p = r.predicted.get(ip) ?? 'missing';
        if (t === c) actual++;
        if (p === c) predicted++;
        if (t === c && p === c) tp++;
      }
    }
    console.log(
      `${c.padEnd(22)}${f3(tp / predicted).padStart(9)}  ${f3(tp / actual).padStart(6)}  ${actual}`,
    );
  }
}

/**
 * Group purity (members in their group's majority label) and completeness (members in their label's
 * largest group), over the runs, with each device labelled by `labelOf` (its kind, or its class).
 */
function groupScore(results: RunResult[], labelOf: (r: RunResult) => Map<string, string>) {
  let pure = 0;
  let complete = 0;
  let members = 0;
  for (const r of results) {
    const truth = labelOf(r);
    const byLabel = new Map<string, Map<number, number>>();
    for (const g of r.groups) {
      const labels = new Map<string, number>();
      for (const ip of g.members) {
        const k = truth.get(ip)!;
        labels.set(k, (labels.get(k) ?? 0) + 1);
        const per = byLabel.get(k) ?? new Map<number, number>();
        per.set(g.id, (per.get(g.id) ?? 0) + 1);
        byLabel.set(k, per);
        members++;
      }
      if (labels.size > 0) pure += Math.max(...labels.values());
    }
    for (const per of byLabel.values()) complete += Math.max(...per.values());
  }
  return { purity: pure / members, completeness: complete / members };
}

/**
 * The scorecard's figures over some runs: class accuracy, group purity and completeness against the
 * devices' real kinds (`group_purity`, `group_completeness`) and against their classes (`_by_class`: the
 * five `server` kinds apart count as incomplete there), attacks detected, the longest detection delay,
 * false alerts per clean device-day.
 */
function keyValues(results: RunResult[]): string {
  let right = 0;
  let total = 0;
  for (const r of results)
    for (const [ip, t] of r.truth) {
      total++;
      if (r.predicted.get(ip) === t) right++;
    }
  const byKind = groupScore(results, (r) => r.kinds);
  const byClass = groupScore(results, (r) => r.truth);
  const attacks = results.flatMap((r) => r.attacks);
  const detected = attacks.filter((a) => a.detected);
  const maxDelay = detected.length > 0 ? Math.max(...detected.map((a) => a.delayS!)) : Number.NaN;
  const falseCount = results.reduce((n, r) => n + r.falseAlerts.length, 0);
  const deviceDays = results.reduce((n, r) => n + r.deviceDays, 0);
  return [
    `class_accuracy=${f3(right / total)}`,
    `group_purity=${f3(byKind.purity)}`,
    `group_completeness=${f3(byKind.completeness)}`,
    `group_purity_by_class=${f3(byClass.purity)}`,
    `group_completeness_by_class=${f3(byClass.completeness)}`,
    `attacks_detected=${detected.length}/${attacks.length}`,
    `max_delay_s=${Number.isFinite(maxDelay) ? maxDelay : 'n/a'}`,
    `false_alerts_per_device_day=${f3(falseCount / deviceDays)}`,
  ].join(' ');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
