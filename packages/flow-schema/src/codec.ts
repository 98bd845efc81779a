import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { createFlowRecord, type ExtraField, type FlowRecord } from './record.ts';

// A hand-unrolled codec for `wardwatch.flow.v1.FlowBatch`: the generated reflection codec (src/gen) is the
// reference it is tested against (and, for encoding, a BinaryWriter version in codec.test.ts byte for
// byte); this one avoids bigint conversions and per-field allocations on the hot path. Field numbers
// must match proto/wardwatch/flow/v1/flow.proto.

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
  const w = fast;
  w.pos = 0;
  for (const r of records) {
    w.byte(0x0a); // field 1, length-delimited
    const at = w.open();
    writeRecordFast(w, r);
    w.close(at);
  }
  if (devices) for (const d of devices) fstr(w, 0x12, d);
  return w.buf.slice(0, w.pos);
}

// The collector's hot path: one reused scratch buffer, varints written by hand (no bigint), ASCII
// strings copied byte by byte. Writes exactly what a BinaryWriter encoding writes (codec.test.ts).

/** A growable scratch buffer for {@link encodeFlowBatch}. */
class FastWriter {
  buf = new Uint8Array(1 << 16);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Varint of a non-negative integer below 2^53. */
  varint(v: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (v > 0x7fffffff) {
      b[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
  }

  /** Reserves two bytes for a length prefix; returns where the content starts. */
  open(): number {
    this.ensure(2);
    this.pos += 2;
    return this.pos;
  }

  /** Writes the length of the content started at `at`, moving the content when the prefix is not two bytes. */
  close(at: number): void {
    const len = this.pos - at;
    const size = len < 0x80 ? 1 : len < 0x4000 ? 2 : len < 0x200000 ? 3 : len < 0x10000000 ? 4 : 5;
    if (size !== 2) {
      this.ensure(size);
      this.buf.copyWithin(at - 2 + size, at, this.pos);
      this.pos += size - 2;
    }
    let p = at - 2;
    let v = len;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
  }
}

const fast = new FastWriter();
const utf8 = new TextEncoder();

function fstr(w: FastWriter, tag: number, v: string): void {
  const n = v.length;
  w.ensure(2 + 6 + n * 3);
  w.buf[w.pos++] = tag;
  // ASCII (addresses, MACs) is copied directly; anything else goes through TextEncoder.
  if (n < 0x80) {
    const start = w.pos + 1;
    let p = start;
    let i = 0;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c > 0x7f) break;
      w.buf[p++] = c;
    }
    if (i === n) {
      w.buf[start - 1] = n;
      w.pos = p;
      return;
    }
  }
  const bytes = utf8.encode(v);
  w.varint(bytes.length);
  w.ensure(bytes.length);
  w.buf.set(bytes, w.pos);
  w.pos += bytes.length;
}

function fs(w: FastWriter, tag: number, v: string): void {
  if (v !== '') fstr(w, tag, v);
}

/** A uint32 field; `tag` is the field's encoded tag, one byte (fields 1-15) or two (16-32). */
function fu(w: FastWriter, tag: number, v: number): void {
  if (v === 0) return;
  if (tag > 0x7f) {
    w.byte((tag & 0x7f) | 0x80);
    w.byte(tag >>> 7);
  } else w.byte(tag);
  w.varint(v >>> 0);
}

function fu64(w: FastWriter, tag: number, v: number): void {
  if (v === 0) return;
  if (tag > 0x7f) {
    w.byte((tag & 0x7f) | 0x80);
    w.byte(tag >>> 7);
  } else w.byte(tag);
  if (v > 0 && v <= Number.MAX_SAFE_INTEGER) w.varint(Math.floor(v));
  else rawVarint(w, BigInt.asUintN(64, BigInt(Math.trunc(v))));
}

function fi64(w: FastWriter, tag: number, v: number): void {
  if (v === 0) return;
  if (tag > 0x7f) {
    w.byte((tag & 0x7f) | 0x80);
    w.byte(tag >>> 7);
  } else w.byte(tag);
  if (v > 0 && v <= Number.MAX_SAFE_INTEGER) w.varint(Math.floor(v));
  else rawVarint(w, BigInt.asUintN(64, BigInt(Math.trunc(v))));
}

/** Rare path: a negative int64 or a value beyond 2^53, as a ten-byte two's-complement varint. */
function rawVarint(w: FastWriter, v: bigint): void {
  while (v > 0x7fn) {
    w.byte(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  w.byte(Number(v));
}

const VARINT = 0;
const LD = 2;
const t = (field: number, wire: number) => (field << 3) | wire;

function writeRecordFast(w: FastWriter, r: FlowRecord): void {
  fs(w, t(1, LD), r.exporter);
  fu(w, t(2, VARINT), r.observationDomain);
  fu(w, t(3, VARINT), r.version);
  fu(w, t(4, VARINT), r.templateId);
  fs(w, t(5, LD), r.srcAddr);
  fs(w, t(6, LD), r.dstAddr);
  fu(w, t(7, VARINT), r.srcPort);
  fu(w, t(8, VARINT), r.dstPort);
  fu(w, t(9, VARINT), r.protocol);
  fu(w, t(10, VARINT), r.tcpFlags);
  fu(w, t(11, VARINT), r.tos);
  fu64(w, t(12, VARINT), r.bytes);
  fu64(w, t(13, VARINT), r.packets);
  fu64(w, t(14, VARINT), r.reverseBytes);
  fu64(w, t(15, VARINT), r.reversePackets);
  fi64(w, t(16, VARINT), r.startMs);
  fi64(w, t(17, VARINT), r.endMs);
  fu(w, t(18, VARINT), r.inputIf);
  fu(w, t(19, VARINT), r.outputIf);
  fu(w, t(20, VARINT), r.srcVlan);
  fu(w, t(21, VARINT), r.dstVlan);
  if (r.srcMac !== '') fstrWide(w, t(22, LD), r.srcMac);
  if (r.dstMac !== '') fstrWide(w, t(23, LD), r.dstMac);
  fu(w, t(24, VARINT), r.srcAs);
  fu(w, t(25, VARINT), r.dstAs);
  if (r.nextHop !== '') fstrWide(w, t(26, LD), r.nextHop);
  fu(w, t(27, VARINT), r.srcMask);
  fu(w, t(28, VARINT), r.dstMask);
  fu(w, t(29, VARINT), r.samplingRate);
  fu(w, t(30, VARINT), r.direction);
  if (r.extra) {
    for (const x of r.extra) {
      w.byte((t(31, LD) & 0x7f) | 0x80);
      w.byte(t(31, LD) >>> 7);
      const at = w.open();
      fu(w, t(1, VARINT), x.id);
      fu(w, t(2, VARINT), x.pen);
      if (x.value.length > 0) {
        w.byte(t(3, LD));
        w.varint(x.value.length);
        w.ensure(x.value.length);
        w.buf.set(x.value, w.pos);
        w.pos += x.value.length;
      }
      w.close(at);
    }
  }
  fi64(w, t(32, VARINT), r.receivedMs);
}

/** A string field whose tag takes two bytes (fields 16-31). */
function fstrWide(w: FastWriter, tag: number, v: string): void {
  w.byte((tag & 0x7f) | 0x80);
  const second = tag >>> 7;
  // fstr writes a one-byte tag; write the second tag byte through it.
  fstr(w, second, v);
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
