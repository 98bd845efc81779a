// Text forms of addresses, built without per-byte allocation where it matters (the hot path).

const DEC: string[] = [];
const HEX2: string[] = [];
for (let i = 0; i < 256; i++) {
  DEC.push(String(i));
  HEX2.push(i.toString(16).padStart(2, '0'));
}

// Direct-mapped caches of address text: flow data repeats the same hosts constantly, and a hit
// (one multiply, two array reads) is several times cheaper than building the string.
const V4_SLOTS = 4096;
const v4Keys = new Float64Array(V4_SLOTS).fill(-1);
const v4Text: string[] = new Array(V4_SLOTS).fill('');

/** Dotted-quad IPv4 text of the 4 bytes at `o`. */
export function ipv4Text(b: Uint8Array, o: number): string {
  const a = b[o]!;
  const c = b[o + 1]!;
  const d = b[o + 2]!;
  const e = b[o + 3]!;
  const key = ((a << 24) | (c << 16) | (d << 8) | e) >>> 0;
  const slot = Math.imul(key, 0x9e3779b1) >>> 20;
  if (v4Keys[slot] === key) return v4Text[slot]!;
  const s = `${DEC[a]}.${DEC[c]}.${DEC[d]}.${DEC[e]}`;
  v4Keys[slot] = key;
  v4Text[slot] = s;
  return s;
}

const V6_SLOTS = 2048;
const v6Keys = new Int32Array(V6_SLOTS * 4);
const v6Text: (string | undefined)[] = new Array(V6_SLOTS).fill(undefined);

function word(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

/**
 * RFC 5952 IPv6 text of the 16 bytes at `o`, through a direct-mapped cache. An IPv4-mapped address
 * (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) is the IPv4 host it maps, so it is written as dotted IPv4: a
 * host must have one name whether its exporter reports it in an IPv4 or an IPv6 field (device
 * identity and partitioning key on this text). The test reuses the words read for the cache key.
 */
export function ipv6Text(b: Uint8Array, o: number): string {
  const w0 = word(b, o);
  const w1 = word(b, o + 4);
  const w2 = word(b, o + 8);
  if (w2 === 0xffff && (w0 | w1) === 0) return ipv4Text(b, o + 12);
  const w3 = word(b, o + 12);
  const slot =
    Math.imul(w0 ^ Math.imul(w1, 31) ^ Math.imul(w2, 961) ^ Math.imul(w3, 0x9e3779b1), 0x85ebca6b) >>> 21;
  const k = slot * 4;
  const cached = v6Text[slot];
  if (
    cached !== undefined &&
    v6Keys[k] === w0 &&
    v6Keys[k + 1] === w1 &&
    v6Keys[k + 2] === w2 &&
    v6Keys[k + 3] === w3
  ) {
    return cached;
  }
  const s = ipv6Format(b, o);
  v6Keys[k] = w0;
  v6Keys[k + 1] = w1;
  v6Keys[k + 2] = w2;
  v6Keys[k + 3] = w3;
  v6Text[slot] = s;
  return s;
}

/** RFC 5952 IPv6 text (longest zero run compressed, lower case) of the 16 bytes at `o`. */
export function ipv6Format(b: Uint8Array, o: number): string {
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const zero = b[o + 2 * i] === 0 && b[o + 2 * i + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = i;
      const len = i - runStart + 1;
      if (len > bestLen) {
        bestLen = len;
        bestStart = runStart;
      }
    } else runStart = -1;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += ((b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!).toString(16);
    if (i < 7) s += ':';
  }
  return s;
}

/** aa:bb:cc:dd:ee:ff text of the 6 bytes at `o`. */
export function macText(b: Uint8Array, o: number): string {
  return `${HEX2[b[o]!]}:${HEX2[b[o + 1]!]}:${HEX2[b[o + 2]!]}:${HEX2[b[o + 3]!]}:${HEX2[b[o + 4]!]}:${HEX2[b[o + 5]!]}`;
}

/** Lower-case hex of a byte range. */
export function hexText(b: Uint8Array, o = 0, len = b.length - o): string {
  let s = '';
  for (let i = 0; i < len; i++) s += HEX2[b[o + i]!];
  return s;
}

/** Big-endian unsigned integer of 0-8 bytes as a number (exact up to 2^53). */
export function readUint(b: Uint8Array, o: number, len: number): number {
  switch (len) {
    case 1:
      return b[o]!;
    case 2:
      return (b[o]! << 8) | b[o + 1]!;
    case 4:
      return b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
    default: {
      let v = 0;
      for (let i = 0; i < len; i++) v = v * 256 + b[o + i]!;
      return v;
    }
  }
}

/** True when every byte of the range is zero. */
export function allZero(b: Uint8Array, o: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (b[o + i] !== 0) return false;
  return true;
}
