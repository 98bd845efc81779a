// Synthetic packets as Ethernet frames, and classic pcap files of frames: what a real exporter
// (softflowd, pmacctd) reads to export flows. The one pcap writer of the repository.
import { writeFileSync } from 'node:fs';

/** One synthetic IPv4 or IPv6 packet. */
export interface SyntheticPacket {
  /** Capture time, Unix milliseconds. */
  tsMs: number;
  src: string;
  dst: string;
  /** 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6. */
  protocol: 6 | 17 | 1 | 58;
  srcPort?: number;
  dstPort?: number;
  /** TCP flags byte (default ACK). */
  tcpFlags?: number;
  /** Application payload bytes (default 0). */
  payload?: number;
  /** IPv4 type of service / IPv6 traffic class (default 0). */
  tos?: number;
  /** Ethernet addresses (`aa:bb:cc:dd:ee:ff`); default: locally administered, derived from the IP addresses. */
  srcMac?: string;
  dstMac?: string;
}

/** One captured frame. */
export interface Frame {
  tsMs: number;
  data: Uint8Array;
}

const ETH = 14;

/** The IP-layer length of a packet: what NetFlow counts as its octets. */
export function ipLength(p: Omit<SyntheticPacket, 'tsMs'>): number {
  const ip = p.src.includes(':') ? 40 : 20;
  const l4 = p.protocol === 6 ? 20 : 8;
  return ip + l4 + (p.payload ?? 0);
}

function macBytes(m: string): Uint8Array {
  return Buffer.from(m.replace(/[:-]/g, ''), 'hex');
}

function v4bytes(a: string): number[] {
  return a.split('.').map(Number);
}

function v6bytes(a: string): number[] {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':').filter(Boolean) : [];
  const t = tail ? tail.split(':').filter(Boolean) : [];
  const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

function checksum(b: Uint8Array, o: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[o + i]! << 8) | (b[o + i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * Ethernet + IPv4/IPv6 + TCP/UDP/ICMP frame of a packet (payload zeros). The MAC addresses are locally
 * administered ones derived from the IP addresses (their last four bytes), so each host keeps one MAC.
 * `ipId` is the IPv4 identification field.
 */
export function ethernetFrame(p: Omit<SyntheticPacket, 'tsMs'>, ipId = 0): Uint8Array {
  const v6 = p.src.includes(':');
  const s = v6 ? v6bytes(p.src) : v4bytes(p.src);
  const d = v6 ? v6bytes(p.dst) : v4bytes(p.dst);
  const ipLen = v6 ? 40 : 20;
  const payload = p.payload ?? 0;
  const l4Len = p.protocol === 6 ? 20 : 8;
  const b = new Uint8Array(ETH + ipLen + l4Len + payload);
  b.set(p.dstMac ? macBytes(p.dstMac) : [0x02, 0, ...d.slice(-4)], 0);
  b.set(p.srcMac ? macBytes(p.srcMac) : [0x02, 0, ...s.slice(-4)], 6);
  b[12] = v6 ? 0x86 : 0x08;
  b[13] = v6 ? 0xdd : 0x00;
  const ip = ETH;
  const l4 = ip + ipLen;
  const tos = p.tos ?? 0;
  if (v6) {
    b[ip] = 0x60 | (tos >> 4);
    b[ip + 1] = (tos & 0xf) << 4;
    const plen = l4Len + payload;
    b[ip + 4] = plen >> 8;
    b[ip + 5] = plen & 0xff;
    b[ip + 6] = p.protocol;
    b[ip + 7] = 64;
    b.set(s, ip + 8);
    b.set(d, ip + 24);
  } else {
    const len = ipLen + l4Len + payload;
    b[ip] = 0x45;
    b[ip + 1] = tos;
    b[ip + 2] = len >> 8;
    b[ip + 3] = len & 0xff;
    b[ip + 4] = (ipId >> 8) & 0xff;
    b[ip + 5] = ipId & 0xff;
    b[ip + 8] = 64;
    b[ip + 9] = p.protocol;
    b.set(s, ip + 12);
    b.set(d, ip + 16);
    const c = checksum(b, ip, 20);
    b[ip + 10] = c >> 8;
    b[ip + 11] = c & 0xff;
  }
  if (p.protocol === 6 || p.protocol === 17) {
    b[l4] = (p.srcPort ?? 0) >> 8;
    b[l4 + 1] = (p.srcPort ?? 0) & 0xff;
    b[l4 + 2] = (p.dstPort ?? 0) >> 8;
    b[l4 + 3] = (p.dstPort ?? 0) & 0xff;
    if (p.protocol === 6) {
      b[l4 + 12] = 5 << 4;
      b[l4 + 13] = p.tcpFlags ?? 0x10;
      b[l4 + 14] = 0xff;
      b[l4 + 15] = 0xff;
    } else {
      const ul = 8 + payload;
      b[l4 + 4] = ul >> 8;
      b[l4 + 5] = ul & 0xff;
    }
  } else {
    b[l4] = p.protocol === 1 ? 8 : 128; // echo request
  }
  return b;
}

/** Ethernet/IPv4/UDP frame carrying `payload` (captured export datagrams, for tshark). */
export function udpFrame(
  src: string,
  dst: string,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
): Uint8Array {
  const f = ethernetFrame({ src, dst, protocol: 17, srcPort, dstPort, payload: payload.length });
  f.set(payload, ETH + 20 + 8);
  return f;
}

/** A classic little-endian pcap file (microsecond timestamps) of frames with the given link type. */
export function encodePcap(frames: readonly Frame[], linkType = 1): Buffer {
  const size = 24 + frames.reduce((a, f) => a + 16 + f.data.length, 0);
  const out = Buffer.alloc(size);
  out.writeUInt32LE(0xa1b2c3d4, 0);
  out.writeUInt16LE(2, 4);
  out.writeUInt16LE(4, 6);
  out.writeUInt32LE(262144, 16);
  out.writeUInt32LE(linkType, 20);
  let o = 24;
  for (const f of frames) {
    const sec = Math.floor(f.tsMs / 1000);
    out.writeUInt32LE(sec, o);
    out.writeUInt32LE(Math.round((f.tsMs - sec * 1000) * 1000), o + 4);
    out.writeUInt32LE(f.data.length, o + 8);
    out.writeUInt32LE(f.data.length, o + 12);
    out.set(f.data, o + 16);
    o += 16 + f.data.length;
  }
  return out;
}

/** A pcap file (Ethernet) of packets, in the given order, IPv4 identification counting from 1. */
export function buildPcap(packets: readonly SyntheticPacket[]): Buffer {
  return encodePcap(packets.map((p, i) => ({ tsMs: p.tsMs, data: ethernetFrame(p, (i + 1) & 0xffff) })));
}

/** Writes {@link buildPcap}'s output to a file. */
export function writePcap(path: string, packets: readonly SyntheticPacket[]): void {
  writeFileSync(path, buildPcap(packets));
}
