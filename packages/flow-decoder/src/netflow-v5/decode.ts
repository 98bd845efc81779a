import { createFlowRecord, type FlowRecord } from '@wardwatch/flow-schema';
import type { DecodeContext, DecodeResult } from '../result.ts';

// NetFlow v5 (Cisco), all fields big-endian.
//
// Header (24 bytes)
//   0  version (5)         2  count (1-30)       4  sys_uptime (ms)
//   8  unix_secs          12  unix_nsecs        16  flow_sequence
//  20  engine_type        21  engine_id         22  sampling_interval (2 bits mode, 14 bits interval)
// Record (48 bytes)
//   0  srcaddr   4  dstaddr   8  nexthop  12  input  14  output  16  dPkts  20  dOctets
//  24  first    28  last     32  srcport  34  dstport 36  pad1   37  tcp_flags  38  prot  39  tos
//  40  src_as   42  dst_as   44  src_mask 45  dst_mask 46  pad2
const HEADER = 24;
const RECORD = 48;

function ipv4(v: DataView, off: number): string {
  return `${v.getUint8(off)}.${v.getUint8(off + 1)}.${v.getUint8(off + 2)}.${v.getUint8(off + 3)}`;
}

/** Decodes a NetFlow v5 export packet. */
export function decodeV5(buf: Uint8Array, ctx: DecodeContext): DecodeResult {
  if (buf.length < HEADER) {
    return { ok: false, version: 5, error: { code: 'TRUNCATED', message: `v5 header needs 24 bytes, got ${buf.length}` } };
  }
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = v.getUint16(2);
  if (count === 0 || count > 30) {
    return { ok: false, version: 5, error: { code: 'MALFORMED', message: `v5 record count ${count} outside 1-30` } };
  }
  if (buf.length < HEADER + count * RECORD) {
    return {
      ok: false,
      version: 5,
      error: { code: 'TRUNCATED', message: `v5 packet announces ${count} records but holds ${buf.length} bytes` },
    };
  }
  const uptime = v.getUint32(4);
  // Absolute export time; first/last are sysUptime milliseconds at the exporter.
  const exportMs = v.getUint32(8) * 1000 + Math.floor(v.getUint32(12) / 1e6);
  const bootMs = exportMs - uptime;
  const domain = (v.getUint8(20) << 8) | v.getUint8(21);
  const sampling = v.getUint16(22) & 0x3fff;
  const records: FlowRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const o = HEADER + i * RECORD;
    const r = createFlowRecord();
    r.exporter = ctx.exporter;
    r.observationDomain = domain;
    r.version = 5;
    r.srcAddr = ipv4(v, o);
    r.dstAddr = ipv4(v, o + 4);
    r.nextHop = ipv4(v, o + 8);
    r.inputIf = v.getUint16(o + 12);
    r.outputIf = v.getUint16(o + 14);
    r.packets = v.getUint32(o + 16);
    r.bytes = v.getUint32(o + 20);
    r.startMs = bootMs + v.getUint32(o + 24);
    r.endMs = bootMs + v.getUint32(o + 28);
    r.srcPort = v.getUint16(o + 32);
    r.dstPort = v.getUint16(o + 34);
    r.tcpFlags = v.getUint8(o + 37);
    r.protocol = v.getUint8(o + 38);
    r.tos = v.getUint8(o + 39);
    r.srcAs = v.getUint16(o + 40);
    r.dstAs = v.getUint16(o + 42);
    r.srcMask = v.getUint8(o + 44);
    r.dstMask = v.getUint8(o + 45);
    r.samplingRate = sampling > 0 ? sampling : 1;
    r.receivedMs = ctx.receivedMs;
    records[i] = r;
  }
  return { ok: true, version: 5, records };
}
