// sFlow v5 through a decode shard: the agent address and sub-agent id (not the UDP source) are the
// exporter, records are routed like NetFlow's, and counter samples become interface health in the
// exporter status.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SFLOW_VERSION } from '@wardwatch/flow-decoder';
import { decodeExporterStatus, decodeFlowBatch } from '@wardwatch/flow-schema';
import {
  counterSample,
  extendedSwitch,
  flowSample,
  rawHeader,
  sflowDatagram,
  taggedFrame,
} from '../../../packages/flow-decoder/src/test-helpers/sflow-builder.ts';
import { DecodeShard, VIA_UDP } from './shard.ts';

test('an sFlow agent is its own exporter (agent address, sub-agent id) with interface health and sample loss', () => {
  const shard = new DecodeShard({
    monitoredNetworks: ['10.0.0.0/8'],
    partitions: 2,
    batchRecords: 1000,
    lingerMs: 50,
    exporterReportMs: 1000,
    collectorId: 'test/1',
  });
  const frame = taggedFrame(
    { src: '10.1.1.5', dst: '192.0.2.99', protocol: 6, srcPort: 1, dstPort: 443, payload: 100 },
    [{ tpid: 0x8100, vlan: 30 }],
  );
  // Samples 1, 2 and 4 of data source 1: sample 3 was lost; then enough to close the gap.
  const seqs = [1, 2, 4, ...Array.from({ length: 1100 }, (_, i) => 5 + i)];
  seqs.forEach((seq, i) => {
    const samples = [
      flowSample({ seq, rate: 256, input: 12, records: [rawHeader(frame), extendedSwitch(30, 30)] }),
    ];
    if (i === 0) samples.push(counterSample({ ifIndex: 12, status: 3, inErrors: 4, inOctets: 5000n }));
    if (i === 1) samples.push(counterSample({ ifIndex: 13, status: 1 }));
    // The datagrams come from a relay's address: the agent named inside is the exporter.
    shard.ingest(
      sflowDatagram({ agent: '192.0.2.10', subAgentId: 3, seq: i + 1, samples }),
      '127.0.0.9',
      1000 + i,
      VIA_UDP,
    );
  });
  shard.emitPartial();
  const out = shard.take({ exporters: shard.reportExporters(5000) });
  assert.equal(out.stats.packets[String(SFLOW_VERSION)], seqs.length);
  const records = out.batches.flatMap((b) => decodeFlowBatch(b.value).records);
  assert.equal(records.length, seqs.length);
  assert.deepEqual(
    (({ exporter, observationDomain, srcMac, srcVlan, inputIf, samplingRate, packets }) => ({
      exporter,
      observationDomain,
      srcMac,
      srcVlan,
      inputIf,
      samplingRate,
      packets,
    }))(records[0]!),
    {
      exporter: '192.0.2.10',
      observationDomain: 3,
      srcMac: '02:00:00:00:00:02',
      srcVlan: 30,
      inputIf: 12,
      samplingRate: 256,
      // As sampled: analytics scales by samplingRate once (scaled here too, a 1:N sample counted N^2).
      packets: 1,
    },
  );
  assert.equal(out.exporters.length, 1);
  assert.equal(out.exporters[0]!.key, '192.0.2.10|3');
  const s = decodeExporterStatus(out.exporters[0]!.value!)!;
  assert.equal(s.version, SFLOW_VERSION);
  assert.equal(s.sequenceUnit, 'samples');
  assert.equal(s.sequenceLost, 1);
  assert.equal(s.datagramsLost, 0);
  assert.equal(s.samplingRate, 256);
  assert.deepEqual(
    s.interfaces!.map((x) => [x.ifIndex, x.operUp, x.inErrors, x.inOctets]),
    [
      [12, true, 4, 5000],
      [13, false, 0, 0],
    ],
  );
  assert.equal(out.stats.interfaces.length, 2);
});

test('with an exporter allowlist, an sFlow datagram naming an agent outside it is counted and dropped', () => {
  const shard = new DecodeShard({
    monitoredNetworks: ['10.0.0.0/8'],
    partitions: 1,
    batchRecords: 1000,
    lingerMs: 50,
    exporterReportMs: 1000,
    collectorId: 'test/1',
    exporterAllowlist: ['192.0.2.0/28'],
  });
  const frame = taggedFrame({ src: '10.1.1.5', dst: '10.2.2.9', protocol: 17, payload: 10 });
  const samples = [flowSample({ records: [rawHeader(frame)] })];
  shard.ingest(sflowDatagram({ agent: '192.0.2.10', samples }), '192.0.2.10', 1000, VIA_UDP);
  shard.ingest(sflowDatagram({ agent: '198.51.100.1', samples }), '192.0.2.10', 1001, VIA_UDP);
  shard.emitPartial();
  const out = shard.take({ exporters: shard.reportExporters(2000) });
  assert.equal(out.stats.invalid.not_allowed, 1);
  assert.equal(out.stats.records, 1);
  assert.deepEqual(
    out.exporters.map((e) => e.key),
    ['192.0.2.10|0'],
  );
});
