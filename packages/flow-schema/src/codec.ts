import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { createFlowRecord, type ExtraField, type FlowRecord } from './record.ts';

// A hand-unrolled codec for `wardwatch.flow.v1.FlowBatch`: the generated reflection codec (src/gen) is the
// reference it is tested against, this one avoids bigint conversions on the hot path. Field numbers
// must match proto/wardwatch/flow/v1/flow.proto.

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

/** A decoded `FlowBatch`: records and, index for index, the device each one is routed to. */
export interface FlowBatch {
  records: FlowRecord[];
  /** `devices[i]` is the device `records[i]` is routed to ('' when the producer did not say). */
  devices: string[];
}

/**
 * Encodes records as one `FlowBatch` protobuf message (the value of a `flows-v1` Kafka message);
 * `devices[i]`, when given, names the device `records[i]` is routed to.
 */
export function encodeFlowBatch(records: readonly FlowRecord[], devices?: readonly string[]): Uint8Array {
  const w = new BinaryWriter();
  for (const r of records) {
    w.tag(1, WireType.LengthDelimited).fork();
    writeRecord(w, r);
    w.join();
  }
  if (devices) for (const d of devices) w.tag(2, WireType.LengthDelimited).string(d);
  return w.finish();
}

function readExtra(r: BinaryReader, end: number): ExtraField {
  const x: ExtraField = { id: 0, pen: 0, value: new Uint8Array(0) };
  while (r.pos < end) {
    const [field, wire] = r.tag();
    if (field === 1) x.id = r.uint32();
    else if (field === 2) x.pen = r.uint32();
    else if (field === 3) x.value = r.bytes();
    else r.skip(wire);
  }
  return x;
}

function readRecord(r: BinaryReader, end: number): FlowRecord {
  const f = createFlowRecord();
  f.samplingRate = 0;
  f.direction = 0;
  while (r.pos < end) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
        f.exporter = r.string();
        break;
      case 2:
        f.observationDomain = r.uint32();
        break;
      case 3:
        f.version = r.uint32();
        break;
      case 4:
        f.templateId = r.uint32();
        break;
      case 5:
        f.srcAddr = r.string();
        break;
      case 6:
        f.dstAddr = r.string();
        break;
      case 7:
        f.srcPort = r.uint32();
        break;
      case 8:
        f.dstPort = r.uint32();
        break;
      case 9:
        f.protocol = r.uint32();
        break;
      case 10:
        f.tcpFlags = r.uint32();
        break;
      case 11:
        f.tos = r.uint32();
        break;
      case 12:
        f.bytes = Number(r.uint64());
        break;
      case 13:
        f.packets = Number(r.uint64());
        break;
      case 14:
        f.reverseBytes = Number(r.uint64());
        break;
      case 15:
        f.reversePackets = Number(r.uint64());
        break;
      case 16:
        f.startMs = Number(r.int64());
        break;
      case 17:
        f.endMs = Number(r.int64());
        break;
      case 18:
        f.inputIf = r.uint32();
        break;
      case 19:
        f.outputIf = r.uint32();
        break;
      case 20:
        f.srcVlan = r.uint32();
        break;
      case 21:
        f.dstVlan = r.uint32();
        break;
      case 22:
        f.srcMac = r.string();
        break;
      case 23:
        f.dstMac = r.string();
        break;
      case 24:
        f.srcAs = r.uint32();
        break;
      case 25:
        f.dstAs = r.uint32();
        break;
      case 26:
        f.nextHop = r.string();
        break;
      case 27:
        f.srcMask = r.uint32();
        break;
      case 28:
        f.dstMask = r.uint32();
        break;
      case 29:
        f.samplingRate = r.uint32();
        break;
      case 30:
        f.direction = r.uint32();
        break;
      case 31: {
        const len = r.uint32();
        if (!f.extra) f.extra = [];
        f.extra.push(readExtra(r, r.pos + len));
        break;
      }
      case 32:
        f.receivedMs = Number(r.int64());
        break;
      default:
        r.skip(wire);
    }
  }
  return f;
}

/** Decodes a `FlowBatch` protobuf message; throws on malformed bytes. */
export function decodeFlowBatch(bytes: Uint8Array): FlowBatch {
  const r = new BinaryReader(bytes);
  const records: FlowRecord[] = [];
  const devices: string[] = [];
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === WireType.LengthDelimited) {
      const len = r.uint32();
      records.push(readRecord(r, r.pos + len));
    } else if (field === 2 && wire === WireType.LengthDelimited) {
      devices.push(r.string());
    } else {
      r.skip(wire);
    }
  }
  while (devices.length < records.length) devices.push('');
  return { records, devices };
}
