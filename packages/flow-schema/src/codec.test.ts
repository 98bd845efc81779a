import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { decodeFlowBatch, encodeFlowBatch } from './codec.ts';
import { FlowBatchSchema } from './gen/wardwatch/flow/v1/flow_pb.ts';
import { createFlowRecord } from './record.ts';

function sample() {
  const r = createFlowRecord();
  Object.assign(r, {
    exporter: '192.0.2.1',
    observationDomain: 7,
    version: 10,
    templateId: 256,
    srcAddr: '10.1.2.3',
    dstAddr: '2001:db8::1',
    srcPort: 51000,
    dstPort: 104,
    protocol: 6,
    tcpFlags: 0x1b,
    bytes: 2 ** 40 + 5,
    packets: 12,
    startMs: 1_764_000_000_123,
    endMs: 1_764_000_001_456,
    srcMac: '00:11:22:33:44:55',
    samplingRate: 1,
    direction: 0,
    extra: [{ id: 100, pen: 35632, value: new Uint8Array([1, 2, 3]) }],
    receivedMs: 1_764_000_002_000,
  });
  return r;
}

test('FlowBatch round-trips through the hand codec, with the device of each record', () => {
  const records = [sample(), createFlowRecord()];
  assert.deepEqual(decodeFlowBatch(encodeFlowBatch(records, ['10.1.2.3', '10.9.9.9'])), {
    records,
    devices: ['10.1.2.3', '10.9.9.9'],
  });
  assert.deepEqual(decodeFlowBatch(encodeFlowBatch(records)).devices, ['', '']);
});

test('the hand codec writes what the generated protobuf schema reads', () => {
  const r = sample();
  const batch = fromBinary(FlowBatchSchema, encodeFlowBatch([r], ['10.1.2.3']));
  assert.equal(batch.records.length, 1);
  assert.deepEqual(batch.devices, ['10.1.2.3']);
  const g = batch.records[0]!;
  assert.equal(g.exporter, r.exporter);
  assert.equal(g.dstAddr, r.dstAddr);
  assert.equal(g.dstPort, 104);
  assert.equal(g.bytes, BigInt(r.bytes));
  assert.equal(g.startMs, BigInt(r.startMs));
  assert.equal(g.extra[0]?.pen, 35632);
  assert.deepEqual([...(g.extra[0]?.value ?? [])], [1, 2, 3]);
});

test('decoding garbage throws rather than returning half a batch silently', () => {
  assert.throws(() => decodeFlowBatch(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])));
});
