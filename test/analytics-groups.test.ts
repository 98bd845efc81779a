// Behaviour groups end to end (issue 17): the simulated hospital through the real softflowd (NetFlow v9),
// the collector, Kafka, the analytics worker and PostgreSQL; groups read through the REST API. An analyst
// labels the pumps' group once; a device with its own override keeps it, a new device that behaves like a
// pump takes the label, and a pump that starts to behave like a workstation leaves its group after learning
// (`behaviour_changed`).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startWardwatch, type Wardwatch } from '@wardwatch/cli';
import { loadConfig } from '@wardwatch/config';
import { createScenario } from '@wardwatch/hospital-sim';
import { createLogger } from '@wardwatch/telemetry';
import {
  dropSchema,
  isolatedStack,
  runSoftflowd,
  type SyntheticPacket,
  uniqueName,
  waitFor,
  writePcap,
} from '@wardwatch/testkit';

const API_KEY = 'test-admin-key-groups-0123456789ab';
const MINUTE = 60_000;

interface ApiGroup {
  id: number;
  memberCount: number;
  members: Array<{ ip: string; similarity: number | null; class: string }>;
  sharedProfile: Array<{ feature: string; share: number }>;
  classVotes: Record<string, number>;
  label: { class: string; labelledBy: string | null } | null;
}
interface ApiDevice {
  ip: string;
  class: string;
  group: number | null;
  groupSimilarity: number | null;
  classEvidence?: unknown;
}

