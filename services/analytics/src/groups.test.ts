import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createDeviceMatcher } from '@wardwatch/flow-schema';
import { createScenario, mulberry32, routeByDevice } from '@wardwatch/hospital-sim';
import { isPeriodic } from './detect.ts';
import {
  featuresOfProfile,
  type GroupEntry,
  type GroupInput,
  groupProfiles,
  missCost,
  observedFeatures,
  observedSimilarity,
  similarity,
  wellObservedGains,
} from './groups.ts';
import { applyRecord } from './model/apply-record.ts';
import {
  type ApplyContext,
  createDeviceModel,
  type DeviceModel,
  DIRECTION_NAMES,
} from './model/device-model.ts';
import { loadSignatures } from './signatures.ts';

const signatures = loadSignatures();

/**
 * The simulated hospital's devices as the worker models them after `minutes` of clean traffic, exported
 * with 1-in-`sampling` packet sampling; `truth` is each device's real kind (its simulator template).
 */
function simulatedProfiles(
  seed: number,
  minutes: number,
  sampling = 1,
): { inputs: GroupInput[]; truth: Map<string, string> } {
  const scenario = createScenario({
    seed,
    attacks: false,
    durationMs: minutes * 60_000,
    startMs: Date.UTC(2026, 0, 5, 8),
  });
  const matcher = createDeviceMatcher(scenario.monitoredNetworks);
  const ctx: ApplyContext = {
    isInternal: (a) => matcher.isDevice(a),
    servicePorts: signatures.servicePorts,
    maxPeers: 256,
    learningMs: 15 * 60_000,
    scanWindowMs: 60_000,
    isThreat: () => false,
    late: { count: 0 },
    maxSkewMs: 120_000,
    clamped: { count: 0 },
    openFrom: 0,
  };
  const models = new Map<string, DeviceModel>();
  // Sampled: one-minute records, as the scorecard's exporters send (a sampled flow is seen per minute).
  for (const [from, to] of scenario.windows((sampling > 1 ? 1 : 5) * 60_000)) {
    const window = scenario.records(from, to, { samplingRate: sampling, samplingSeed: seed });
    for (const [device, records] of routeByDevice(window, scenario.monitoredNetworks)) {
      let m = models.get(device);
      if (!m) {
        m = createDeviceModel(device, 0);
        models.set(device, m);
      }
      for (const r of records) applyRecord(m, r, ctx, 60_000);
    }
  }
  const truth = new Map(scenario.devices.map((d) => [d.ip, d.kind]));
  // The grouping job groups the devices that have a profile.
  const inputs = [...models.values()]
    .filter((m) => truth.has(m.ip) && m.profile.size > 0)
    .map((m) => ({
      ip: m.ip,
      periodic: isPeriodic(m),
      class: 'unknown',
      entries: [...m.profile.values()].map((e) => ({
        peer: e.peer,
        port: e.port,
        proto: e.proto,
        dir: DIRECTION_NAMES[e.dir]!,
        internal: e.internal,
        flows: e.flows,
      })),
    }));
  return { inputs, truth };
}

/** Purity: members in their group's majority kind. Completeness: members in their kind's largest group. */
function score(groups: ReturnType<typeof groupProfiles>['groups'], truth: Map<string, string>) {
  let pure = 0;
  let total = 0;
  const byKind = new Map<string, Map<number, number>>();
  for (const g of groups) {
    const kinds = new Map<string, number>();
    for (const m of g.members) {
      const k = truth.get(m.ip)!;
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
      let per = byKind.get(k);
      if (!per) {
        per = new Map();
        byKind.set(k, per);
      }
      per.set(g.id, (per.get(g.id) ?? 0) + 1);
    }
    pure += Math.max(...kinds.values());
    total += g.members.length;
  }
  let complete = 0;
  for (const per of byKind.values()) complete += Math.max(...per.values());
  return { purity: pure / total, completeness: complete / total };
}

