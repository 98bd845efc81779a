// Who is this device (issue 17), end to end: a pcap whose devices carry real IEEE-assigned MACs (and one
// randomised, locally administered MAC) goes through the real pmacctd nfprobe exporter (IPFIX with MAC
// elements 56/80/81/57), the collector, Kafka, the analytics worker and PostgreSQL; the manufacturer is read
// back through the REST API, and a signature's `vendor:` rule classifies on it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startWardwatch, type Wardwatch } from '@wardwatch/cli';
import { loadConfig } from '@wardwatch/config';
import { createLogger } from '@wardwatch/telemetry';
import {
  dropSchema,
  isolatedStack,
  runPmacctdNfprobe,
  type SyntheticPacket,
  uniqueName,
  waitFor,
  writePcap,
} from '@wardwatch/testkit';

const API_KEY = 'test-admin-key-identify-0123456789';
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

interface ApiDevice {
  ip: string;
  mac: string | null;
  macKind: string | null;
  manufacturer: string | null;
  macPrefix: string | null;
  class: string;
}

async function api<T>(ww: Wardwatch, path: string): Promise<T> {
  const res = await fetch(`${ww.policy!.url()}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  assert.equal(res.status, 200, `GET ${path}`);
  return (await res.json()) as T;
}

/** A client talking to a server (both directions, with their MACs) every 20 s for `minutes`. */
function conversation(
  client: string,
  clientMac: string,
  server: string,
  serverMac: string,
  port: number,
  minutes: number,
): SyntheticPacket[] {
  const out: SyntheticPacket[] = [];
  for (let t = T0; t < T0 + minutes * 60_000; t += 20_000) {
    const sport = 40000 + ((t / 20_000) % 1000);
    out.push(
      {
        tsMs: t,
        src: client,
        dst: server,
        srcMac: clientMac,
        dstMac: serverMac,
        protocol: 6,
        srcPort: sport,
        dstPort: port,
        tcpFlags: 0x18,
        payload: 300,
      },
      {
        tsMs: t + 5,
        src: server,
        dst: client,
        srcMac: serverMac,
        dstMac: clientMac,
        protocol: 6,
        srcPort: port,
        dstPort: sport,
        tcpFlags: 0x18,
        payload: 200,
      },
    );
  }
  return out;
}

describe('manufacturer from the MAC through pmacctd (IPFIX) and the cluster pipeline', () => {
  const schema = uniqueName('an_ident');
  const dir = mkdtempSync(join(tmpdir(), 'ww-identify-'));
  let ww: Wardwatch;
  let devices: ApiDevice[] = [];

  before(async () => {
    // A site signature: anything ICU Medical made is an infusion pump of theirs, whatever it talks.
    const sigs = join(dir, 'signatures.yaml');
    writeFileSync(
      sigs,
      'classes:\n  - class: icu_medical_device\n    title: ICU Medical device\n    rules:\n      - { vendor: ["icu medical"], weight: 1 }\n',
    );
    const config = loadConfig({
      env: {},
      overrides: {
        ...isolatedStack(schema, API_KEY),
        mode: 'cluster',
        dataDir: join(dir, 'data'),
        monitoredNetworks: ['10.0.0.0/8'],
        'analytics.learningPeriod': '15m',
        'analytics.signaturesFile': sigs,
      },
    });
    ww = await startWardwatch(config, createLogger({ level: 'warn' }));
    const port = ww.collector!.ports()[0]!;
    const server = ['10.2.0.9', '00:14:22:01:02:03']; // Dell
    const packets = [
      ...conversation('10.1.0.5', '00:1a:01:aa:bb:cc', server[0]!, server[1]!, 3613, 3), // ICU Medical
      ...conversation('10.1.0.6', 'da:a1:19:00:11:22', server[0]!, server[1]!, 443, 3), // randomised
      ...conversation('10.1.0.7', '00:09:fb:01:02:03', server[0]!, server[1]!, 2575, 3), // Philips
    ].sort((a, b) => a.tsMs - b.tsMs);
    const pcap = join(dir, 'macs.pcap');
    writePcap(pcap, packets);
    await runPmacctdNfprobe({ pcap, target: `127.0.0.1:${port}`, version: 10 });
    await ww.collector!.flush();
    await waitFor(
      async () => {
        devices = (await api<{ items: ApiDevice[] }>(ww, '/v1/devices?limit=100')).items;
        return devices.length === 4 && devices.every((d) => d.macKind !== null) ? true : undefined;
      },
      { what: 'four devices with their MAC kind', timeoutMs: 60_000, intervalMs: 500 },
    );
  });

  after(async () => {
    await ww?.stop();
    await dropSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a global MAC is looked up in the IEEE registry and served with the device', async () => {
    const pump = await api<ApiDevice>(ww, '/v1/devices/10.1.0.5');
    assert.deepEqual(
      [pump.mac, pump.macKind, pump.manufacturer, pump.macPrefix],
      ['00:1a:01:aa:bb:cc', 'global', 'ICU Medical, Inc.', '001A01'],
    );
    const byIp = new Map(devices.map((d) => [d.ip, d]));
    assert.equal(byIp.get('10.1.0.7')?.manufacturer, 'Philips Patient Monitoring');
    assert.equal(byIp.get('10.2.0.9')?.manufacturer, 'Dell Inc.');
  });

  test('a randomised (locally administered) MAC is marked, not looked up', () => {
    const phone = devices.find((d) => d.ip === '10.1.0.6');
    assert.deepEqual(
      [phone?.mac, phone?.macKind, phone?.manufacturer, phone?.macPrefix],
      ['da:a1:19:00:11:22', 'local', null, null],
    );
  });

  test('the text search finds devices by manufacturer', async () => {
    const found = (await api<{ items: ApiDevice[] }>(ww, '/v1/devices?q=philips')).items.map((d) => d.ip);
    assert.deepEqual(found, ['10.1.0.7']);
  });

  test("a signature's vendor rule classifies on the manufacturer", async () => {
    const pump = await api<ApiDevice & { classEvidence: unknown }>(ww, '/v1/devices/10.1.0.5');
    assert.equal(pump.class, 'icu_medical_device');
    assert.match(JSON.stringify(pump.classEvidence), /icu medical/);
    assert.notEqual(devices.find((d) => d.ip === '10.1.0.7')?.class, 'icu_medical_device');
  });
});
