// Test helpers: build classic pcap files (synthetic traffic for softflowd, captured export
// datagrams for tshark).

/** One captured frame. */
export interface Frame {
  tsMs: number;
  data: Uint8Array;
}

/** A classic little-endian pcap (microsecond timestamps) with the given link type. */
export function writePcap(frames: readonly Frame[], linkType = 1): Buffer {
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

/** Transport of a synthetic packet. */
export interface PacketSpec {
  src: string;
  dst: string;
  protocol: 6 | 17 | 1 | 58;
  srcPort?: number;
  dstPort?: number;
  /** TCP flags byte. */
  flags?: number;
  /** Transport payload bytes. */
  payload: number;
  tos?: number;
}

/** Ethernet + IPv4/IPv6 + TCP/UDP/ICMP frame. */
export function ethernetFrame(p: PacketSpec): Uint8Array {
  const v6 = p.src.includes(':');
  const l4Len = p.protocol === 6 ? 20 : 8;
  const ipLen = v6 ? 40 : 20;
  const total = 14 + ipLen + l4Len + p.payload;
  const b = new Uint8Array(total);
  b.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2], 0);
  b[12] = v6 ? 0x86 : 0x08;
  b[13] = v6 ? 0xdd : 0x00;
  const ip = 14;
  const l4 = ip + ipLen;
  if (v6) {
    b[ip] = 0x60 | ((p.tos ?? 0) >> 4);
    b[ip + 1] = ((p.tos ?? 0) & 0xf) << 4;
    const plen = l4Len + p.payload;
    b[ip + 4] = plen >> 8;
    b[ip + 5] = plen & 0xff;
    b[ip + 6] = p.protocol;
    b[ip + 7] = 64;
    b.set(v6bytes(p.src), ip + 8);
    b.set(v6bytes(p.dst), ip + 24);
  } else {
    const len = ipLen + l4Len + p.payload;
    b[ip] = 0x45;
    b[ip + 1] = p.tos ?? 0;
    b[ip + 2] = len >> 8;
    b[ip + 3] = len & 0xff;
    b[ip + 8] = 64;
    b[ip + 9] = p.protocol;
    b.set(v4bytes(p.src), ip + 12);
    b.set(v4bytes(p.dst), ip + 16);
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
      b[l4 + 12] = 0x50;
      b[l4 + 13] = p.flags ?? 0x10;
      b[l4 + 14] = 0xff;
    } else {
      const ul = 8 + p.payload;
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
  f.set(payload, 14 + 20 + 8);
  return f;
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Synthetic traffic: `flows` conversations (TCP with handshake and FIN, UDP, ICMP, some IPv6) with
 * a few packets each in both directions, spread over `spanMs` from `startMs`.
 */
export function generateTraffic(seed: number, flows: number, startMs: number, spanMs = 20_000): Frame[] {
  const rnd = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const frames: Frame[] = [];
  for (let i = 0; i < flows; i++) {
    const v6 = i % 7 === 3;
    const a = v6
      ? `2001:db8:${int(1, 0xfff).toString(16)}::${int(1, 0xffff).toString(16)}`
      : `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`;
    const b = v6 ? `2001:db8:ffff::${int(1, 0xffff).toString(16)}` : `192.168.${int(0, 255)}.${int(1, 254)}`;
    const kind = i % 5;
    const protocol: 6 | 17 | 1 | 58 = kind < 3 ? 6 : kind === 3 ? 17 : v6 ? 58 : 1;
    const sp = int(1024, 65535);
    const dp = [443, 80, 53, 22, 3389, 8080, 5060][int(0, 6)]!;
    const t0 = startMs + int(0, spanMs - 2000);
    const n = int(2, 9);
    const tos = int(0, 3) * 8;
    for (let k = 0; k < n; k++) {
      const fwd = k % 2 === 0;
      let flags = 0x18;
      if (protocol === 6) {
        if (k === 0) flags = 0x02;
        else if (k === 1) flags = 0x12;
        else if (k === n - 1) flags = 0x11;
      }
      const spec: PacketSpec = {
        src: fwd ? a : b,
        dst: fwd ? b : a,
        protocol,
        srcPort: fwd ? sp : dp,
        dstPort: fwd ? dp : sp,
        flags,
        payload: int(0, 1200),
        tos,
      };
      frames.push({ tsMs: t0 + k * int(1, 300), data: ethernetFrame(spec) });
    }
  }
  frames.sort((x, y) => x.tsMs - y.tsMs);
  return frames;
}
