// The hospital scenario end to end: the simulated hospital's packets, five minutes at a time, through the
// real softflowd (NetFlow v9) into the collector, Kafka, the analytics worker and PostgreSQL, read back
// through the REST API. At least 90% of the devices get their class, every injected attack raises its
// alert on its device, and the clean devices raise none.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startWardwatch, type Wardwatch } from '@wardwatch/cli';
import { loadConfig } from '@wardwatch/config';
import { createScenario } from '@wardwatch/hospital-sim';
import { createLogger } from '@wardwatch/telemetry';
import { dropSchema, isolatedStack, runSoftflowd, uniqueName, waitFor, writePcap } from '@wardwatch/testkit';

const API_KEY = 'test-admin-key-hospital-0123456789';

async function api<T>(ww: Wardwatch, path: string): Promise<T> {
  const res = await fetch(`${ww.policy!.url()}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  assert.equal(res.status, 200, `GET ${path}`);
  return (await res.json()) as T;
}

describe('hospital scenario through softflowd and the cluster pipeline (real Kafka and PostgreSQL)', () => {
  const scenario = createScenario({ seed: 7 });
  const schema = uniqueName('an_hosp');
  const dir = mkdtempSync(join(tmpdir(), 'ww-hospital-'));
  let ww: Wardwatch;
  let alerts: Array<{ deviceIp: string; kind: string; severity: string }> = [];
  let devices: Array<{ ip: string; class: string }> = [];

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
        'analytics.exfilMinBytes': 5_000_000,
      },
    });
    ww = await startWardwatch(config, createLogger({ level: 'warn' }));
    const port = ww.collector!.ports()[0]!;
    // One softflowd run per five minutes: every run expires its flows at the end of its pcap, like an
    // exporter with a five-minute active timeout, so the flows arrive in time order.
    for (const [i, [from, to]] of scenario.windows(5 * 60_000).entries()) {
      const pcap = join(dir, `phase-${i}.pcap`);
      writePcap(pcap, scenario.packets(from, to));
      await runSoftflowd({ pcap, target: `127.0.0.1:${port}`, version: 9 });
      rmSync(pcap);
      // Exports come minutes apart in a live network: let each phase through before the next.
      await ww.collector!.flush();
      await waitFor(
        async () => {
          const a = ww.analytics!.counts();
          return a.records + a.skipped >= ww.collector!.counts().published ? true : undefined;
        },
        { what: `phase ${i} through analytics`, timeoutMs: 60_000, intervalMs: 50 },
      );
    }
    await ww.collector!.flush();
    const expected = new Set(scenario.expectedAlerts.map((e) => `${e.device} ${e.kind}`));
    // Done when every expected alert is there and the inventory has stopped changing.
    let last = '';
    await waitFor(
      async () => {
        alerts = (await api<{ items: typeof alerts }>(ww, '/v1/alerts?limit=1000')).items;
        devices = (await api<{ items: typeof devices }>(ww, '/v1/devices?limit=1000')).items;
        const have = new Set(alerts.map((a) => `${a.deviceIp} ${a.kind}`));
        const state = JSON.stringify([devices, alerts.map((a) => `${a.deviceIp} ${a.kind}`).sort()]);
        const settled = state === last && [...expected].every((e) => have.has(e));
        last = state;
        return settled ? true : undefined;
      },
      { what: 'the expected alerts and a settled inventory', timeoutMs: 120_000, intervalMs: 1500 },
    ).catch(() => undefined);
  });

  after(async () => {
    await ww?.stop();
    await dropSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  });

  test('at least 90% of the devices get their class', (t) => {
    const got = new Map(devices.map((d) => [d.ip, d.class]));
    const wrong = scenario.devices.filter((d) => got.get(d.ip) !== d.class);
    const right = scenario.devices.length - wrong.length;
    t.diagnostic(`classified right: ${right}/${scenario.devices.length}`);
    for (const d of wrong)
      t.diagnostic(`wrong: ${d.name} (${d.ip}) is ${d.class}, classified ${got.get(d.ip)}`);
    assert.equal(devices.length, scenario.devices.length, 'exactly the simulated devices are devices');
    assert.ok(right / scenario.devices.length >= 0.9, `${right}/${scenario.devices.length} right`);
  });

  test('every injected attack raises the right alert on the right device', (t) => {
    const have = new Set(alerts.map((a) => `${a.deviceIp} ${a.kind}`));
    t.diagnostic(`alerts: ${[...have].sort().join(', ')}`);
    for (const e of scenario.expectedAlerts) {
      assert.ok(have.has(`${e.device} ${e.kind}`), `${e.kind} on ${e.device}: ${e.description}`);
    }
    const silent = alerts.find((a) => a.kind === 'device_silent');
    assert.equal(silent?.severity, 'critical', 'a silent patient monitor is a safety event');
  });

  test('the clean devices raise none', () => {
    const clean = new Set(scenario.cleanDevices().map((d) => d.ip));
    const noisy = alerts.filter((a) => clean.has(a.deviceIp)).map((a) => `${a.deviceIp} ${a.kind}`);
    assert.deepEqual(noisy, []);
  });
});