describe('behaviour groups', () => {
  test("the simulator's kinds stay apart and each kind stays together (no collapse)", (t) => {
    const { inputs, truth } = simulatedProfiles(101, 30);
    const g = groupProfiles(inputs);
    for (const grp of g.groups)
      t.diagnostic(`group ${grp.id}: ${grp.members.map((m) => truth.get(m.ip)).join(' ')}`);
    if (process.env.DEBUG_GROUPS)
      for (const i of inputs)
        t.diagnostic(`${i.ip} ${truth.get(i.ip)} ${[...featuresOfProfile(i)].join(', ')}`);
    const s = score(g.groups, truth);
    t.diagnostic(
      `purity ${s.purity.toFixed(3)} completeness ${s.completeness.toFixed(3)} groups ${g.groups.length}`,
    );
    // Not collapsed: the pumps and the monitors are not in one group, nor with the workstations.
    const of = (ip: string) => g.byDevice.get(ip)?.group;
    assert.notEqual(of('10.20.1.1'), of('10.30.1.1'));
    assert.notEqual(of('10.20.1.1'), of('10.90.1.1'));
    // One kind together: all 8 pumps in one group, all 8 monitors in one group.
    for (let i = 2; i <= 8; i++) {
      assert.equal(of(`10.20.1.${i}`), of('10.20.1.1'), `pump ${i}`);
      assert.equal(of(`10.30.1.${i}`), of('10.30.1.1'), `monitor ${i}`);
    }
    assert.ok(s.purity >= 0.95, `purity ${s.purity}`);
    assert.ok(s.completeness >= 0.95, `completeness ${s.completeness}`);
    assert.ok(g.groups.length > 5, 'not collapsed into a few groups');
  });

  test('sampled 1:100, devices of one kind stay together and kinds stay apart', (t) => {
    // Seeds of no scorecard run; 45 minutes, as a scorecard run learns.
    for (const seed of [101, 202, 303]) {
      const { inputs, truth } = simulatedProfiles(seed, 45, 100);
      const g = groupProfiles(inputs);
      const s = score(g.groups, truth);
      for (const grp of g.groups)
        t.diagnostic(`seed ${seed} group ${grp.id}: ${grp.members.map((m) => truth.get(m.ip)).join(' ')}`);
      t.diagnostic(`seed ${seed}: purity ${s.purity.toFixed(3)} completeness ${s.completeness.toFixed(3)}`);
      assert.ok(s.purity >= 0.95, `seed ${seed} purity ${s.purity}`);
      assert.ok(s.completeness >= 0.95, `seed ${seed} completeness ${s.completeness}`);
    }
  });

  test('comparing only the similar pairs groups as comparing every pair', () => {
    for (const [seed, sampling] of [
      [101, 1],
      [202, 100],
      [303, 10],
    ] as const) {
      const { inputs } = simulatedProfiles(seed, 30, sampling);
      const fast = groupProfiles(inputs);
      const exact = groupProfiles(inputs, { pairFloor: 0 });
      assert.deepEqual(fast.groups, exact.groups, `seed ${seed} 1:${sampling}`);
    }
  });

  test('ids are stable: the same hospital regrouped later keeps its groups, and a changed device leaves', () => {
    const first = simulatedProfiles(101, 30);
    const g1 = groupProfiles(first.inputs);
    const prev = new Map([...g1.byDevice].map(([ip, v]) => [ip, v.group]));
    const later = simulatedProfiles(101, 40);
    const g2 = groupProfiles(later.inputs, { previous: prev });
    for (const [ip, v] of g2.byDevice) assert.equal(v.group, prev.get(ip), ip);
    // A pump that starts to browse the internet, serve SSH and talk to the file server leaves the pumps.
    const pump = later.inputs.find((i) => i.ip === '10.20.1.3')!;
    const changed = later.inputs.map((i) =>
      i === pump
        ? {
            ...i,
            entries: [
              ...i.entries,
              { peer: '203.0.113.9/32', port: 443, proto: 6, dir: 'outbound' as const, internal: false },
              { peer: '10.90.1.1/32', port: 22, proto: 6, dir: 'inbound' as const, internal: true },
              { peer: '10.10.0.11/32', port: 445, proto: 6, dir: 'outbound' as const, internal: true },
              { peer: '10.10.0.12/32', port: 389, proto: 6, dir: 'outbound' as const, internal: true },
            ],
          }
        : i,
    );
    const g3 = groupProfiles(changed, { previous: prev });
    assert.notEqual(g3.byDevice.get('10.20.1.3')?.group, prev.get('10.20.1.3'));
    assert.equal(
      g3.byDevice.get('10.20.1.4')?.group,
      prev.get('10.20.1.4'),
      'the other pumps keep their group',
    );
  });
});

/** A client's outbound entry to an internal server, seen in `flows` flow records. */
const uses = (host: string, port: number, flows: number): GroupEntry => ({
  peer: `${host}/32`,
  port,
  proto: 6,
  dir: 'outbound',
  internal: true,
  flows,
});
const device = (ip: string, entries: GroupEntry[]): GroupInput => ({
  ip,
  entries,
  periodic: false,
  class: 'unknown',
});

