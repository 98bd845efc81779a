// The collector against the real Kafka broker: real softflowd exports (NetFlow v9 and IPFIX over UDP,
// IPFIX over TCP) land on flows-v1 on their devices' partitions, templates and exporter statuses land
// on their compacted topics, a restarted collector decodes data at once from the shared templates, and
// the operations endpoints answer.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Collector, createCollector } from '@wardwatch/collector';
import { loadConfig } from '@wardwatch/config';
import {
  decodeExporterStatus,
  decodeFlowBatch,
  type ExporterStatus,
  partitionFor,
  Topics,
} from '@wardwatch/flow-schema';
import { createLogger, createMetricsRegistry, type Registry } from '@wardwatch/telemetry';
import { runSoftflowd, TEST_KAFKA_BROKERS, uniqueName, waitFor, writePcap } from '@wardwatch/testkit';
import { createKafkaTransport, type Transport } from '@wardwatch/transport';
import { Kafka, logLevel } from 'kafkajs';
import { v9DataPacket, v9TemplatePacket } from './support/netflow-v9.ts';

const PARTITIONS = 4;
const logger = createLogger({ level: 'warn' });

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function send(port: number, packets: Buffer[]): Promise<void> {
  const sock = createSocket('udp4');
  return (async () => {
    for (const p of packets) await new Promise<void>((r) => sock.send(p, port, '127.0.0.1', () => r()));
    sock.close();
  })();
}

