// Text forms of addresses, built without per-byte allocation where it matters (the hot path).

const DEC: string[] = [];
const HEX2: string[] = [];
for (let i = 0; i < 256; i++) {
  DEC.push(String(i));
  HEX2.push(i.toString(16).padStart(2, '0'));
}

/** Dotted-quad IPv4 text of the 4 bytes at `o`. */
export function ipv4Text(b: Uint8Array, o: number): string {
  return `${DEC[b[o]!]}.${DEC[b[o + 1]!]}.${DEC[b[o + 2]!]}.${DEC[b[o + 3]!]}`;
}

/** RFC 5952 IPv6 text (longest zero run compressed, lower case) of the 16 bytes at `o`. */
export function ipv6Text(b: Uint8Array, o: number): string {
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
