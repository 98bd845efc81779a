// A collector that stays up, with the real Kafka broker: a decode worker that dies is restarted (counted,
// with its exporters' shared templates) and readiness is false while its shard is down; IPFIX over TCP
// has a connection cap and an idle timeout, and a client trickling a message byte by byte is decoded.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startWardwatch } from '@wardwatch/cli';
import { type Collector, createCollector } from '@wardwatch/collector';
import { loadConfig } from '@wardwatch/config';
import { createLogger, createMetricsRegistry, type Registry } from '@wardwatch/telemetry';
import { TEST_KAFKA_BROKERS, uniqueName, waitFor } from '@wardwatch/testkit';
import { createKafkaTransport, type Transport } from '@wardwatch/transport';
import { ipfixMessage } from './support/ipfix.ts';
import { type V9Flow, v9DataPacket, v9TemplatePacket } from './support/netflow-v9.ts';

const logger = createLogger({ level: 'silent' });

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function sendUdp(port: number, packets: Buffer[]): Promise<void> {
  const sock = createSocket('udp4');
  for (const p of packets) await new Promise<void>((r) => sock.send(p, port, '127.0.0.1', () => r()));
  sock.close();
}

function flows(n: number, seed: number): V9Flow[] {
  return Array.from({ length: n }, (_, i) => ({
    src: `10.3.${seed % 250}.${(i % 250) + 1}`,
    dst: '203.0.113.9',
    bytes: 1000 + i,
    packets: 2,
    protocol: 6,
  }));
}

async function metric(registry: Registry, name: string, labels = ''): Promise<number> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