describe('sampled profiles', () => {
  test('leaving a group under sampling needs a new behaviour seen often enough', () => {
    const shared = new Set(['uses tcp/445', 'uses tcp/445 at 10.9.0.1', 'serves nothing']);
    // A thin sampled profile filling in: a service seen in one flow, and a shared one not seen at all.
    const thin = device('10.0.1.1', [uses('10.9.0.3', 9100, 1), uses('10.9.0.5', 88, 2)]);
    assert.deepEqual(wellObservedGains(thin, shared), []);
    // A new internal server used in many flows: evidence.
    const moved = device('10.0.1.2', [uses('10.9.0.1', 445, 9), uses('10.9.0.7', 3389, 12)]);
    assert.deepEqual(wellObservedGains(moved, shared).sort(), ['uses tcp/3389', 'uses tcp/3389 at 10.9.0.7']);
    // Unsampled entries (no flow count) are observed for certain.
    const plain = device('10.0.1.3', [{ ...uses('10.9.0.7', 3389, 1), flows: undefined }]);
    assert.ok(wellObservedGains(plain, shared).includes('uses tcp/3389'));
  });

  test('a one-sided feature seen in a flow or two costs little; seen in many flows, as unsampled', () => {
    assert.equal(missCost(8), 1);
    assert.equal(missCost(1), 0.75);
    assert.ok(missCost(1, 1 / 8) < missCost(1), 'less when the other device was seen far less');
    // Two clients sharing two services, each with two more it was seen using once: apart unsampled, alike
    // sampled (the merge threshold is 0.5).
    const a = device('10.0.1.1', [
      uses('10.9.0.1', 445, 4),
      uses('10.9.0.2', 443, 5),
      uses('10.9.0.3', 9100, 1),
      uses('10.9.0.5', 88, 1),
    ]);
    const b = device('10.0.1.2', [
      uses('10.9.0.1', 445, 3),
      uses('10.9.0.2', 443, 6),
      uses('10.9.0.4', 53, 1),
      uses('10.9.0.6', 389, 1),
    ]);
    const sets = similarity(featuresOfProfile(a), featuresOfProfile(b));
    const sampled = observedSimilarity(observedFeatures(a), observedFeatures(b));
    assert.ok(sets < 0.5 && sampled >= 0.5, `sets ${sets} sampled ${sampled}`);
    // The same seen in many flows each: exactly the weighted Jaccard index of the feature sets.
    const many = (d: GroupInput) => ({ ...d, entries: d.entries.map((e) => ({ ...e, flows: 40 })) });
    assert.equal(observedSimilarity(observedFeatures(many(a)), observedFeatures(many(b))), sets);
  });

  test('devices of one kind, each sampled into a different part of its profile, share a group apart from another kind', () => {
    // Kind A: clients of 8 services (two common to both kinds); kind B: clients of 5 services and servers of
    // one. Each device shows each service with a few sampled flows, or none (a random part of its profile).
    const rng = mulberry32(77);
    const kindA = [
      ['10.9.0.1', 445],
      ['10.9.0.2', 443],
      ['10.9.0.3', 9100],
      ['10.9.0.4', 53],
      ['10.9.0.5', 88],
      ['10.9.0.6', 443],
      ['10.9.0.7', 3389],
      ['10.9.0.8', 8080],
    ] as const;
    const kindB = [
      ['10.9.0.4', 53],
      ['10.9.0.2', 443],
      ['10.9.1.1', 2575],
      ['10.9.1.2', 104],
      ['10.9.1.3', 11112],
    ] as const;
    const sample = (template: ReadonlyArray<readonly [string, number]>) =>
      template.flatMap(([host, port]) => {
        const flows = Math.floor(rng() * 4); // 0..3 sampled flows
        return flows === 0 ? [] : [uses(host, port, flows)];
      });
    const inputs: GroupInput[] = [];
    const truth = new Map<string, string>();
    for (let i = 1; i <= 12; i++) {
      inputs.push(device(`10.1.0.${i}`, sample(kindA)));
      truth.set(`10.1.0.${i}`, 'A');
    }
    for (let i = 1; i <= 6; i++) {
      const serves: GroupEntry = {
        peer: '10.7.0.1/32',
        port: 6000,
        proto: 6,
        dir: 'inbound',
        internal: true,
        flows: 2,
      };
      inputs.push(device(`10.2.0.${i}`, [...sample(kindB), serves]));
      truth.set(`10.2.0.${i}`, 'B');
    }
    const g = groupProfiles(inputs.filter((d) => d.entries.length > 0));
    const s = score(g.groups, truth);
    assert.equal(s.purity, 1, 'kinds apart');
    assert.ok(s.completeness >= 0.95, `completeness ${s.completeness}`);
  });
});
