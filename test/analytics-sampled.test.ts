// Detections on sampled exports (issue 17): the simulated hospital's packets, five minutes at a time, through
// the real softflowd sampling 1 packet in 100 (`-s 100`) into the embedded stack (collector, in-process bus,
// analytics, PGlite), read back through the REST API. A profile and a heartbeat learnt from sampled flows are
// thin: what they lack (a rarely sampled peer, a gap between sampled packets) must not make alerts on the
// clean devices. The seed is not one of the scorecard's (scripts/eval-detection.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startWardwatch, type Wardwatch } from '@wardwatch/cli';
import { loadConfig } from '@wardwatch/config';
import { createScenario } from '@wardwatch/hospital-sim';
import { createLogger } from '@wardwatch/telemetry';
import { runSoftflowd, waitFor, writePcap } from '@wardwatch/testkit';

const API_KEY = 'test-admin-key-sampled-0123456789';
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

async function api<T>(ww: Wardwatch, path: string): Promise<T> {
  const res = await fetch(`${ww.policy!.url()}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  assert.equal(res.status, 200, `GET ${path}`);
  return (await res.json()) as T;
}

describe('detections on 1:100 sampled softflowd exports (embedded stack)', () => {
  const scenario = createScenario({
    seed: 909,
    // The same hospital every run: yesterday 04:00 UTC (the night shift's load), so the hour of the run
    // moves neither the load nor the phase of the devices' periodic services against the learning period.
    startMs: (Math.floor(Date.now() / DAY) - 1) * DAY + 4 * 60 * MINUTE,
    durationMs: 45 * MINUTE,
  });
  const dir = mkdtempSync(join(tmpdir(), 'ww-sampled-'));
  let ww: Wardwatch;
  let alerts: Array<{ deviceIp: string; kind: string; title: string }> = [];
  let devices: Array<{ ip: string; packetsSent: number }> = [];

  before(async () => {
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
        // One commit a window (at the flush below), however loaded the machine: a never-seen entry's
        // sampled sightings are counted over the records of one commit, so commits cut by the wall-clock
        // interval in the middle of a window would make the outcome depend on the host's speed.
        'analytics.commitInterval': '1h',
      },
    });
    ww = await startWardwatch(config, createLogger({ level: 'warn' }));
    const port = ww.collector!.ports()[0]!;
    for (const [i, [from, to]] of scenario.windows(5 * MINUTE).entries()) {
      const pcap = join(dir, `w${i}.pcap`);
      writePcap(pcap, scenario.packets(from, to));
      await runSoftflowd({ pcap, target: `127.0.0.1:${port}`, version: 9, samplingRate: 100 });
      rmSync(pcap);
      await ww.collector!.flush();
      await waitFor(
        async () => {
          const a = ww.analytics!.counts();
          return a.records + a.skipped >= ww.collector!.counts().published ? true : undefined;
        },
        { what: `window ${i} through analytics`, timeoutMs: 120_000, intervalMs: 20 },
      );
      await ww.analytics!.flush();
    }
    alerts = (await api<{ items: typeof alerts }>(ww, '/v1/alerts?limit=1000')).items;
    devices = (await api<{ items: typeof devices }>(ww, '/v1/devices?limit=1000')).items;
  });

  after(async () => {
    await ww?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the sampled flows made the devices (the exporter sampled and the counters are scaled)', () => {
    assert.ok(devices.length >= 30, `${devices.length} devices`);
    // softflowd exports sampled counters unscaled; analytics scales them by the record's rate.
    assert.ok(devices.every((d) => d.packetsSent === 0 || d.packetsSent % 100 === 0));
  });

  test('the clean devices raise no alert', (t) => {
    const clean = new Set(scenario.cleanDevices().map((d) => d.ip));
    const noisy = alerts.filter((a) => clean.has(a.deviceIp));
    for (const a of noisy) t.diagnostic(`${a.deviceIp} ${a.kind}: ${a.title}`);
    assert.deepEqual(
      noisy.map((a) => `${a.deviceIp} ${a.kind}`),
      [],
    );
  });
});
