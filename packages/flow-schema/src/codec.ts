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
  const b = scratch;
  b.reset();
  for (const r of records) b.addRecord(r);
  if (devices) for (const d of devices) b.addDevice(d);
  return b.finish();
}

/**
 * Builds one `FlowBatch` a record at a time (the collector's hot path: one builder per partition, no
 * record arrays kept). `add(r, device)` appends `r` and, index for index, its device; `finish()` returns
 * exactly the bytes `encodeFlowBatch(records, devices)` would, in a buffer of its own (transferable),
 * and empties the builder for reuse.
 */
export class FlowBatchBuilder {
  private rec: Uint8Array = new Uint8Array(1 << 14);
  private recPos = 0;
  private dev: Uint8Array = new Uint8Array(1 << 10);
  private devPos = 0;
  /** Bytes of the last record's length prefix: records of one template are alike, so it guesses well. */
  private prefix = 1;
  /** Records added since the last `finish`. */
  count = 0;
  /** The device of the first record since the last `finish` ('' when none). */
  firstDevice = '';

  /** Appends a record and the device it is routed to. */
  add(r: FlowRecord, device: string): void {
    if (this.count === 0) this.firstDevice = device;
    this.addRecord(r);
    this.addDevice(device);
  }

  /** Appends a record only (field 1). */
  addRecord(r: FlowRecord): void {
    this.count++;
    const need = recordBound(r) + 8;
    if (this.recPos + need > this.rec.length) this.rec = grow(this.rec, this.recPos, need);
    const b = this.rec;
    let p = this.recPos;
    b[p++] = 0x0a; // field 1, length-delimited
    const reserved = this.prefix;
    const start = p + reserved;
    const end = writeRecord(b, start, r);
    const len = end - start;
    const size = len < 0x80 ? 1 : len < 0x4000 ? 2 : len < 0x200000 ? 3 : len < 0x10000000 ? 4 : 5;
    if (size !== reserved) b.copyWithin(p + size, start, end);
    p = varint(b, p, len);
    this.recPos = p + len;
    this.prefix = size;
  }

  /** Appends a device name only (field 2). */
  addDevice(d: string): void {
    const need = 8 + d.length * 3;
    if (this.devPos + need > this.dev.length) this.dev = grow(this.dev, this.devPos, need);
    this.devPos = str(this.dev, this.devPos, 0x12, d);
  }

  /** Bytes added so far (the length `finish` would return). */
  size(): number {
    return this.recPos + this.devPos;
  }

  /** The encoded batch; the builder is empty afterwards. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.recPos + this.devPos);
    out.set(this.rec.subarray(0, this.recPos), 0);
    out.set(this.dev.subarray(0, this.devPos), this.recPos);
    this.reset();
    return out;
  }

  /** Empties the builder. */
  reset(): void {
    this.recPos = 0;
    this.devPos = 0;
    this.count = 0;
    this.firstDevice = '';
  }
}

const scratch = new FlowBatchBuilder();
const utf8 = new TextEncoder();

function grow(b: Uint8Array, used: number, need: number): Uint8Array {
  let size = b.length * 2;
  while (size < used + need) size *= 2;
  const next = new Uint8Array(size);
  next.set(b.subarray(0, used));
  return next;
}

/** An upper bound of a record's encoded size (fields, tags, lengths), so writing needs no checks. */
function recordBound(r: FlowRecord): number {
  let n =
    400 +
    3 *
      (r.exporter.length +
        r.srcAddr.length +
        r.dstAddr.length +
        r.srcMac.length +
        r.dstMac.length +
        r.nextHop.length);
  if (r.extra) for (const x of r.extra) n += 32 + x.value.length;
  return n;
}

// Writers over a buffer known to be large enough: each takes a position and returns the next one.

