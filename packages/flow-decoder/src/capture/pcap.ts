// Reads UDP datagrams out of pcap and pcapng captures (for the CLI, tests and benchmarks; not the
// collector's path). Handles Ethernet (with VLAN tags), Linux cooked v1/v2, null/loopback and raw IP
// link types, IPv4 fragment reassembly and IPv6 extension headers.
import { ipv6Text } from '../format.ts';

/** One UDP datagram found in a capture. */
export interface CapturedDatagram {
  /** Capture timestamp, Unix milliseconds. */
  tsMs: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  payload: Uint8Array;
}

/** Why a capture could not be read. */
export class CaptureFormatError extends Error {
  readonly code = 'CAPTURE_FORMAT';
}

const LINK_NULL = 0;
const LINK_ETHERNET = 1;
const LINK_RAW = 101;
const LINK_RAW_BSD = 12;
const LINK_RAW_OPENBSD = 14;
const LINK_LOOP = 108;
const LINK_SLL = 113;
const LINK_SLL2 = 276;
const LINK_IPV4 = 228;
const LINK_IPV6 = 229;

function ipv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

interface Fragments {
  parts: Map<number, Uint8Array>;
  total: number;
  firstSeenMs: number;
}

/** Stateful extractor: feed it frames of one link type, collect datagrams. */
class Extractor {
  readonly out: CapturedDatagram[] = [];
  private readonly frags = new Map<string, Fragments>();

  frame(link: number, b: Uint8Array, tsMs: number): void {
    let o = 0;
    let ethertype = -1;
    switch (link) {
      case LINK_ETHERNET:
        if (b.length < 14) return;
        ethertype = (b[12]! << 8) | b[13]!;
        o = 14;
        while ((ethertype === 0x8100 || ethertype === 0x88a8) && b.length >= o + 4) {
          ethertype = (b[o + 2]! << 8) | b[o + 3]!;
          o += 4;
        }
        break;
      case LINK_SLL:
        if (b.length < 16) return;
        ethertype = (b[14]! << 8) | b[15]!;
        o = 16;
        break;
      case LINK_SLL2:
        if (b.length < 20) return;
        ethertype = (b[0]! << 8) | b[1]!;
        o = 20;
        break;
      case LINK_NULL:
      case LINK_LOOP: {
        if (b.length < 4) return;
        o = 4;
        ethertype = b[4]! >> 4 === 6 ? 0x86dd : 0x0800;
        break;
      }
      case LINK_RAW:
      case LINK_RAW_BSD:
      case LINK_RAW_OPENBSD:
      case LINK_IPV4:
      case LINK_IPV6:
        ethertype = b.length > 0 && b[0]! >> 4 === 6 ? 0x86dd : 0x0800;
        break;
      default:
        return;
    }
    if (ethertype === 0x0800) this.ip4(b.subarray(o), tsMs);
    else if (ethertype === 0x86dd) this.ip6(b.subarray(o), tsMs);
  }

  private ip4(b: Uint8Array, tsMs: number): void {
    if (b.length < 20 || b[0]! >> 4 !== 4) return;
    const ihl = (b[0]! & 0x0f) * 4;
    const total = Math.min((b[2]! << 8) | b[3]!, b.length);
    if (ihl < 20 || total < ihl || b[9] !== 17) return;
    const flagsFrag = (b[6]! << 8) | b[7]!;
    const more = (flagsFrag & 0x2000) !== 0;
    const offset = (flagsFrag & 0x1fff) * 8;
    const src = ipv4(b, 12);
    const dst = ipv4(b, 16);
    let udp = b.subarray(ihl, total);
    if (more || offset > 0) {
      const key = `${src}|${dst}|${(b[4]! << 8) | b[5]!}`;
      let f = this.frags.get(key);
      if (f === undefined) {
        if (this.frags.size > 1024) this.frags.clear();
        f = { parts: new Map(), total: -1, firstSeenMs: tsMs };
        this.frags.set(key, f);
      }
      f.parts.set(offset, udp.slice());
      if (!more) f.total = offset + udp.length;
      if (f.total < 0) return;
      const whole = new Uint8Array(f.total);
      let have = 0;
      for (const [off, part] of f.parts) {
        if (off + part.length > f.total) return;
        whole.set(part, off);
        have += part.length;
      }
      if (have < f.total) return;
      this.frags.delete(key);
      udp = whole;
    }
    this.udp(udp, src, dst, tsMs);
  }

