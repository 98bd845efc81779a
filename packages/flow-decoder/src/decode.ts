import { decodeV5 } from './netflow-v5/decode.ts';
import type { DecodeContext, DecodeResult } from './result.ts';

/** Decodes one export packet of any supported version, dispatching on the version field. */
export function decodePacket(buf: Uint8Array, ctx: DecodeContext): DecodeResult {
  if (buf.length < 2) {
    return { ok: false, version: 0, error: { code: 'TRUNCATED', message: 'packet shorter than a version field' } };
  }
  const version = (buf[0]! << 8) | buf[1]!;
  switch (version) {
    case 5:
      return decodeV5(buf, ctx);
    default:
      return {
        ok: false,
        version,
        error: { code: 'UNSUPPORTED_VERSION', message: `export version ${version} is not supported` },
      };
  }
}
