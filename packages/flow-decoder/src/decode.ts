import { decodeIpfix } from './ipfix/decode.ts';
import { decodeV5 } from './netflow-v5/decode.ts';
import { decodeV9 } from './netflow-v9/decode.ts';
import { createStats, type DecodeContext, type DecodeResult, type DecodeStats } from './result.ts';
import type { PacketRun } from './sets.ts';
import { decodeSflow } from './sflow/decode.ts';
import type { DecoderState } from './state.ts';

function expire(state: DecoderState, nowMs: number, stats: DecodeStats | undefined): number {
  const held = state.held;
  const maxAge = state.limits.maxHeldAgeMs;
  let n = 0;
  while (n < held.length && nowMs - held[n]!.receivedMs > maxAge) {
    state.heldBytes -= held[n]!.data.length;
    n++;
  }
  if (n > 0) {
    held.splice(0, n);
    if (stats !== undefined) stats.heldSetsExpired += n;
  }
  return n;
}

/**
 * Drops held data sets older than `maxHeldAgeMs` at `nowMs` and returns how many; for a collector
 * timer, since `decodePacket` only expires held data when packets arrive.
 */
export function expireHeld(state: DecoderState, nowMs: number): number {
  return expire(state, nowMs, undefined);
}

function finish(version: number, run: PacketRun, expired: number): DecodeResult {
  run.stats.heldSetsExpired += expired;
  const { records, options, stats, error, withdrawn } = run;
  if (error !== undefined) return { ok: false, version, error, records, options, stats, withdrawn };
  return { ok: true, version, records, options, stats, withdrawn };
}

/**
 * Decodes one export packet (NetFlow v5, v9, one IPFIX message or an sFlow v5 datagram), updating `state`. Never throws
 * on any input: every fault is a typed error in the result, with the records decoded before it.
 */
export function decodePacket(buf: Uint8Array, state: DecoderState, ctx: DecodeContext): DecodeResult {
  const expired = state.held.length > 0 ? expire(state, ctx.receivedMs, undefined) : 0;
  const version = buf.length >= 2 ? (buf[0]! << 8) | buf[1]! : 0;
  switch (version) {
    case 5: {
      const res = decodeV5(buf, state, ctx);
      res.stats.heldSetsExpired += expired;
      return res;
    }
    case 9:
      if (buf.length < 20) return tooShort(9, 20, buf.length, expired);
      return finish(9, decodeV9(buf, state, ctx), expired);
    case 10:
      if (buf.length < 16) return tooShort(10, 16, buf.length, expired);
      return finish(10, decodeIpfix(buf, state, ctx), expired);
    default: {
      // sFlow opens with a 32-bit version: 0x00000005.
      if (version === 0 && buf.length >= 4 && buf[2] === 0 && buf[3] === 5) {
        const res = decodeSflow(buf, state, ctx);
        res.stats.heldSetsExpired += expired;
        return res;
      }
      const stats = createStats('packets');
      stats.heldSetsExpired = expired;
      if (buf.length < 2) {
        return {
          ok: false,
          version,
          error: { code: 'TRUNCATED', message: 'packet shorter than a version field', offset: 0 },
          records: [],
          options: [],
          stats,
        };
      }
      return {
        ok: false,
        version,
        error: {
          code: 'UNSUPPORTED_VERSION',
          message: `export version ${version} is not supported`,
          offset: 0,
        },
        records: [],
        options: [],
        stats,
      };
    }
  }
}

function tooShort(version: number, need: number, got: number, expired: number): DecodeResult {
  const stats = createStats(version === 9 ? 'packets' : 'records');
  stats.heldSetsExpired = expired;
  return {
    ok: false,
    version,
    error: { code: 'TRUNCATED', message: `v${version} header needs ${need} bytes, got ${got}`, offset: 0 },
    records: [],
    options: [],
    stats,
  };
}
