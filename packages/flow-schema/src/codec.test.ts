import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { decodeFlowBatch, encodeFlowBatch, FlowBatchBuilder } from './codec.ts';
import { FlowBatchSchema } from './gen/wardwatch/flow/v1/flow_pb.ts';
import { createFlowRecord, type FlowRecord } from './record.ts';

// The straightforward BinaryWriter encoding the fast encoder must reproduce byte for byte.
function str(w: BinaryWriter, field: number, v: string): void {
  if (v !== '') w.tag(field, WireType.LengthDelimited).string(v);
}
function u32(w: BinaryWriter, field: number, v: number): void {
  if (v !== 0) w.tag(field, WireType.Varint).uint32(v);
}
function u64(w: BinaryWriter, field: number, v: number): void {
  if (v !== 0) w.tag(field, WireType.Varint).uint64(v);
}
function i64(w: BinaryWriter, field: number, v: number): void {
  if (v !== 0) w.tag(field, WireType.Varint).int64(v);
}

function writeRecord(w: BinaryWriter, r: FlowRecord): void {
  str(w, 1, r.exporter);
  u32(w, 2, r.observationDomain);
  u32(w, 3, r.version);
  u32(w, 4, r.templateId);
  str(w, 5, r.srcAddr);
  str(w, 6, r.dstAddr);
  u32(w, 7, r.srcPort);
  u32(w, 8, r.dstPort);
  u32(w, 9, r.protocol);
  u32(w, 10, r.tcpFlags);
  u32(w, 11, r.tos);
  u64(w, 12, r.bytes);
  u64(w, 13, r.packets);
  u64(w, 14, r.reverseBytes);
  u64(w, 15, r.reversePackets);
  i64(w, 16, r.startMs);
  i64(w, 17, r.endMs);
  u32(w, 18, r.inputIf);
  u32(w, 19, r.outputIf);
  u32(w, 20, r.srcVlan);
  u32(w, 21, r.dstVlan);
  str(w, 22, r.srcMac);
  str(w, 23, r.dstMac);
  u32(w, 24, r.srcAs);
  u32(w, 25, r.dstAs);
  str(w, 26, r.nextHop);
  u32(w, 27, r.srcMask);
  u32(w, 28, r.dstMask);
  u32(w, 29, r.samplingRate);
  u32(w, 30, r.direction);
  if (r.extra) {
    for (const x of r.extra) {
      w.tag(31, WireType.LengthDelimited).fork();
      u32(w, 1, x.id);
      u32(w, 2, x.pen);
      if (x.value.length > 0) w.tag(3, WireType.LengthDelimited).bytes(x.value);
      w.join();
    }
  }
  i64(w, 32, r.receivedMs);
}

function referenceEncode(records: readonly FlowRecord[], devices?: readonly string[]): Uint8Array {
  const w = new BinaryWriter();
  for (const r of records) {
    w.tag(1, WireType.LengthDelimited).fork();
    writeRecord(w, r);
    w.join();
  }
  if (devices) for (const d of devices) w.tag(2, WireType.LengthDelimited).string(d);
  return w.finish();
}

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

test('the fast encoder writes exactly the bytes of a BinaryWriter encoding', () => {
  const records: FlowRecord[] = [sample(), createFlowRecord()];
  // Edge values: long and non-ASCII strings, 2-byte and longer length prefixes, large and negative counters.
  const big = sample();
  Object.assign(big, {
    srcAddr: 'fe80::1ff:fe23:4567:890a%eth0',
    nextHop: '2001:db8::ff',
    dstMac: 'aa:bb:cc:dd:ee:ff',
    exporter: 'routeur-é-ü-☃',
    bytes: 2 ** 53 + 2,
    packets: 2 ** 31,
    startMs: -5,
    reverseBytes: 127,
    reversePackets: 128,
    srcVlan: 4095,
    direction: 255,
    extra: [
      { id: 1, pen: 0, value: new Uint8Array(300).fill(7) },
      { id: 2, pen: 9, value: new Uint8Array(20000).fill(1) },
    ],
  });
  records.push(big);
  for (let i = 0; i < 50; i++) {
    const r = sample();
    r.srcPort = i * 1300;
    r.bytes = i * 2 ** 35 + i;
    r.extra = undefined;
    records.push(r);
  }
  const devices = records.map((r, i) => (i % 2 === 0 ? r.srcAddr : 'x'.repeat(i * 3)));
  assert.deepEqual(encodeFlowBatch(records, devices), referenceEncode(records, devices));
  assert.deepEqual(encodeFlowBatch([]), referenceEncode([]));
  assert.deepEqual(encodeFlowBatch(records.slice(0, 1)), referenceEncode(records.slice(0, 1)));
});

test('a FlowBatchBuilder writes, batch after batch, the bytes of encodeFlowBatch', () => {
  const builder = new FlowBatchBuilder();
  const big = sample();
  big.exporter = 'routeur-é';
  big.extra = [{ id: 7, pen: 0, value: new Uint8Array(500).fill(3) }];
  // Short and long records alternate, so the guessed length prefix is wrong both ways.
  const records = [sample(), big, createFlowRecord(), big, sample()];
  for (let round = 0; round < 3; round++) {
    const devices = records.map((_, i) => `10.0.${round}.${i}`);
    for (let i = 0; i < records.length; i++) builder.add(records[i]!, devices[i]!);
    assert.equal(builder.count, records.length);
    assert.equal(builder.firstDevice, devices[0]);
    const size = builder.size();
    const bytes = builder.finish();
    assert.equal(bytes.length, size);
    assert.deepEqual(bytes, encodeFlowBatch(records, devices));
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.buffer.byteLength, bytes.length, 'a buffer of its own, transferable');
    assert.equal(builder.count, 0);
  }
});