  private ip6(b: Uint8Array, tsMs: number): void {
    if (b.length < 40 || b[0]! >> 4 !== 6) return;
    let next = b[6]!;
    let o = 40;
    const end = Math.min(40 + ((b[4]! << 8) | b[5]!), b.length);
    while (next === 0 || next === 43 || next === 60 || next === 44) {
      if (end - o < 8) return;
      if (next === 44) {
        const fragOff = ((b[o + 2]! << 8) | b[o + 3]!) & 0xfff9;
        if (fragOff !== 0) return; // fragmented IPv6 export packets are not reassembled
        next = b[o]!;
        o += 8;
      } else {
        const len = (b[o + 1]! + 1) * 8;
        next = b[o]!;
        o += len;
      }
    }
    if (next !== 17) return;
    this.udp(b.subarray(o, end), ipv6Text(b, 8), ipv6Text(b, 24), tsMs);
  }

  private udp(u: Uint8Array, src: string, dst: string, tsMs: number): void {
    if (u.length < 8) return;
    const len = (u[4]! << 8) | u[5]!;
    const payload = u.subarray(8, len >= 8 && len <= u.length ? len : u.length);
    this.out.push({ tsMs, src, srcPort: (u[0]! << 8) | u[1]!, dst, dstPort: (u[2]! << 8) | u[3]!, payload });
  }
}

/** True when the bytes start like a pcap or pcapng file. */
export function isCapture(b: Uint8Array): boolean {
  if (b.length < 4) return false;
  const m = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  return m === 0xa1b2c3d4 || m === 0xd4c3b2a1 || m === 0xa1b23c4d || m === 0x4d3cb2a1 || m === 0x0a0d0d0a;
}

/** Extracts every UDP datagram from a pcap or pcapng capture, in capture order. */
export function readCaptureDatagrams(buf: Uint8Array): CapturedDatagram[] {
  if (!isCapture(buf)) throw new CaptureFormatError('not a pcap or pcapng capture');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const ex = new Extractor();
  if (dv.getUint32(0) === 0x0a0d0d0a) readPcapng(buf, dv, ex);
  else readPcap(buf, dv, ex);
  return ex.out;
}

function readPcap(buf: Uint8Array, dv: DataView, ex: Extractor): void {
  if (buf.length < 24) throw new CaptureFormatError('pcap header truncated');
  const magic = dv.getUint32(0);
  const le = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const link = dv.getUint32(20, le) & 0xffff;
  let o = 24;
  while (buf.length - o >= 16) {
    const sec = dv.getUint32(o, le);
    const frac = dv.getUint32(o + 4, le);
    const incl = dv.getUint32(o + 8, le);
    o += 16;
    if (incl > buf.length - o) break; // truncated last record
    ex.frame(link, buf.subarray(o, o + incl), sec * 1000 + Math.floor(nano ? frac / 1e6 : frac / 1e3));
    o += incl;
  }
}

function readPcapng(buf: Uint8Array, dv: DataView, ex: Extractor): void {
  let o = 0;
  let le = true;
  let ifaces: { link: number; tsDiv: number }[] = [];
  while (buf.length - o >= 12) {
    const type = dv.getUint32(o, le);
    if (type === 0x0a0d0d0a) {
      const bom = dv.getUint32(o + 8, true);
      if (bom === 0x1a2b3c4d) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else throw new CaptureFormatError('pcapng byte-order magic invalid');
      ifaces = [];
    }
    const len = dv.getUint32(o + 4, le);
    if (len < 12 || len % 4 !== 0 || len > buf.length - o) break;
    const body = o + 8;
    if (type === 1 && len >= 20) {
      const link = dv.getUint16(body, le);
      let tsDiv = 1000; // default resolution microseconds -> ms
      let p = body + 8;
      while (p + 4 <= o + len - 4) {
        const code = dv.getUint16(p, le);
        const olen = dv.getUint16(p + 2, le);
        if (code === 0) break;
        if (code === 9 && olen >= 1) {
          const r = buf[p + 4]!;
          const unitsPerSec = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** (r & 0x7f);
          tsDiv = unitsPerSec / 1000;
        }
        p += 4 + Math.ceil(olen / 4) * 4;
      }
      ifaces.push({ link, tsDiv });
    } else if (type === 6 && len >= 32) {
      const iface = ifaces[dv.getUint32(body, le)];
      const ts = dv.getUint32(body + 4, le) * 4294967296 + dv.getUint32(body + 8, le);
      const cap = dv.getUint32(body + 12, le);
      if (iface !== undefined && cap <= len - 32) {
        ex.frame(iface.link, buf.subarray(body + 20, body + 20 + cap), Math.floor(ts / iface.tsDiv));
      }
    } else if (type === 3 && len >= 16) {
      const iface = ifaces[0];
      const orig = dv.getUint32(body, le);
      const cap = Math.min(orig, len - 16);
      if (iface !== undefined) ex.frame(iface.link, buf.subarray(body + 4, body + 4 + cap), 0);
    }
    o += len;
  }
}