function openConnection(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

const closed = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

describe('a collector that stays up (real Kafka)', () => {
  const prefix = `${uniqueName('resil')}.`;
  let transport: Transport;
  let collector: Collector;
  let registry: Registry;
  let httpPort: number;

  before(async () => {
    transport = createKafkaTransport({
      brokers: TEST_KAFKA_BROKERS,
      clientId: 'resil-test',
      topicPrefix: prefix,
    });
    registry = createMetricsRegistry();
    httpPort = await freePort();
    const config = loadConfig({
      env: {},
      overrides: {
        mode: 'cluster',
        monitoredNetworks: ['10.0.0.0/8'],
        'kafka.brokers': TEST_KAFKA_BROKERS,
        'kafka.topicPrefix': prefix,
        'kafka.flowPartitions': 2,
        'collector.host': '127.0.0.1',
        'collector.udpPorts': [0],
        'collector.tcpPorts': [0],
        'collector.httpPort': httpPort,
        'collector.lingerMs': 20,
        'collector.decodeWorkers': 1,
        // A trusted exporter: only trusted exporters' templates are shared on templates-v1 (docs/security.md),
        // and the restarted worker imports them from there.
        'collector.exporterAllowlist': ['127.0.0.1/32'],
        // Long enough that the test sees the gap through /readyz.
        'collector.workerRestartDelayMs': 2000,
        'collector.tcpMaxConnections': 3,
        'collector.tcpIdleTimeoutMs': 3000,
        logLevel: 'silent',
      },
    });
    collector = createCollector({ config, transport, logger, registry });
    await collector.start();
  });

  after(async () => {
    await collector?.stop();
    await transport?.close();
  });

  test('a killed decode worker comes back with its templates; readiness is false while its shard is down', async () => {
    const udp = collector.ports()[0]!;
    const ready = async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status;
    await waitFor(async () => ((await ready()) === 200 ? true : undefined), { what: 'ready' });
    await sendUdp(udp, [v9TemplatePacket(1), v9DataPacket(flows(10, 1), 2)]);
    await waitFor(async () => (collector.counts().decoded === 10 ? true : undefined), { what: '10 decoded' });
    // The template reached templates-v1 (the restarted worker imports it from there).
    await collector.flush();

    await collector.killDecodeWorker(0);
    assert.match((await collector.notReady()) ?? '', /decode shard 0 down/);
    const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
    assert.equal(res.status, 503);
    assert.match(await res.text(), /decode shard 0 down/);
    assert.equal(await metric(registry, 'wardwatch_collector_decode_worker_exits_total'), 1);

    await waitFor(async () => ((await ready()) === 200 ? true : undefined), { what: 'ready again' });
    assert.equal(await metric(registry, 'wardwatch_collector_decode_worker_restarts_total'), 1);
    // The new worker imports its exporters' templates from templates-v1, so data without its template
    // is decoded.
    const imported = '{event="imported"}';
    await waitFor(async () =>
      (await metric(registry, 'wardwatch_collector_template_events_total', imported)) >= 1 ? true : undefined,
    );
    await sendUdp(udp, [v9DataPacket(flows(5, 2), 3)]);
    await waitFor(async () => (collector.counts().decoded === 15 ? true : undefined), {
      what: 'data decoded by the restarted worker',
    });
  });

  test('IPFIX over TCP: connections over the cap are refused and counted, the others keep working', async () => {
    const port = collector.tcpPorts()[0]!;
    const before = collector.counts().decoded;
    const kept = [await openConnection(port), await openConnection(port), await openConnection(port)];
    const extra = await openConnection(port);
    await closed(extra);
    assert.equal(
      await metric(registry, 'wardwatch_collector_tcp_connections_closed_total', '{reason="limit"}'),
      1,
    );
    for (const [i, s] of kept.entries()) s.write(ipfixMessage(flows(4, 10 + i), i + 1));
    await waitFor(async () => (collector.counts().decoded === before + 12 ? true : undefined), {
      what: '12 records over the kept connections',
    });
    for (const s of kept) s.destroy();
    // The collector saw them close (the cap counts open connections).
    await waitFor(async () =>
      (await metric(registry, 'wardwatch_collector_tcp_connections')) === 0 ? true : undefined,
    );
  });

  test('IPFIX over TCP: a silent connection is closed after the idle timeout and counted', async () => {
    const s = await openConnection(collector.tcpPorts()[0]!);
    await closed(s);
    assert.ok(
      (await metric(registry, 'wardwatch_collector_tcp_connections_closed_total', '{reason="idle"}')) >= 1,
    );
  });

  test('IPFIX over TCP: a message trickled in small writes is decoded whole', async () => {
    const before = collector.counts().decoded;
    const m = ipfixMessage(flows(3000, 40), 9); // ~51 KB
    const s = await openConnection(collector.tcpPorts()[0]!);
    s.setNoDelay(true);
    const cpu0 = process.cpuUsage();
    for (let o = 0; o < m.length; o += 64)
      await new Promise<void>((r) => s.write(m.subarray(o, o + 64), () => r()));
    await waitFor(async () => (collector.counts().decoded === before + 3000 ? true : undefined), {
      what: '3000 records trickled over TCP',
      timeoutMs: 120_000,
    });
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `trickled ${m.length} bytes in 64-byte writes: ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU`,
    );
    s.destroy();
  });
});

describe('embedded mode: the API reports a decode shard down', () => {
  test('/readyz is 503 with checks.collector false while a killed worker waits for its restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ww-resil-embedded-'));
    const config = loadConfig({
      env: {},
      overrides: {
        mode: 'embedded',
        dataDir,
        'collector.host': '127.0.0.1',
        'collector.udpPorts': [0],
        'collector.tcpPorts': [],
        'collector.decodeWorkers': 1,
        'collector.workerRestartDelayMs': 3000,
        'api.host': '127.0.0.1',
        'api.port': 0,
        'api.bootstrapApiKey': 'resilience-admin-key-0123456789',
        logLevel: 'silent',
      },
    });
    const ww = await startWardwatch(config, logger, ['collector', 'policy']);
    try {
      const readyz = async () => {
        const r = await fetch(`${ww.policy!.url()}/readyz`);
        return { status: r.status, body: (await r.json()) as { checks: Record<string, boolean> } };
      };
      assert.equal((await readyz()).status, 200);
      await ww.collector!.killDecodeWorker(0);
      const down = await readyz();
      assert.equal(down.status, 503);
      assert.equal(down.body.checks.collector, false);
      await waitFor(async () => ((await readyz()).status === 200 ? true : undefined), {
        what: 'ready again',
      });
    } finally {
      await ww.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
