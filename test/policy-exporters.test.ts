// GET /v1/exporters follows the collectors' exporters-v1 registry over the real Kafka broker: statuses
// published to the compacted topic appear in the API, a newer report wins over an older one, and an
// undecodable message is skipped without stalling the topic.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ExporterStatus, encodeExporterStatus, exporterKey, Topics } from '@wardwatch/flow-schema';
import { TEST_KAFKA_BROKERS, uniqueName, waitFor } from '@wardwatch/testkit';
import { createKafkaTransport, type Transport } from '@wardwatch/transport';
import { type PolicyHarness, startPolicyHarness } from './policy-support.ts';

let h: PolicyHarness;
let transport: Transport;

const status = (over: Partial<ExporterStatus>): ExporterStatus => ({
  format: 'wardwatch-exporter',
  formatVersion: 1,
  exporter: '10.0.0.254',
  observationDomain: 0,
  version: 10,
  collector: 'collector-a',
  transports: ['udp'],
  packets: 100,
  records: 3000,
  decodeErrors: 0,
  templates: 2,
  sequenceLost: 0,
  sequenceUnit: 'records',
  sequenceResets: 0,
  samplingRate: 1,
  recordsPerSecond: 50,
  firstSeenMs: Date.now() - 60_000,
  lastSeenMs: Date.now(),
  reportedMs: Date.now(),
  ...over,
});

before(async () => {
  const prefix = `${uniqueName('polexp')}.`;
  transport = createKafkaTransport({
    brokers: TEST_KAFKA_BROKERS,
    clientId: 'policy-exporters-test',
    topicPrefix: prefix,
  });
  h = await startPolicyHarness({ 'analytics.groupId': `${prefix}group` }, { transport });
});
after(async () => {
  await h?.close();
  await transport?.close();
});

test('exporter statuses from exporters-v1 appear in GET /v1/exporters; the latest report wins', async () => {
  const pub = await transport.createPublisher();
  const now = Date.now();
  const msg = (s: ExporterStatus) => ({
    key: exporterKey(s.exporter, s.observationDomain),
    value: encodeExporterStatus(s),
  });
  await pub.publish(Topics.exporters, [
    msg(status({ records: 1000, reportedMs: now - 10_000, sequenceLost: 1 })),
    { key: 'garbage', value: new TextEncoder().encode('{"not":"a status"}') },
    msg(status({ records: 5000, reportedMs: now, sequenceLost: 7, templates: 3, recordsPerSecond: 83.5 })),
    msg(
      status({
        exporter: '2001:db8::fe',
        observationDomain: 256,
        version: 9,
        sequenceUnit: 'packets',
        transports: ['udp', 'tcp'],
      }),
    ),
  ]);
  const items = await waitFor(
    async () => {
      const res = await h.call('GET', '/v1/exporters', { role: 'viewer' });
      const list = (res.body as { items: Array<Record<string, unknown>> }).items;
      return list.length === 2 && list.some((e) => e.records === 5000) ? list : undefined;
    },
    { what: 'exporters in the API', timeoutMs: 60_000 },
  );
  const v4 = items.find((e) => e.address === '10.0.0.254')!;
  assert.equal(v4.sequenceLost, 7);
  assert.equal(v4.templates, 3);
  assert.equal(v4.recordsPerSecond, 83.5);
  assert.equal(v4.collector, 'collector-a');
  const v6 = items.find((e) => e.address === '2001:db8::fe')!;
  assert.equal(v6.observationDomain, 256);
  assert.deepEqual(v6.transports, ['udp', 'tcp']);
  // A late, older report does not overwrite the newer one.
  await pub.publish(Topics.exporters, [msg(status({ records: 2, reportedMs: now - 60_000 }))]);
  await pub.publish(Topics.exporters, [msg(status({ exporter: '10.0.0.253', reportedMs: now }))]);
  await waitFor(
    async () => {
      const list = ((await h.call('GET', '/v1/exporters')).body as { items: unknown[] }).items;
      return list.length === 3 ? true : undefined;
    },
    { what: 'the third exporter', timeoutMs: 30_000 },
  );
  const again = ((await h.call('GET', '/v1/exporters')).body as { items: Array<Record<string, unknown>> })
    .items;
  assert.equal(again.find((e) => e.address === '10.0.0.254')!.records, 5000);
  await pub.close();
});

test('an sFlow agent shows its datagram loss and interface health in GET /v1/exporters', async () => {
  const pub = await transport.createPublisher();
  const now = Date.now();
  const health = {
    ifIndex: 12,
    speed: 1e9,
    adminUp: true,
    operUp: false,
    inOctets: 5000,
    outOctets: 7000,
    inErrors: 4,
    outErrors: 0,
    inDiscards: 1,
    outDiscards: 2,
    fcsErrors: 3,
    lastSeenMs: now,
  };
  const s = status({
    exporter: '192.0.2.77',
    observationDomain: 5,
    version: 1005,
    sequenceUnit: 'samples',
    sequenceLost: 3,
    samplingRate: 256,
    datagramsLost: 2,
    interfaces: [health],
  });
  await pub.publish(Topics.exporters, [
    { key: exporterKey(s.exporter, s.observationDomain), value: encodeExporterStatus(s) },
  ]);
  const agent = await waitFor(
    async () => {
      const list = (
        (await h.call('GET', '/v1/exporters', { role: 'viewer' })).body as {
          items: Array<Record<string, unknown>>;
        }
      ).items;
      return list.find((e) => e.address === '192.0.2.77');
    },
    { what: 'the sFlow agent', timeoutMs: 60_000 },
  );
  assert.equal(agent.observationDomain, 5);
  assert.equal(agent.sequenceUnit, 'samples');
  assert.equal(agent.samplingInterval, 256);
  assert.equal(agent.datagramsLost, 2);
  const { lastSeenMs, ...rest } = health;
  assert.deepEqual(agent.interfaces, [{ ...rest, lastSeen: new Date(lastSeenMs).toISOString() }]);
  const netflow = (
    (await h.call('GET', '/v1/exporters')).body as { items: Array<Record<string, unknown>> }
  ).items.find((e) => e.address === '10.0.0.254')!;
  assert.equal('interfaces' in netflow, false, 'NetFlow exporters have no interface list');
  await pub.close();
});
