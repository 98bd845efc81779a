import type { FlowRecord } from '@wardwatch/flow-schema';
import ipaddr from 'ipaddr.js';

/** RFC 5103 reverse information elements are IANA elements under this Private Enterprise Number. */
export const REVERSE_PEN = 29305;

/** Writes one field of a record at `off`; `len` bytes are reserved for it. */
type FieldWriter = (view: DataView, bytes: Uint8Array, off: number, r: FlowRecord, t: TimeBase) => void;

/** One template field: information element id, length, enterprise number (0: IANA) and its writer. */
export interface FieldSpec {
  id: number;
  len: number;
  pen: number;
  write: FieldWriter;
}

/** What the time fields are written relative to: the exporter's boot (v9 sysUptime). */
export interface TimeBase {
  bootMs: number;
}

function writeV4(bytes: Uint8Array, off: number, addr: string): void {
  // Dotted quad parsed by hand: the simulator writes hundreds of thousands of these a second.
  let part = 0;
  let i = 0;
  for (let c = 0; c < addr.length; c++) {
    const ch = addr.charCodeAt(c);
    if (ch === 46) {
      bytes[off + i++] = part;
      part = 0;
    } else part = part * 10 + (ch - 48);
  }
  bytes[off + i] = part;
}

function writeV6(bytes: Uint8Array, off: number, addr: string): void {
  if (addr === '') {
    bytes.fill(0, off, off + 16);
    return;
  }
  const parsed = ipaddr.parse(addr);
  const v6 =
    parsed.kind() === 'ipv6' ? (parsed as ipaddr.IPv6) : (parsed as ipaddr.IPv4).toIPv4MappedAddress();
  bytes.set(v6.toByteArray(), off);
}

function writeMac(bytes: Uint8Array, off: number, mac: string): void {
  if (mac.length !== 17) {
    bytes.fill(0, off, off + 6);
    return;
  }
  for (let i = 0; i < 6; i++) bytes[off + i] = Number.parseInt(mac.slice(i * 3, i * 3 + 2), 16);
}

function u64(view: DataView, off: number, v: number): void {
  view.setUint32(off, Math.floor(v / 0x100000000) >>> 0);
  view.setUint32(off + 4, v >>> 0);
}

/** v9 FIRST/LAST_SWITCHED: milliseconds since the exporter booted, modulo 2^32. */
function uptime(ms: number, t: TimeBase): number {
  return ms > t.bootMs ? (ms - t.bootMs) % 0x100000000 : 0;
}

const f = (id: number, len: number, write: FieldWriter, pen = 0): FieldSpec => ({ id, len, pen, write });

// Elements common to every template, in the order most exporters send them.
const PORTS_AND_COUNTERS: FieldSpec[] = [
  f(7, 2, (v, _b, o, r) => v.setUint16(o, r.srcPort)),
  f(11, 2, (v, _b, o, r) => v.setUint16(o, r.dstPort)),
  f(4, 1, (v, _b, o, r) => v.setUint8(o, r.protocol)),
  f(5, 1, (v, _b, o, r) => v.setUint8(o, r.tos)),
  f(61, 1, (v, _b, o, r) => v.setUint8(o, r.direction === 255 ? 0 : r.direction)),
  f(1, 8, (v, _b, o, r) => u64(v, o, r.bytes)),
  f(2, 8, (v, _b, o, r) => u64(v, o, r.packets)),
  f(10, 4, (v, _b, o, r) => v.setUint32(o, r.inputIf)),
  f(14, 4, (v, _b, o, r) => v.setUint32(o, r.outputIf)),
];

// VLANs and MACs let Wardwatch tell devices apart behind one router interface. Only records that carry
// them use a template with them: an all-zero MAC would read as a real (if odd) address.
const LINK_LAYER: FieldSpec[] = [
  f(58, 2, (v, _b, o, r) => v.setUint16(o, r.srcVlan)),
  f(59, 2, (v, _b, o, r) => v.setUint16(o, r.dstVlan)),
  f(56, 6, (_v, b, o, r) => writeMac(b, o, r.srcMac)),
  f(80, 6, (_v, b, o, r) => writeMac(b, o, r.dstMac)),
];

