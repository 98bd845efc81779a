import { u16 } from './bytes.ts';

// Where a NetFlow v9 packet ends is not in its header (Count is unreliable), so walk its flowsets:
// a flowset id of 5, 9 or 10 (reserved in v9) is the header of the next packet.
function v9End(b: Uint8Array, p: number): number {
  let q = p + 20;
  while (b.length - q >= 4) {
    const id = u16(b, q);
    const len = u16(b, q + 2);
    if ((id === 5 || id === 9 || id === 10) && b.length - q >= 16) return q;
    if (len < 4) return b.length; // zero padding runs to the end
    q += len;
  }
  return Math.min(q, b.length);
}

/**
 * Splits export packets stored back to back (raw `.dat` captures) into single packets. Anything
 * that does not parse as a further packet is returned as a final chunk for the decoder to reject.
 */
export function splitExportPackets(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < b.length) {
    const rest = b.length - p;
    let n = rest;
    if (rest >= 4) {
      const v = u16(b, p);
      if (v === 10) {
        const l = u16(b, p + 2);
        if (l >= 16 && l <= rest) n = l;
      } else if (v === 5) {
        const c = u16(b, p + 2);
        const l = 24 + 48 * c;
        if (c >= 1 && c <= 30 && l <= rest) n = l;
      } else if (v === 9 && rest >= 20) {
        n = v9End(b, p) - p;
      }
    }
    out.push(b.subarray(p, p + n));
    p += n;
  }
  return out;
}
