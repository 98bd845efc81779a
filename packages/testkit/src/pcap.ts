import { writeFileSync } from 'node:fs';

/** One synthetic IPv4 packet for a pcap. */
export interface SyntheticPacket {
  /** Capture time, Unix milliseconds. */
  tsMs: number;
  src: string;
  dst: string;
  /** 6 TCP, 17 UDP, 1 ICMP. */
  protocol: 6 | 17 | 1;
  srcPort?: number;
  dstPort?: number;
  /** TCP flags byte (default ACK). */
  tcpFlags?: number;
  /** Application payload bytes. */
  payload?: number;
  /** Ethernet addresses (`aa:bb:cc:dd:ee:ff`); default: locally administered, derived from the IP addresses. */
  srcMac?: string;
  dstMac?: string;
}

const ETH = 14;
const IP = 20;

function ipBytes(s: string): number[] {
  return s.split('.').map(Number);
}

function checksum(buf: Buffer, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i < len; i += 2) sum += (buf[off + i]! << 8) | (buf[off + i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The IP-layer length of a packet: what NetFlow counts as its octets. */
export function ipLength(p: SyntheticPacket): number {
  const l4 = p.protocol === 6 ? 20 : 8;
  return IP + l4 + (p.payload ?? 0);
}

/** Encodes packets as a classic libpcap file (Ethernet link type) that real tools read. */
export function buildPcap(packets: readonly SyntheticPacket[]): Buffer {
  const parts: Buffer[] = [];
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(65535, 16);
  gh.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  parts.push(gh);
  let id = 1;
  for (const p of packets) {
    const ipLen = ipLength(p);
    const frame = Buffer.alloc(ETH + ipLen);
    // Ethernet: locally administered MACs derived from the addresses, EtherType IPv4.
    const s = ipBytes(p.src);
    const d = ipBytes(p.dst);
    const mac = (m: string) => Buffer.from(m.replace(/[:-]/g, ''), 'hex');
    (p.dstMac ? mac(p.dstMac) : Buffer.from([0x02, 0, ...d])).copy(frame, 0);
    (p.srcMac ? mac(p.srcMac) : Buffer.from([0x02, 0, ...s])).copy(frame, 6);
    frame.writeUInt16BE(0x0800, 12);
    const ip = ETH;
    frame[ip] = 0x45;
    frame.writeUInt16BE(ipLen, ip + 2);
    frame.writeUInt16BE(id++ & 0xffff, ip + 4);
    frame[ip + 8] = 64;
    frame[ip + 9] = p.protocol;
    Buffer.from(s).copy(frame, ip + 12);
    Buffer.from(d).copy(frame, ip + 16);
    frame.writeUInt16BE(checksum(frame, ip, IP), ip + 10);
    const l4 = ip + IP;
    if (p.protocol === 6 || p.protocol === 17) {
      frame.writeUInt16BE(p.srcPort ?? 0, l4);
      frame.writeUInt16BE(p.dstPort ?? 0, l4 + 2);
    }
    if (p.protocol === 6) {
      frame[l4 + 12] = 5 << 4;
      frame[l4 + 13] = p.tcpFlags ?? 0x10;
      frame.writeUInt16BE(65535, l4 + 14);
    } else if (p.protocol === 17) {
      frame.writeUInt16BE(ipLen - IP, l4 + 4);
    } else {
      frame[l4] = 8; // ICMP echo request
    }
    const rh = Buffer.alloc(16);
    rh.writeUInt32LE(Math.floor(p.tsMs / 1000), 0);
    rh.writeUInt32LE((p.tsMs % 1000) * 1000, 4);
    rh.writeUInt32LE(frame.length, 8);
    rh.writeUInt32LE(frame.length, 12);
    parts.push(rh, frame);
  }
  return Buffer.concat(parts);
}

/** Writes {@link buildPcap}'s output to a file. */
export function writePcap(path: string, packets: readonly SyntheticPacket[]): void {
  writeFileSync(path, buildPcap(packets));
}
