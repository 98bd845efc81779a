// sFlow alone builds the inventory: the embedded default (PGlite, in-process bus) fed only by pmacct's
// pmacctd (sfprobe plugin) replaying ten minutes of the simulated hospital, 802.1Q-tagged per device
// group as at an access switch, lists every device of the hospital with its MAC and VLAN through the
// REST API, and the sFlow agent (its address and sub-agent id) in GET /v1/exporters.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startWardwatch, type Wardwatch } from '@wardwatch/cli';
import { loadConfig } from '@wardwatch/config';
import { createScenario } from '@wardwatch/hospital-sim';
import { createLogger } from '@wardwatch/telemetry';
import { hasTool, isolatedStack, runSfprobe, waitFor, writePcap } from '@wardwatch/testkit';

const API_KEY = 'test-admin-key-sflow-0123456789abcdef';
const AGENT = '192.0.2.77';
const SUB_AGENT = 5;
/** The version sFlow v5 exporters report (`SFLOW_VERSION` of packages/flow-decoder). */
const SFLOW_VERSION = 1005;

/** The VLAN of a device group: 10.X.Y.0/24 is VLAN 1000 + X * 10 + Y (servers 1100, pumps 1201, ...). */
function vlanOf(ip: string): number {
  const [, x, y] = ip.split('.').map(Number);
  return 1000 + x! * 10 + y!;
}

/** The MAC testkit's pcap writer gives a host: 02:00 and its IPv4 address. */
function macOf(ip: string): string {
  return ['02', '00', ...ip.split('.').map((n) => Number(n).toString(16).padStart(2, '0'))].join(':');
}

/**
 * Adds an 802.1Q tag to every frame of a classic pcap whose source is in 10.0.0.0/8 (VLAN of its
 * group); frames from outside (the internet side) stay untagged.
 */
function tagPcap(pcap: Buffer): Buffer {
  const parts: Buffer[] = [pcap.subarray(0, 24)];
  let o = 24;
  while (o + 16 <= pcap.length) {
    const len = pcap.readUInt32LE(o + 8);
    const hdr = Buffer.from(pcap.subarray(o, o + 16));
    const frame = pcap.subarray(o + 16, o + 16 + len);
    o += 16 + len;
    const src = `${frame[26]}.${frame[27]}.${frame[28]}.${frame[29]}`;
    if (frame.readUInt16BE(12) !== 0x0800 || frame[26] !== 10) {
      parts.push(hdr, frame);
      continue;
    }
    const tag = Buffer.from([0x81, 0x00, 0, 0]);
    tag.writeUInt16BE(vlanOf(src), 2);
    hdr.writeUInt32LE(len + 4, 8);
    hdr.writeUInt32LE(hdr.readUInt32LE(12) + 4, 12);
    parts.push(hdr, frame.subarray(0, 12), tag, frame.subarray(12));
  }
  return Buffer.concat(parts);
}

interface DeviceBody {
  ip: string;
  mac: string | null;
  vlan: number | null;
  packetsSent: number;
}

interface ExporterBody {
  address: string;
  observationDomain: number;
  version: number;
  sequenceUnit: string;
  samplingInterval: number;
}

async function api<T>(ww: Wardwatch, path: string): Promise<T> {
  const res = await fetch(`${ww.policy!.url()}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  assert.equal(res.status, 200, `GET ${path}`);
  return (await res.json()) as T;
}

describe('sFlow v5 alone builds the inventory (embedded default, pmacctd sfprobe)', {
  skip: hasTool('pmacctd') ? false : 'pmacctd not installed',
}, () => {
  const scenario = createScenario({ seed: 7 });
  const dir = mkdtempSync(join(tmpdir(), 'ww-sflow-e2e-'));
  let ww: Wardwatch;

  before(async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        ...isolatedStack('sflow_e2e', API_KEY),
        mode: 'embedded',
        dataDir: join(dir, 'data'),
        monitoredNetworks: scenario.monitoredNetworks,
        'collector.exporterReportMs': 500,
      },
    });
    ww = await startWardwatch(config, createLogger({ level: 'warn' }));
  });

  after(async () => {
    await ww?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every device of the hospital is listed with its MAC and VLAN; the agent is an exporter', async () => {
    const plain = join(dir, 'hospital.pcap');
    const pcap = join(dir, 'hospital-tagged.pcap');
    writePcap(plain, scenario.packets(scenario.startMs, scenario.startMs + 10 * 60_000));
    writeFileSync(pcap, tagPcap(readFileSync(plain)));
    const port = ww.collector!.ports()[0]!;
    await runSfprobe({ pcap, target: `127.0.0.1:${port}`, agent: AGENT, subAgentId: SUB_AGENT });
    await ww.collector!.flush();
    const want = scenario.devices.map((d) => d.ip).sort();
    const devices = await waitFor(
      async () => {
        const items = (await api<{ items: DeviceBody[] }>(ww, '/v1/devices?limit=1000')).items;
        const complete =
          items.length === want.length && items.every((d) => d.mac !== null && d.vlan !== null);
        return complete ? items : undefined;
      },
      { what: 'every device with its MAC and VLAN', timeoutMs: 120_000 },
    );
    assert.deepEqual(devices.map((d) => d.ip).sort(), want, 'exactly the simulated devices');
    for (const d of devices) {
      assert.equal(d.mac, macOf(d.ip), `MAC of ${d.ip}`);
      assert.equal(d.vlan, vlanOf(d.ip), `VLAN of ${d.ip}`);
      assert.ok(d.packetsSent > 0);
    }
    const exporters = await waitFor(
      async () => {
        const items = (await api<{ items: ExporterBody[] }>(ww, '/v1/exporters')).items;
        return items.length > 0 ? items : undefined;
      },
      { what: 'the sFlow agent in the exporter registry' },
    );
    assert.deepEqual(
      exporters.map((e) => [e.address, e.observationDomain, e.version, e.sequenceUnit, e.samplingInterval]),
      [[AGENT, SUB_AGENT, SFLOW_VERSION, 'samples', 1]],
      'the agent named in the datagrams, not the UDP source 127.0.0.1',
    );
  });

  test('sampled 1:10, the same traffic is counted about as often as unsampled (scaled once, not twice)', async () => {
    const sent = async () => {
      await ww.analytics!.flush();
      const items = (await api<{ items: DeviceBody[] }>(ww, '/v1/devices?limit=1000')).items;
      return items.reduce((n, d) => n + d.packetsSent, 0);
    };
    const unsampled = await sent();
    assert.ok(unsampled > 1000, `packets sent at 1:1: ${unsampled}`);
    const port = ww.collector!.ports()[0]!;
    await runSfprobe({
      pcap: join(dir, 'hospital-tagged.pcap'),
      target: `127.0.0.1:${port}`,
      agent: AGENT,
      subAgentId: SUB_AGENT,
      samplingRate: 10,
    });
    await ww.collector!.flush();
    // Applied once the count stops moving between two polls.
    let last = -1;
    const total = await waitFor(
      async () => {
        const now = await sent();
        const settled = now === last && now > unsampled;
        last = now;
        return settled ? now : undefined;
      },
      { what: 'the sampled replay applied', timeoutMs: 120_000, intervalMs: 2_000 },
    );
    // Each 1:10 sample stands for 10 packets: an unbiased estimate of the same replay. Scaled twice (by the
    // decoder and again by analytics) it would read ~10x.
    const ratio = (total - unsampled) / unsampled;
    assert.ok(ratio > 0.5 && ratio < 2, `sampled estimate / unsampled count = ${ratio.toFixed(2)}`);
  });
});
