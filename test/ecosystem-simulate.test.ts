// `wardwatch simulate` against the embedded stack: the simulator runs as its own process (as an operator
// runs it) and exports over loopback UDP. The load hospital (NetFlow v9, then IPFIX) must arrive whole: the
// collector decodes every record sent and the devices appear in the REST API. The hospital-sim scenario,
// replayed at 120x, must end in the demo's visible alert: the compromised infusion pump's scan.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startWardwatch, type Wardwatch } from '@wardwatch/cli';
import { createLogger } from '@wardwatch/telemetry';
import { waitFor } from '@wardwatch/testkit';
import { demoConfig } from './support/demo-stack.ts';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const API_KEY = 'test-admin-key-simulate-0123456789';

interface SimSummary {
  records: number;
  packets: number;
  protocol: string;
}
interface SimList {
  devices: Array<{ ip: string; expectedClass: string }>;
  attacks: Array<{ device: string; kind: string }>;
}
interface AlertBody {
  deviceIp: string;
  kind: string;
  severity: string;
  status: string;
}
interface DeviceBody {
  ip: string;
  flowsSent: number;
  bytesSent: number;
}

async function wardwatch(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'cli/src/main.ts', ...args], {
    cwd: ROOT,
    timeout: 60_000,
  });
  return stdout;
}

let ww: Wardwatch;
let dataDir: string;