const V4_ADDRS: FieldSpec[] = [
  f(8, 4, (_v, b, o, r) => writeV4(b, o, r.srcAddr)),
  f(12, 4, (_v, b, o, r) => writeV4(b, o, r.dstAddr)),
];
const V6_ADDRS: FieldSpec[] = [
  f(27, 16, (_v, b, o, r) => writeV6(b, o, r.srcAddr)),
  f(28, 16, (_v, b, o, r) => writeV6(b, o, r.dstAddr)),
];

// NetFlow v9 (RFC 3954): tcpFlags is one byte; times are FIRST/LAST_SWITCHED in sysUptime ms.
const V9_TAIL: FieldSpec[] = [
  f(6, 1, (v, _b, o, r) => v.setUint8(o, r.tcpFlags & 0xff)),
  f(22, 4, (v, _b, o, r, t) => v.setUint32(o, uptime(r.startMs, t))),
  f(21, 4, (v, _b, o, r, t) => v.setUint32(o, uptime(r.endMs, t))),
];

// IPFIX (RFC 7011/7012): tcpControlBits is unsigned16; flowStart/EndMilliseconds are absolute;
// RFC 5103 reverse counters carry the biflow's other direction.
const IPFIX_TAIL: FieldSpec[] = [
  f(6, 2, (v, _b, o, r) => v.setUint16(o, r.tcpFlags)),
  f(152, 8, (v, _b, o, r) => u64(v, o, r.startMs)),
  f(153, 8, (v, _b, o, r) => u64(v, o, r.endMs)),
  f(1, 8, (v, _b, o, r) => u64(v, o, r.reverseBytes), REVERSE_PEN),
  f(2, 8, (v, _b, o, r) => u64(v, o, r.reversePackets), REVERSE_PEN),
];

/** A template: id, fields and the fixed length of one data record. */
export interface TemplateSpec {
  id: number;
  fields: FieldSpec[];
  recordLength: number;
}

function template(id: number, fields: FieldSpec[]): TemplateSpec {
  return { id, fields, recordLength: fields.reduce((n, x) => n + x.len, 0) };
}

/** The templates an encoder announces for a protocol version: IPv4 / IPv6, with / without MACs and VLANs. */
export interface TemplateSet {
  v4: TemplateSpec;
  v6: TemplateSpec;
  v4l2: TemplateSpec;
  v6l2: TemplateSpec;
}

/** The four templates (256-259) of a protocol version. */
export function templatesFor(version: 9 | 10): TemplateSet {
  const tail = version === 9 ? V9_TAIL : IPFIX_TAIL;
  return {
    v4l2: template(256, [...V4_ADDRS, ...PORTS_AND_COUNTERS, ...LINK_LAYER, ...tail]),
    v6l2: template(257, [...V6_ADDRS, ...PORTS_AND_COUNTERS, ...LINK_LAYER, ...tail]),
    v4: template(258, [...V4_ADDRS, ...PORTS_AND_COUNTERS, ...tail]),
    v6: template(259, [...V6_ADDRS, ...PORTS_AND_COUNTERS, ...tail]),
  };
}

/** The template of a record: by address family, and whether it carries MACs or VLANs. */
export function templateOf(t: TemplateSet, r: FlowRecord): TemplateSpec {
  const v6 = r.srcAddr.includes(':') || r.dstAddr.includes(':');
  const l2 = r.srcMac !== '' || r.dstMac !== '' || r.srcVlan !== 0 || r.dstVlan !== 0;
  return v6 ? (l2 ? t.v6l2 : t.v6) : l2 ? t.v4l2 : t.v4;
}