/** Varint of a non-negative integer below 2^53. */
function varint(b: Uint8Array, p: number, v: number): number {
  while (v > 0x7fffffff) {
    b[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  while (v > 0x7f) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

/** A tag of one byte (fields 1-15) or two (16-32). */
function tag(b: Uint8Array, p: number, t: number): number {
  if (t > 0x7f) {
    b[p++] = (t & 0x7f) | 0x80;
    b[p++] = t >>> 7;
  } else b[p++] = t;
  return p;
}

/** A uint32 field, omitted when 0 (self-contained: it is the most frequent call and V8 inlines it). */
function u32(b: Uint8Array, p: number, t: number, v: number): number {
  if (v === 0) return p;
  if (t > 0x7f) {
    b[p++] = (t & 0x7f) | 0x80;
    b[p++] = t >>> 7;
  } else b[p++] = t;
  v >>>= 0;
  while (v > 0x7f) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

/** A uint64 or int64 field, omitted when 0; values outside 1..2^53 take the (rare) bigint path. */
function u64(b: Uint8Array, p: number, t: number, v: number): number {
  if (v === 0) return p;
  if (t > 0x7f) {
    b[p++] = (t & 0x7f) | 0x80;
    b[p++] = t >>> 7;
  } else b[p++] = t;
  if (v > 0 && v <= Number.MAX_SAFE_INTEGER) {
    // Two 32-bit halves and integer shifts (timestamps and counters are above 2^31).
    v = Math.floor(v);
    let lo = (v % 4294967296) >>> 0;
    let hi = ((v - lo) / 4294967296) >>> 0;
    while (hi !== 0) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 0x7f) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    b[p++] = lo;
    return p;
  }
  let w = BigInt.asUintN(64, BigInt(Math.trunc(v)));
  while (w > 0x7fn) {
    b[p++] = Number(w & 0x7fn) | 0x80;
    w >>= 7n;
  }
  b[p++] = Number(w);
  return p;
}

/** A string field (always written); ASCII (addresses, MACs) is copied directly. */
function str(b: Uint8Array, p: number, t: number, v: string): number {
  p = tag(b, p, t);
  const n = v.length;
  if (n < 0x80) {
    const start = p + 1;
    let q = start;
    let i = 0;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c > 0x7f) break;
      b[q++] = c;
    }
    if (i === n) {
      b[p] = n;
      return q;
    }
  }
  const bytes = utf8.encode(v);
  p = varint(b, p, bytes.length);
  b.set(bytes, p);
  return p + bytes.length;
}

const VARINT = 0;
const LD = 2;
const t = (field: number, wire: number) => (field << 3) | wire;

function writeRecord(b: Uint8Array, p: number, r: FlowRecord): number {
  if (r.exporter !== '') p = str(b, p, t(1, LD), r.exporter);
  p = u32(b, p, t(2, VARINT), r.observationDomain);
  p = u32(b, p, t(3, VARINT), r.version);
  p = u32(b, p, t(4, VARINT), r.templateId);
  if (r.srcAddr !== '') p = str(b, p, t(5, LD), r.srcAddr);
  if (r.dstAddr !== '') p = str(b, p, t(6, LD), r.dstAddr);
  p = u32(b, p, t(7, VARINT), r.srcPort);
  p = u32(b, p, t(8, VARINT), r.dstPort);
  p = u32(b, p, t(9, VARINT), r.protocol);
  p = u32(b, p, t(10, VARINT), r.tcpFlags);
  p = u32(b, p, t(11, VARINT), r.tos);
  p = u64(b, p, t(12, VARINT), r.bytes);
  p = u64(b, p, t(13, VARINT), r.packets);
  p = u64(b, p, t(14, VARINT), r.reverseBytes);
  p = u64(b, p, t(15, VARINT), r.reversePackets);
  p = u64(b, p, t(16, VARINT), r.startMs);
  p = u64(b, p, t(17, VARINT), r.endMs);
  p = u32(b, p, t(18, VARINT), r.inputIf);
  p = u32(b, p, t(19, VARINT), r.outputIf);
  p = u32(b, p, t(20, VARINT), r.srcVlan);
  p = u32(b, p, t(21, VARINT), r.dstVlan);
  if (r.srcMac !== '') p = str(b, p, t(22, LD), r.srcMac);
  if (r.dstMac !== '') p = str(b, p, t(23, LD), r.dstMac);
  p = u32(b, p, t(24, VARINT), r.srcAs);
  p = u32(b, p, t(25, VARINT), r.dstAs);
  if (r.nextHop !== '') p = str(b, p, t(26, LD), r.nextHop);
  p = u32(b, p, t(27, VARINT), r.srcMask);
  p = u32(b, p, t(28, VARINT), r.dstMask);
  p = u32(b, p, t(29, VARINT), r.samplingRate);
  p = u32(b, p, t(30, VARINT), r.direction);
  if (r.extra) {
    for (const x of r.extra) {
      p = tag(b, p, t(31, LD));
      // The content is short (two varints and the value): its length is computed, not patched.
      const idLen = x.id === 0 ? 0 : 1 + varintSize(x.id >>> 0);
      const penLen = x.pen === 0 ? 0 : 1 + varintSize(x.pen >>> 0);
      const valLen = x.value.length > 0 ? 1 + varintSize(x.value.length) + x.value.length : 0;
      p = varint(b, p, idLen + penLen + valLen);
      p = u32(b, p, t(1, VARINT), x.id);
      p = u32(b, p, t(2, VARINT), x.pen);
      if (x.value.length > 0) {
        b[p++] = t(3, LD);
        p = varint(b, p, x.value.length);
        b.set(x.value, p);
        p += x.value.length;
      }
    }
  }
  return u64(b, p, t(32, VARINT), r.receivedMs);
}

function varintSize(v: number): number {
  let n = 1;
  while (v > 0x7f) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
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