async function get(path: string): Promise<unknown> {
  const res = await fetch(`${ww.policy!.url()}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  assert.equal(res.status, 200, `GET ${path}`);
  return path === '/metrics' ? res.text() : res.json();
}

function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** A fresh embedded stack with the demo's configuration (docs/deployment.md), on ephemeral loopback ports. */
async function startStack(): Promise<void> {
  dataDir = mkdtempSync(join(tmpdir(), 'ww-sim-'));
  const config = demoConfig(dataDir, API_KEY);
  ww = await startWardwatch(config, createLogger({ level: 'warn' }));
}

async function stopStack(): Promise<void> {
  await ww?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

// Each scenario gets its own stack: flow time is per stack (the load hospital runs at the present, the
// hospital scenario replays the last 45 minutes), and analytics windows follow the newest flow time seen.
describe('load hospital', () => {
  before(startStack);
  after(stopStack);

  test('every record sent is decoded, and the hospital is in the inventory', async () => {
    const port = ww.collector!.ports()[0]!;
    const load = ['--scenario', 'load', '--devices', '20', '--attack-at', '0s'];
    const common = [...load, '--target', `127.0.0.1:${port}`, '--quiet'];
    const list = JSON.parse(await wardwatch('simulate', '--list', ...load)) as SimList;
    assert.equal(list.devices.length, 20);
    const pump = list.attacks.find((a) => a.kind === 'host_scan')!.device;
    assert.equal(list.devices.find((d) => d.ip === pump)?.expectedClass, 'infusion_pump');

    const sent: SimSummary[] = [];
    for (const protocol of ['v9', 'ipfix']) {
      const out = await wardwatch(
        'simulate',
        ...common,
        '--protocol',
        protocol,
        '--rate',
        '800',
        '--duration',
        '3',
      );
      sent.push(JSON.parse(out.trim().split('\n').at(-1)!) as SimSummary);
    }
    const records = sent.reduce((s, x) => s + x.records, 0);
    assert.ok(records > 3000, `sent ${records} records`);

    // Loopback at this rate loses nothing: the collector decodes exactly what was sent, and drops no packet.
    const text = await waitFor(
      async () => {
        const t = (await get('/metrics')) as string;
        return metric(t, 'wardwatch_collector_records_decoded_total') >= records ? t : undefined;
      },
      { what: `${records} records decoded`, timeoutMs: 30_000 },
    );
    assert.equal(metric(text, 'wardwatch_collector_records_decoded_total'), records);
    assert.equal(metric(text, 'wardwatch_collector_packets_dropped_total'), 0);

    const simulated = new Set(list.devices.map((d) => d.ip));
    const devices = await waitFor(
      async () => {
        const { items } = (await get('/v1/devices?limit=1000')) as { items: DeviceBody[] };
        const seen = items.filter((d) => simulated.has(d.ip));
        return seen.length >= 18 && seen.some((d) => d.ip === pump && d.flowsSent >= 150) ? items : undefined;
      },
      { what: 'the simulated devices in the inventory', timeoutMs: 30_000 },
    );
    for (const d of devices) {
      // Every device is a simulated device or one of the hospital's servers (10.20.1.0/24) answering.
      assert.ok(simulated.has(d.ip) || d.ip.startsWith('10.20.1.'), `unexpected device ${d.ip}`);
    }
    // The compromised pump's scan: one SYN flow per probe, 40 a second, on top of its normal traffic.
    const p = devices.find((d) => d.ip === pump)!;
    assert.ok(p.flowsSent >= 200, `pump sent ${p.flowsSent} flows`);
  });
});

test('the simulator refuses bad options with a clear message', async () => {
  await assert.rejects(wardwatch('simulate', '--protocol', 'v5'), /--protocol must be v9 or ipfix/);
  await assert.rejects(wardwatch('simulate', '--target', 'nowhere'), /--target must be HOST:PORT/);
  await assert.rejects(
    wardwatch('simulate', '--scenario', 'load', '--devices', '3', '--list'),
    /--devices must be an integer >= 10/,
  );
  await assert.rejects(
    wardwatch('simulate', '--scenario', 'load', '--devices', '5000', '--list'),
    /devices must be an integer from 10 to 2000/,
  );
  await assert.rejects(wardwatch('simulate', '--scenario', 'mall'), /--scenario must be hospital or load/);
  await assert.rejects(wardwatch('simulate', '--attack-at', '50m'), /--attack-at must fall inside --minutes/);
});

describe('hospital scenario', () => {
  before(startStack);
  after(stopStack);

  test('at 120x: the compromised infusion pump raises its scan and exfiltration alerts', async () => {
    const port = ww.collector!.ports()[0]!;
    const list = JSON.parse(await wardwatch('simulate', '--list')) as SimList;
    const scan = list.attacks.find((a) => a.kind === 'host_scan')!;
    assert.equal(list.devices.find((d) => d.ip === scan.device)?.expectedClass, 'infusion_pump');
    const out = await wardwatch('simulate', '--target', `127.0.0.1:${port}`, '--speed', '120', '--quiet');
    const sent = JSON.parse(out.trim().split('\n').at(-1)!) as SimSummary;
    assert.ok(sent.records > 5000, `sent ${sent.records} records`);
    const alert = await waitFor(
      async () => {
        const { items } = (await get(`/v1/alerts?deviceIp=${scan.device}&limit=100`)) as {
          items: AlertBody[];
        };
        return items.find((a) => a.kind === 'host_scan');
      },
      { what: `a host_scan alert for ${scan.device}`, timeoutMs: 60_000 },
    );
    assert.equal(alert.deviceIp, scan.device);
    assert.equal(alert.status, 'open');
    assert.ok(['high', 'critical'].includes(alert.severity), `severity ${alert.severity}`);
    // The demo's second act (docs/deployment.md): the pump's upload to the internet.
    await waitFor(
      async () => {
        const { items } = (await get(`/v1/alerts?deviceIp=${scan.device}&limit=100`)) as {
          items: AlertBody[];
        };
        return items.find((a) => a.kind === 'exfiltration');
      },
      { what: `an exfiltration alert for ${scan.device}`, timeoutMs: 30_000 },
    );
    // hospital-sim exports no MACs: the simulator's records must not invent an all-zero one.
    const pump = (await get(`/v1/devices/${scan.device}`)) as { mac: string | null };
    assert.notEqual(pump.mac, '00:00:00:00:00:00');
  });
});