describe('collector with the real Kafka broker', () => {
  const prefix = `${uniqueName('coll')}.`;
  const dir = mkdtempSync(join(tmpdir(), 'ww-coll-'));
  const pcap = join(dir, 'flows.pcap');
  const FLOWS = 300;
  let transport: Transport;
  let collector: Collector;
  let registry: Registry;
  let httpPort: number;

  function configFor(port: number) {
    return loadConfig({
      env: {},
      overrides: {
        mode: 'cluster',
        monitoredNetworks: ['10.0.0.0/8'],
        'kafka.brokers': TEST_KAFKA_BROKERS,
        'kafka.topicPrefix': prefix,
        'kafka.flowPartitions': PARTITIONS,
        'collector.host': '127.0.0.1',
        'collector.udpPorts': [0],
        'collector.tcpPorts': [0],
        'collector.httpPort': port,
        'collector.lingerMs': 20,
        'collector.decodeWorkers': 2,
        'collector.exporterReportMs': 200,
        // Trusted: only trusted exporters' templates are shared on templates-v1.
        'collector.exporterAllowlist': ['127.0.0.0/8'],
        logLevel: 'warn',
      },
    });
  }

  before(async () => {
    // Unidirectional flows from devices in 10/8 to outside peers, plus flows between two devices.
    const packets = [];
    for (let i = 0; i < FLOWS; i++) {
      const internal = i % 10 === 0;
      packets.push({
        tsMs: Date.now() - 60_000 + i * 5,
        src: `10.7.${i % 5}.${(i % 50) + 1}`,
        dst: internal ? `10.9.0.${(i % 20) + 1}` : `203.0.113.${(i % 200) + 1}`,
        protocol: 6 as const,
        srcPort: 20000 + i,
        dstPort: 443,
        payload: 100 + i,
      });
    }
    writePcap(pcap, packets);
    transport = createKafkaTransport({
      brokers: TEST_KAFKA_BROKERS,
      clientId: 'collector-test',
      topicPrefix: prefix,
    });
    registry = createMetricsRegistry();
    httpPort = await freePort();
    collector = createCollector({ config: configFor(httpPort), transport, logger, registry });
    await collector.start();
  });

  after(async () => {
    await collector?.stop();
    await transport?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("v9 and IPFIX over UDP and IPFIX over TCP reach flows-v1 on their devices' partitions", async () => {
    await runSoftflowd({ pcap, target: `127.0.0.1:${collector.ports()[0]}`, version: 9 });
    await runSoftflowd({ pcap, target: `127.0.0.1:${collector.ports()[0]}`, version: 10 });
    await runSoftflowd({ pcap, target: `127.0.0.1:${collector.tcpPorts()[0]}`, version: 10, tcp: true });
    const expectRecords = 3 * FLOWS;
    const expectRouted = 3 * (FLOWS + FLOWS / 10); // a flow between two devices is routed to both
    await waitFor(async () => (collector.counts().decoded === expectRecords ? true : undefined), {
      what: 'every record decoded',
    });
    assert.equal(await collector.flush(), true);
    const counts = collector.counts();
    assert.equal(counts.routed, expectRouted);
    assert.equal(counts.published, expectRouted);
    assert.equal(counts.unmonitored, 0);
    assert.equal(counts.pending, 0);

    let routed = 0;
    const seen = new Map<string, number>();
    // Read until every routed copy is there.
    const batches = await readUntil(prefix, expectRouted);
    for (const { partition, key, value } of batches) {
      const { records, devices } = decodeFlowBatch(value);
      assert.ok(records.length > 1 || batches.length < 100, 'many records per message');
      assert.ok(devices.includes(key), 'the key is a device of the batch');
      for (let i = 0; i < records.length; i++) {
        const device = devices[i]!;
        assert.ok(device === records[i]!.srcAddr || device === records[i]!.dstAddr);
        assert.ok(device.startsWith('10.'));
        assert.equal(partition, partitionFor(device, PARTITIONS), `device ${device} on its partition`);
        const prev = seen.get(device);
        if (prev !== undefined) assert.equal(prev, partition);
        seen.set(device, partition);
        routed++;
      }
    }
    assert.equal(routed, expectRouted, 'every routed copy is in Kafka, once');
  });

  test('templates and exporter statuses are on their compacted topics; /metrics, /healthz, /readyz answer', async () => {
    const templates = await transport.readTopic(Topics.templates);
    assert.ok(templates.complete);
    assert.ok(templates.messages.length >= 2, 'v9 and IPFIX templates of 127.0.0.1');
    for (const m of templates.messages) assert.match(m.key, /^127\.0\.0\.1\|(9|10)\|\d+\|(\d+|sampling)$/);

    const statuses = await waitFor(
      async () => {
        const snap = await transport.readTopic(Topics.exporters);
        const latest = new Map<string, ExporterStatus>();
        for (const m of snap.messages) {
          const s = decodeExporterStatus(m.value);
          if (s) latest.set(m.key, s);
        }
        const all = [...latest.values()].filter((s) => s.exporter === '127.0.0.1');
        return all.reduce((n, s) => n + s.records, 0) === 3 * FLOWS ? all : undefined;
      },
      { what: 'exporter statuses with every record' },
    );
    // softflowd's v9 and IPFIX exports both use domain 0: one status, the version of the latest packet.
    assert.ok(statuses.every((s) => s.version === 9 || s.version === 10));
    assert.ok(statuses.some((s) => s.transports.includes('tcp')));
    assert.ok(statuses.every((s) => s.templates >= 1 && s.decodeErrors === 0));

    const base = collector.opsUrl()!;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    const text = await (await fetch(`${base}/metrics`)).text();
    const expectRouted = 3 * (FLOWS + FLOWS / 10);
    assert.match(text, new RegExp(`^wardwatch_collector_records_published_total ${expectRouted}$`, 'm'));
    assert.match(text, new RegExp(`^wardwatch_collector_records_decoded_total ${3 * FLOWS}$`, 'm'));
    assert.match(text, /^wardwatch_collector_udp_kernel_drops\{port="\d+"\} 0$/m);
    assert.match(text, /^wardwatch_collector_templates [1-9]\d*$/m);
    assert.match(text, /^wardwatch_collector_kafka_publish_seconds_count\{topic="flows-v1"\} [1-9]/m);
  });

  test('a restarted collector decodes data at once with the templates from templates-v1', async () => {
    const port = collector.ports()[0]!;
    await send(port, [v9TemplatePacket(1, 77)]);
    await waitFor(
      async () => {
        const snap = await transport.readTopic(Topics.templates);
        return snap.messages.some((m) => m.key === '127.0.0.1|9|77|300') ? true : undefined;
      },
      { what: 'template 300 on templates-v1' },
    );
    await collector.stop();

    registry = createMetricsRegistry();
    collector = createCollector({ config: configFor(await freePort()), transport, logger, registry });
    await collector.start();
    const flows = Array.from({ length: 10 }, (_, i) => ({
      src: `10.1.1.${i + 1}`,
      dst: '198.51.100.1',
      bytes: 1000 + i,
      packets: 2,
      protocol: 17,
    }));
    await send(collector.ports()[0]!, [v9DataPacket(flows, 2, 77)]);
    await waitFor(async () => (collector.counts().decoded === 10 ? true : undefined), {
      what: 'data decoded without a new template',
      timeoutMs: 10_000,
    });
    const text = await registry.metrics();
    assert.match(text, /^wardwatch_collector_unknown_template_sets_total 0$/m);
    assert.match(text, /^wardwatch_collector_template_events_total\{event="imported"\} [1-9]/m);
  });
});

async function readUntil(prefix: string, routedCopies: number) {
  const kafka = new Kafka({
    clientId: 'collector-test',
    brokers: TEST_KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const out: { partition: number; key: string; value: Buffer }[] = [];
  let copies = 0;
  await consumer.connect();
  await consumer.subscribe({ topic: prefix + Topics.flows, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const value = message.value ?? Buffer.alloc(0);
      out.push({ partition, key: message.key?.toString() ?? '', value });
      copies += decodeFlowBatch(value).records.length;
    },
  });
  try {
    await waitFor(async () => (copies >= routedCopies ? true : undefined), {
      timeoutMs: 30_000,
      what: 'every routed copy',
    });
    // Anything beyond the expected count would be a duplicate: give it a moment to show up.
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    await consumer.disconnect();
  }
  return out;
}