async function call<T>(ww: Wardwatch, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${ww.policy!.url()}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${method} ${path}: ${text}`);
  return JSON.parse(text) as T;
}

/** The packets of `from` (both directions) again, as if sent by `as`. */
function cloneAs(packets: SyntheticPacket[], from: string, as: string): SyntheticPacket[] {
  return packets
    .filter((p) => p.src === from || p.dst === from)
    .map((p) => ({ ...p, src: p.src === from ? as : p.src, dst: p.dst === from ? as : p.dst }));
}

describe('behaviour groups through softflowd and the cluster pipeline', () => {
  // A seed of its own (not the scorecard's).
  const scenario = createScenario({ seed: 31, attacks: false, durationMs: 40 * MINUTE });
  const schema = uniqueName('an_grp');
  const dir = mkdtempSync(join(tmpdir(), 'ww-groups-'));
  let ww: Wardwatch;
  let port = 0;

  async function replay(
    windows: Array<[number, number]>,
    extra: (p: SyntheticPacket[]) => SyntheticPacket[],
  ) {
    for (const [i, [from, to]] of windows.entries()) {
      const base = scenario.packets(from, to);
      const packets = [...base, ...extra(base)].sort((a, b) => a.tsMs - b.tsMs);
      const pcap = join(dir, `w-${from}-${i}.pcap`);
      writePcap(pcap, packets);
      await runSoftflowd({ pcap, target: `127.0.0.1:${port}`, version: 9 });
      rmSync(pcap);
      await ww.collector!.flush();
      await waitFor(
        async () => {
          const a = ww.analytics!.counts();
          return a.records + a.skipped >= ww.collector!.counts().published ? true : undefined;
        },
        { what: `window ${i} through analytics`, timeoutMs: 60_000, intervalMs: 50 },
      );
    }
    await ww.analytics!.flush();
  }

  let groups1: ApiGroup[] = [];
  let groups2: ApiGroup[] = [];
  let pumpGroup = 0;

  before(async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        ...isolatedStack(schema, API_KEY),
        mode: 'cluster',
        dataDir: join(dir, 'data'),
        monitoredNetworks: scenario.monitoredNetworks,
        'analytics.learningPeriod': '15m',
        'analytics.baselineBucket': '1m',
        'analytics.commitInterval': '100ms',
      },
    });
    ww = await startWardwatch(config, createLogger({ level: 'warn' }));
    port = ww.collector!.ports()[0]!;
    const windows = scenario.windows(5 * MINUTE);
    // Phase 1: 30 minutes of the hospital.
    await replay(windows.slice(0, 6), () => []);
    const r1 = await ww.analytics!.regroup();
    assert.ok(r1.ran && r1.groups > 5, JSON.stringify(r1));
    groups1 = (await call<{ items: ApiGroup[] }>(ww, 'GET', '/v1/groups')).items;
    pumpGroup = groups1.find((g) => g.members.some((m) => m.ip === '10.20.1.1'))!.id;
    // The analyst: pump 2 is known to be a different model (own override); the pumps' group is labelled.
    await call(ww, 'PATCH', '/v1/devices/10.20.1.2', { classOverride: 'infusion_pump' });
    await call(ww, 'PUT', `/v1/groups/${pumpGroup}/label`, { class: 'smart_pump' });
    // Phase 2: 10 more minutes; a new device behaves like pump 1, pump 3 also behaves like workstation 1.
    await replay(windows.slice(6), (base) => [
      ...cloneAs(base, '10.20.1.1', '10.20.1.99'),
      ...cloneAs(base, '10.90.1.1', '10.20.1.3'),
    ]);
    const r2 = await ww.analytics!.regroup();
    assert.ok(r2.ran, JSON.stringify(r2));
    groups2 = (await call<{ items: ApiGroup[] }>(ww, 'GET', '/v1/groups')).items;
  });

  after(async () => {
    await ww?.stop();
    await dropSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  });

  test('kinds stay apart and each kind stays together', (t) => {
    // The devices' real kinds (the simulator's templates): stricter than their classes.
    const kind = new Map(scenario.devices.map((d) => [d.ip, d.kind]));
    for (const g of groups1) t.diagnostic(`group ${g.id}: ${g.members.map((m) => kind.get(m.ip)).join(' ')}`);
    const groupOf = new Map(groups1.flatMap((g) => g.members.map((m) => [m.ip, g.id] as const)));
    for (let i = 1; i <= 8; i++) {
      assert.equal(groupOf.get(`10.20.1.${i}`), pumpGroup, `pump ${i}`);
      assert.equal(groupOf.get(`10.30.1.${i}`), groupOf.get('10.30.1.1'), `monitor ${i}`);
    }
    assert.notEqual(groupOf.get('10.30.1.1'), pumpGroup);
    assert.notEqual(groupOf.get('10.90.1.1'), pumpGroup);
    // Purity: every group holds one kind of device; completeness: every kind is in one group.
    for (const g of groups1)
      assert.equal(new Set(g.members.map((m) => kind.get(m.ip))).size, 1, `group ${g.id}`);
    const groupsOfKind = new Map<string, Set<number>>();
    for (const [ip, id] of groupOf)
      groupsOfKind.set(kind.get(ip)!, (groupsOfKind.get(kind.get(ip)!) ?? new Set()).add(id));
    for (const [k, ids] of groupsOfKind) assert.equal(ids.size, 1, `kind ${k} in groups ${[...ids]}`);
    const pumps = groups1.find((g) => g.id === pumpGroup)!;
    assert.deepEqual(pumps.classVotes, { infusion_pump: 8 });
    assert.ok(pumps.sharedProfile.some((s) => s.feature === 'uses tcp/3613' && s.share === 1));
  });

  test("a device shows its group and similarity; the group's label is its class, with the group as evidence", async () => {
    const pump = await call<ApiDevice>(ww, 'GET', '/v1/devices/10.20.1.5');
    assert.equal(pump.group, pumpGroup);
    assert.equal(pump.groupSimilarity, 1);
    assert.equal(pump.class, 'smart_pump');
    assert.match(JSON.stringify(pump.classEvidence), /behaves like group \d+ \(\d+ members\), labelled by /);
    // The device override still wins.
    assert.equal((await call<ApiDevice>(ww, 'GET', '/v1/devices/10.20.1.2')).class, 'infusion_pump');
  });

  test('a new device that behaves like the group takes its label', async () => {
    const clone = await call<ApiDevice>(ww, 'GET', '/v1/devices/10.20.1.99');
    assert.equal(clone.group, pumpGroup);
    assert.equal(clone.class, 'smart_pump');
    const g = groups2.find((x) => x.id === pumpGroup)!;
    assert.equal(g.label?.class, 'smart_pump');
    assert.ok(g.members.some((m) => m.ip === '10.20.1.99'));
  });

  test('a pump that starts to behave like a workstation leaves its group: behaviour_changed', async () => {
    const changed = await call<ApiDevice>(ww, 'GET', '/v1/devices/10.20.1.3');
    assert.notEqual(changed.group, pumpGroup);
    const alerts = (
      await call<{ items: Array<{ deviceIp: string; kind: string; evidence?: unknown }> }>(
        ww,
        'GET',
        '/v1/alerts?kind=behaviour_changed&limit=100',
      )
    ).items;
    assert.deepEqual(
      alerts.map((a) => a.deviceIp),
      ['10.20.1.3'],
    );
    // And the outbox has the move for webhooks.
    const events = await ww.db!.pool.query<{
      p: { device: { group: number; previousGroup: number | null } };
    }>(
      "SELECT payload AS p FROM events WHERE type = 'device.group_changed' AND payload->'device'->>'ip' = '10.20.1.3' ORDER BY id",
    );
    assert.deepEqual(
      events.rows.map((r) => r.p.device.previousGroup),
      [null, pumpGroup],
    );
    assert.equal(events.rows[1]?.p.device.group, changed.group);
  });
});
