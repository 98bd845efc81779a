// Exporter trust from the policy service to the collector through the real Kafka broker
// (exporter-trust-v1): a new exporter appears pending with an exporter.new event; a pending exporter's
// templates are not shared on templates-v1, a trusted one's are; a blocked exporter's packets are
// dropped and counted.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { type Collector, createCollector } from '@wardwatch/collector';
import { loadConfig } from '@wardwatch/config';
import { Topics } from '@wardwatch/flow-schema';
import { createLogger, createMetricsRegistry, type Registry } from '@wardwatch/telemetry';
import { TEST_KAFKA_BROKERS, uniqueName, waitFor } from '@wardwatch/testkit';
import { createKafkaTransport, type Transport } from '@wardwatch/transport';
import { type PolicyHarness, startPolicyHarness } from './policy-support.ts';
import { v9DataPacket, v9TemplatePacket } from './support/netflow-v9.ts';

type Json = Record<string, unknown>;

describe('exporter trust: policy service -> exporter-trust-v1 -> collector (real Kafka)', () => {
  const prefix = `${uniqueName('trust')}.`;
  let transport: Transport;
  let collector: Collector;
  let registry: Registry;
  let h: PolicyHarness;
  let seq = 1;

  const send = async (packets: Buffer[]) => {
    const sock = createSocket('udp4');
    for (const p of packets)
      await new Promise<void>((r) => sock.send(p, collector.ports()[0]!, '127.0.0.1', () => r()));
    sock.close();
  };
  const metric = async (name: string, labels: Record<string, string>) => {
    const m = await registry.getSingleMetric(name)?.get();
    return m?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
  };
  const sharedTemplates = async () =>
    (await transport.readTopic(Topics.templates, { timeoutMs: 10_000 })).messages.filter(
      (m) => m.key.startsWith('127.0.0.1|') && m.value.length > 0,
    ).length;

  before(async () => {
    transport = createKafkaTransport({
      brokers: TEST_KAFKA_BROKERS,
      clientId: 'trust-test',
      topicPrefix: prefix,
    });
    h = await startPolicyHarness({ 'analytics.groupId': `${prefix}group` }, { transport });
    registry = createMetricsRegistry();
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
        'collector.tcpPorts': [],
        'collector.lingerMs': 20,
        'collector.decodeWorkers': 0,
        'collector.exporterReportMs': 200,
        logLevel: 'warn',
      },
    });
    collector = createCollector({ config, transport, logger: createLogger({ level: 'warn' }), registry });
    await collector.start();
  });

  after(async () => {
    await collector?.stop();
    await h?.close();
    await transport?.close();
  });

  test('a new exporter is pending (exporter.new) and its templates are not shared', async () => {
    await send([
      v9TemplatePacket(seq++),
      v9DataPacket([{ src: '10.1.0.1', dst: '203.0.113.1', bytes: 100, packets: 1, protocol: 6 }], seq++),
    ]);
    const t = await waitFor(
      async () => {
        const r = await h.call('GET', '/v1/exporters/trust', { role: 'viewer' });
        return (r.body as { items: Json[] }).items.find((e) => e.address === '127.0.0.1');
      },
      { what: 'the new exporter in the trust list', timeoutMs: 30_000 },
    );
    assert.equal(t.state, 'pending');
    assert.equal(t.source, 'seen');
    const ev = await h.db.pool.query("SELECT payload FROM events WHERE type = 'exporter.new'");
    assert.equal(ev.rows[0]?.payload.exporter.address, '127.0.0.1');
    assert.ok(
      (await metric('wardwatch_collector_template_events_total', { event: 'not_shared_untrusted' })) >= 1,
    );
    await collector.flush();
    assert.equal(await sharedTemplates(), 0, 'no template of a pending exporter on templates-v1');
  });

  test("once trusted, the exporter's templates are shared", async () => {
    const r = await h.call('PUT', '/v1/exporters/127.0.0.1/trust', { body: { state: 'trusted' } });
    assert.equal(r.status, 200, r.text);
    await waitFor(
      async () => {
        await send([v9TemplatePacket(seq++)]);
        await collector.flush();
        return (await sharedTemplates()) > 0 ? true : undefined;
      },
      { what: 'the template on templates-v1', timeoutMs: 30_000, intervalMs: 500 },
    );
  });

  test("a blocked exporter's packets are dropped and counted", async () => {
    const r = await h.call('PUT', '/v1/exporters/127.0.0.1/trust', { body: { state: 'blocked' } });
    assert.equal(r.status, 200, r.text);
    await waitFor(
      async () => {
        await send([
          v9DataPacket([{ src: '10.1.0.1', dst: '203.0.113.1', bytes: 100, packets: 1, protocol: 6 }], seq++),
        ]);
        return (await metric('wardwatch_collector_packets_dropped_total', { reason: 'blocked' })) > 0
          ? true
          : undefined;
      },
      { what: 'a blocked packet counted', timeoutMs: 30_000, intervalMs: 300 },
    );
  });
});
