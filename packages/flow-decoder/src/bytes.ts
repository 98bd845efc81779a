// Big-endian integer reads at a byte offset, shared by every protocol's decoder (NetFlow, IPFIX and sFlow
// are all network byte order). The caller has checked the bounds.

/** The unsigned 16-bit integer at `o`. */
export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** The unsigned 32-bit integer at `o` (built without a sign: the top byte is multiplied, not shifted). */
export function u32(b: Uint8Array, o: number): number {
  return b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}

/** The unsigned 64-bit integer at `o` as a number (exact up to 2^53). */
export function u64(b: Uint8Array, o: number): number {
  return u32(b, o) * 4294967296 + u32(b, o + 4);
}
