import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createDeviceMatcher } from '@wardwatch/flow-schema';
import { createScenario, routeByDevice } from '@wardwatch/hospital-sim';
import { isPeriodic } from './detect.ts';
import { featuresOfProfile, type GroupInput, groupProfiles } from './groups.ts';
import { applyRecord } from './model/apply-record.ts';
import {
  type ApplyContext,
  createDeviceModel,
  type DeviceModel,
  DIRECTION_NAMES,
} from './model/device-model.ts';
import { loadSignatures } from './signatures.ts';

const signatures = loadSignatures();

/** The simulated hospital's devices as the worker models them after `minutes` of clean traffic. */
function simulatedProfiles(
  seed: number,
  minutes: number,
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
  for (const [from, to] of scenario.windows(5 * 60_000)) {
    for (const [device, records] of routeByDevice(scenario.records(from, to), scenario.monitoredNetworks)) {
      let m = models.get(device);
      if (!m) {
        m = createDeviceModel(device, 0);
        models.set(device, m);
      }
      for (const r of records) applyRecord(m, r, ctx, 60_000);
    }
  }
  const truth = new Map(scenario.devices.map((d) => [d.ip, d.class]));
  const inputs = [...models.values()]
    .filter((m) => truth.has(m.ip))
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
    assert.ok(g.groups.length > 5, 'not collapsed into a few groups');
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
