// The collector in embedded mode (the in-process bus, same code as with Kafka), the exporter allowlist,
// inline decoding (no workers), and `wardwatch start --check` on collector settings.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { createCollector } from '@wardwatch/collector';
import { loadConfig } from '@wardwatch/config';
import { decodeFlowBatch, partitionFor, Topics } from '@wardwatch/flow-schema';
import { createLogger, createMetricsRegistry } from '@wardwatch/telemetry';
import { runSoftflowd, waitFor, writePcap } from '@wardwatch/testkit';
import { createMemoryTransport } from '@wardwatch/transport';
import { v9DataPacket, v9TemplatePacket } from './support/netflow-v9.ts';

const dir = mkdtempSync(join(tmpdir(), 'ww-coll-emb-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ level: 'fatal' });

function config(overrides: Record<string, unknown>) {
  return loadConfig({
    env: {},
    overrides: {
      monitoredNetworks: ['10.0.0.0/8'],
      'kafka.flowPartitions': 4,
      'collector.host': '127.0.0.1',
      'collector.udpPorts': [0],
      'collector.tcpPorts': [0],
      'collector.lingerMs': 10,
      // Trusted: only trusted exporters' templates are shared on templates-v1.
      'collector.exporterAllowlist': ['127.0.0.0/8'],
      ...overrides,
    },
  });
}

for (const workers of [0, 2]) {
  test(`embedded mode over the in-process bus with ${workers} decode workers: IPFIX over UDP and TCP`, async () => {
    const pcap = join(dir, `w${workers}.pcap`);
    writePcap(
      pcap,
      Array.from({ length: 120 }, (_, i) => ({
        tsMs: Date.now() - 30_000 + i,
        src: `10.4.0.${(i % 30) + 1}`,
        dst: `203.0.113.${(i % 9) + 1}`,
        protocol: 17 as const,
        srcPort: 5000 + i,
        dstPort: 53,
        payload: 60,
      })),
    );
    const bus = createMemoryTransport();
    const collector = createCollector({
      config: config({ 'collector.decodeWorkers': workers }),
      transport: bus,
      logger,
      registry: createMetricsRegistry({ defaultMetrics: false }),
    });
    await collector.start();
    const got: { partition: number; devices: string[] }[] = [];
    const sub = await bus.createSubscriber('t');
    await sub.start(Topics.flows, async (b) => {
      for (const m of b.messages)
        got.push({ partition: b.partition, devices: decodeFlowBatch(m.value).devices });
    });
    try {
      await runSoftflowd({ pcap, target: `127.0.0.1:${collector.ports()[0]}`, version: 10 });
      await runSoftflowd({ pcap, target: `127.0.0.1:${collector.tcpPorts()[0]}`, version: 10, tcp: true });
      await waitFor(async () => (collector.counts().decoded === 240 ? true : undefined), {
        what: 'all records',
      });
      assert.equal(await collector.flush(), true);
      await bus.idle();
      const devices = got.flatMap((g) => g.devices);
      assert.equal(devices.length, 240);
      for (const g of got) for (const d of g.devices) assert.equal(g.partition, partitionFor(d, 4));
      const templates = await bus.readTopic(Topics.templates);
      assert.ok(templates.messages.length > 0);
    } finally {
      await sub.close();
      await collector.stop();
    }
  });
}

test('datagrams from outside the exporter allowlist are counted and dropped', async () => {
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const collector = createCollector({
    config: config({ 'collector.exporterAllowlist': ['192.0.2.0/24'], 'collector.decodeWorkers': 0 }),
    transport: createMemoryTransport(),
    logger,
    registry,
  });
  await collector.start();
  try {
    const sock = createSocket('udp4');
    const flows = [{ src: '10.0.0.1', dst: '8.8.8.8', bytes: 1, packets: 1, protocol: 6 }];
    for (const p of [v9TemplatePacket(1), v9DataPacket(flows, 2)]) {
      await new Promise<void>((r) => sock.send(p, collector.ports()[0]!, '127.0.0.1', () => r()));
    }
    sock.close();
    const text = await waitFor(
      async () => {
        const t = await registry.metrics();
        return /packets_dropped_total\{reason="not_allowed"\} 2$/m.test(t) ? t : undefined;
      },
      { what: 'not_allowed drops' },
    );
    assert.match(text, /^wardwatch_collector_packets_received_total\{transport="udp"\} 2$/m);
    assert.equal(collector.counts().decoded, 0);
  } finally {
    await collector.stop();
  }
});

test('a TCP stream that is not IPFIX is closed and counted; the port keeps serving', async () => {
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const collector = createCollector({
    config: config({ 'collector.decodeWorkers': 0 }),
    transport: createMemoryTransport(),
    logger,
    registry,
  });
  await collector.start();
  try {
    const port = collector.tcpPorts()[0]!;
    const closed = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1', () => sock.write(Buffer.from('GET / HTTP/1.0\r\n\r\n')));
      sock.on('error', () => {});
      sock.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 5_000).unref();
    });
    assert.equal(closed, true, 'the collector closed the connection');
    const text = await registry.metrics();
    assert.match(text, /^wardwatch_collector_packets_dropped_total\{reason="tcp_framing"\} 1$/m);
    assert.match(text, /^wardwatch_collector_tcp_connections 0$/m);
  } finally {
    await collector.stop();
  }
});

test('`wardwatch start --check` validates collector settings and exits', async () => {
  const run = promisify(execFile);
  const main = resolve(import.meta.dirname, '../cli/src/main.ts');
  const env = { ...process.env, WARDWATCH_CONFIG: '', KAFKA_BROKERS: '', DATABASE_URL: '' };
  const ok = await run(process.execPath, ['--import', 'tsx', main, 'start', '--check'], {
    env: { ...env, WARDWATCH_EXPORTER_ALLOWLIST: '192.0.2.0/24', WARDWATCH_DECODE_WORKERS: '2' },
  });
  assert.match(ok.stdout, /"ok": true/);
  const bad = await run(process.execPath, ['--import', 'tsx', main, 'start', '--check'], {
    env: { ...env, WARDWATCH_EXPORTER_ALLOWLIST: 'not-a-cidr', WARDWATCH_KAFKA_COMPRESSION: 'brotli' },
  }).then(
    () => assert.fail('a bad config must fail'),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /exporterAllowlist: "not-a-cidr" is not a CIDR/);
  assert.match(bad.stderr, /\/kafka\/compression/);
  const help = await run(process.execPath, ['--import', 'tsx', main, 'start', '--help'], { env });
  assert.match(help.stdout, /^usage: wardwatch start .*--check/m);
});
