// The walking skeleton end to end: softflowd exports a generated pcap as NetFlow v5 to the collector,
// and the devices appear in the REST API with the bytes softflowd exported; in cluster mode (real
// Kafka, real PostgreSQL) and in embedded mode (PGlite, in-process bus).
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startWardwatch, type Wardwatch } from '@wardwatch/cli';
import { loadConfig } from '@wardwatch/config';
import { createLogger } from '@wardwatch/telemetry';
import { dropSchema, isolatedStack, runSoftflowd, uniqueName, waitFor, writePcap } from '@wardwatch/testkit';
import { smallClinic } from './support/small-clinic.ts';

const API_KEY = 'test-admin-key-0123456789abcdef';

interface DeviceBody {
  ip: string;
  bytesSent: number;
  flowsSent: number;
  bytes: number;
}

async function api(ww: Wardwatch, path: string, key: string | null = API_KEY) {
  const res = await fetch(`${ww.policy!.url()}${path}`, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as unknown };
}

async function metricsText(ww: Wardwatch): Promise<string> {
  const res = await fetch(`${ww.policy!.url()}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
  return res.text();
}

function metricValue(text: string, name: string, labels = ''): number {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels} `) || l.startsWith(`${name}${labels}{`));
  return line ? Number(line.split(' ').pop()) : 0;
}

function exerciseStack(mode: 'cluster' | 'embedded') {
  let ww: Wardwatch;
  let schema: string;
  let dataDir: string;
  const scenario = smallClinic();
  const pcapDir = mkdtempSync(join(tmpdir(), 'ww-e2e-'));
  const pcap = join(pcapDir, 'clinic.pcap');
  writePcap(pcap, scenario.packets);

  before(async () => {
    schema = uniqueName('e2e');
    dataDir = join(pcapDir, 'data');
    const config = loadConfig({
      env: {},
      overrides: {
        ...isolatedStack(schema, API_KEY),
        mode,
        dataDir,
      },
    });
    ww = await startWardwatch(config, createLogger({ level: 'warn' }));
  });

  after(async () => {
    await ww?.stop();
    if (mode === 'cluster') await dropSchema(schema);
    rmSync(pcapDir, { recursive: true, force: true });
  });

  test('softflowd NetFlow v5 exports become exactly the devices that sent traffic, with their bytes', async () => {
    const port = ww.collector!.ports()[0]!;
    await runSoftflowd({ pcap, target: `127.0.0.1:${port}`, version: 5 });
    const expected = [...scenario.bytesSent.keys()].sort();
    const devices = await waitFor(
      async () => {
        const { status, body } = await api(ww, '/v1/devices?limit=1000');
        assert.equal(status, 200);
        const items = (body as { items: DeviceBody[] }).items;
        const sent = items.reduce((s, d) => s + d.bytesSent, 0);
        const want = [...scenario.bytesSent.values()].reduce((a, b) => a + b, 0);
        return items.length === expected.length && sent === want ? items : undefined;
      },
      { what: 'every device with all its bytes', timeoutMs: 60_000 },
    );
    assert.deepEqual(devices.map((d) => d.ip).sort(), expected);
    for (const d of devices) {
      assert.equal(d.bytesSent, scenario.bytesSent.get(d.ip), `bytes sent by ${d.ip}`);
      assert.ok(d.flowsSent >= 1);
    }
    for (const ip of scenario.receiveOnly) {
      const { status } = await api(ww, `/v1/devices/${ip}`);
      assert.equal(status, 404, `${ip} only received traffic and is not a device`);
    }
    const one = await api(ww, '/v1/devices/10.20.1.1');
    assert.equal(one.status, 200);
    assert.equal((one.body as DeviceBody).bytesSent, scenario.bytesSent.get('10.20.1.1'));
  });

  test('a malformed datagram is counted and dropped, and the collector keeps serving', async () => {
    const port = ww.collector!.ports()[0]!;
    const before = metricValue(await metricsText(ww), 'wardwatch_collector_packets_dropped_total');
    const sock = createSocket('udp4');
    const garbage = [Buffer.from([0, 5, 0, 30, 1, 2, 3]), Buffer.from('hello, not netflow'), Buffer.alloc(0)];
    for (const g of garbage) await new Promise<void>((r) => sock.send(g, port, '127.0.0.1', () => r()));
    sock.close();
    await waitFor(
      async () => {
        const text = await metricsText(ww);
        let dropped = 0;
        for (const line of text.split('\n')) {
          if (line.startsWith('wardwatch_collector_packets_dropped_total{'))
            dropped += Number(line.split(' ').pop());
        }
        return dropped >= before + garbage.length ? true : undefined;
      },
      { what: 'malformed packets counted' },
    );
    // Still decoding: another export round adds to the same devices.
    const pumpBefore = (await api(ww, '/v1/devices/10.20.1.2')).body as DeviceBody;
    await runSoftflowd({ pcap, target: `127.0.0.1:${port}`, version: 5 });
    await waitFor(
      async () => {
        const d = (await api(ww, '/v1/devices/10.20.1.2')).body as DeviceBody;
        return d.bytesSent === 2 * pumpBefore.bytesSent ? d : undefined;
      },
      { what: 'the second export round' },
    );
  });

  test('the API refuses requests without a valid key', async () => {
    assert.equal((await api(ww, '/v1/devices', null)).status, 401);
    assert.equal((await api(ww, '/v1/devices', 'wrong-key')).status, 401);
    assert.equal((await api(ww, '/healthz', null)).status, 200);
    const ready = await api(ww, '/readyz', null);
    assert.equal(ready.status, 200);
  });
}

describe('walking skeleton, cluster mode (real Kafka and PostgreSQL)', () => exerciseStack('cluster'));
describe('walking skeleton, embedded mode (PGlite and in-process bus)', () => exerciseStack('embedded'));
