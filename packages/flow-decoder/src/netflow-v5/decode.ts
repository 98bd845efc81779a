import { createFlowRecord, type FlowRecord } from '@wardwatch/flow-schema';
import { u16, u32 } from '../bytes.ts';
import { ipv4Text } from '../format.ts';
import { createStats, type DecodeContext, type DecodeResult } from '../result.ts';
import { observeSequence } from '../sequence.ts';
import { type DecoderState, touchSession } from '../state.ts';

// NetFlow v5 (Cisco), all fields big-endian.
//
// Header (24 bytes)
//   0  version (5)         2  count (1-30)       4  sys_uptime (ms)
//   8  unix_secs          12  unix_nsecs        16  flow_sequence (flows exported before this packet)
//  20  engine_type        21  engine_id         22  sampling_interval (2 bits mode, 14 bits interval)
// Record (48 bytes)
//   0  srcaddr   4  dstaddr   8  nexthop  12  input  14  output  16  dPkts  20  dOctets
//  24  first    28  last     32  srcport  34  dstport 36  pad1   37  tcp_flags  38  prot  39  tos
//  40  src_as   42  dst_as   44  src_mask 45  dst_mask 46  pad2
const HEADER = 24;
const RECORD = 48;
const TWO31 = 2147483648;
const TWO32 = 4294967296;

/** Decodes a NetFlow v5 export packet (bytes past the announced records are ignored). */
export function decodeV5(b: Uint8Array, state: DecoderState, ctx: DecodeContext): DecodeResult {
  const stats = createStats('flows');
  // engine_type and engine_id: the observation domain, reported even when the packet is rejected.
  const domain = b.length >= 22 ? (b[20]! << 8) | b[21]! : 0;
  if (b.length < HEADER) {
    return {
      ok: false,
      version: 5,
      observationDomain: domain,
      error: { code: 'TRUNCATED', message: `v5 header needs 24 bytes, got ${b.length}`, offset: 0 },
      records: [],
      options: [],
      stats,
    };
  }
  const count = u16(b, 2);
  if (count === 0 || count > 30) {
    return {
      ok: false,
      version: 5,
      observationDomain: domain,
      error: { code: 'MALFORMED', message: `v5 record count ${count} outside 1-30`, offset: 2 },
      records: [],
      options: [],
      stats,
    };
  }
  if (b.length < HEADER + count * RECORD) {
    return {
      ok: false,
      version: 5,
      observationDomain: domain,
      error: {
        code: 'TRUNCATED',
        message: `v5 packet announces ${count} records but holds ${b.length} bytes`,
        offset: 2,
      },
      records: [],
      options: [],
      stats,
    };
  }
  const uptime = u32(b, 4);
  // Absolute export time; first/last are sysUptime milliseconds at the exporter.
  const exportMs = u32(b, 8) * 1000 + Math.floor(u32(b, 12) / 1e6);
  const bootMs = exportMs - uptime;
  const sampling = u16(b, 22) & 0x3fff;
  const rate = sampling > 0 ? sampling : 1;
  const scale = state.scaleCounters && rate > 1 ? rate : 1;
  const session = touchSession(state, ctx.exporter, 5, domain);
  const records: FlowRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const o = HEADER + i * RECORD;
    const r = createFlowRecord();
    r.exporter = ctx.exporter;
    r.observationDomain = domain;
    r.version = 5;
    r.srcAddr = ipv4Text(b, o);
    r.dstAddr = ipv4Text(b, o + 4);
    r.nextHop = ipv4Text(b, o + 8);
    r.inputIf = u16(b, o + 12);
    r.outputIf = u16(b, o + 14);
    r.packets = u32(b, o + 16) * scale;
    r.bytes = u32(b, o + 20) * scale;
    const first = u32(b, o + 24);
    const last = u32(b, o + 28);
    // first/last may predate a 32-bit sysUptime wrap.
    r.startMs = bootMs + (first - uptime > TWO31 ? first - TWO32 : first);
    r.endMs = bootMs + (last - uptime > TWO31 ? last - TWO32 : last);
    r.srcPort = u16(b, o + 32);
    r.dstPort = u16(b, o + 34);
    r.tcpFlags = b[o + 37]!;
    r.protocol = b[o + 38]!;
    r.tos = b[o + 39]!;
    r.srcAs = u16(b, o + 40);
    r.dstAs = u16(b, o + 42);
    r.srcMask = b[o + 44]!;
    r.dstMask = b[o + 45]!;
    r.samplingRate = rate;
    r.receivedMs = ctx.receivedMs;
    records[i] = r;
  }
  const lim = state.limits;
  observeSequence(session.seq, u32(b, 16), count, lim.reorderWindowRecords, lim.maxSequenceGap, stats);
  return { ok: true, version: 5, observationDomain: domain, records, options: [], stats };
}
