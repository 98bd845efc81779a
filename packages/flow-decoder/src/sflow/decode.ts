import { createFlowRecord, type FlowRecord } from '@wardwatch/flow-schema';
import { u16, u32, u64 } from '../bytes.ts';
import { ipv4Text, ipv6Text, macText } from '../format.ts';
import {
  createStats,
  type DecodeContext,
  type DecodeError,
  type DecodeResult,
  type DecodeStats,
  type InterfaceCounters,
  SFLOW_VERSION,
} from '../result.ts';
import { createSequenceTracker, observeSequence, type SequenceTracker } from '../sequence.ts';
import { type DecoderState, type Session, touchSession } from '../state.ts';

// sFlow version 5 (sflow.org, "sFlow Version 5", July 2004), XDR: every field big-endian and
// 4-byte aligned, opaque data padded to a multiple of 4.
//
// Datagram
//   u32 version (5)   u32 agent_address type (1 IPv4, 2 IPv6)   agent address (4 or 16)
//   u32 sub_agent_id  u32 sequence_number (datagrams of this sub-agent)   u32 uptime (ms)
//   u32 samples       sample_record samples<>
// sample_record / flow_record / counter_record
//   u32 data_format (enterprise << 12 | format)   u32 length   opaque data[length]
// flow_sample (0:1)
//   u32 sequence_number (per data source)   u32 source_id (type << 24 | index)   u32 sampling_rate
//   u32 sample_pool   u32 drops   u32 input   u32 output   (interface: 2-bit format << 30 | value;
//   format 0 ifIndex, 0x3fffffff internal/unknown; 1 discarded; 2 multiple)   flow_record flows<>
// flow_sample_expanded (0:3)
//   u32 sequence_number   u32 source_id type   u32 source_id index   u32 sampling_rate   u32 sample_pool
//   u32 drops   u32 input format   u32 input value   u32 output format   u32 output value   flows<>
// counters_sample (0:2)            u32 sequence_number   u32 source_id   counter_record counters<>
// counters_sample_expanded (0:4)   u32 sequence_number   u32 source_id type   u32 index   counters<>
// Flow records
//   0:1 sampled_header     u32 header_protocol (1 Ethernet, 11 IPv4, 12 IPv6)   u32 frame_length
//                          u32 stripped   opaque header<>
//   0:2 sampled_ethernet   u32 length   mac src (6 + 2 pad)   mac dst (6 + 2 pad)   u32 type
//   0:3 sampled_ipv4       u32 length   u32 protocol   src (4)   dst (4)   u32 src_port   u32 dst_port
//                          u32 tcp_flags   u32 tos
//   0:4 sampled_ipv6       u32 length   u32 protocol   src (16)   dst (16)   u32 src_port   u32 dst_port
//                          u32 tcp_flags   u32 priority
//   0:1001 extended_switch    u32 src_vlan   u32 src_priority   u32 dst_vlan   u32 dst_priority
//   0:1002 extended_router    next_hop address   u32 src_mask_len   u32 dst_mask_len
//   0:1003 extended_gateway   next_hop address   u32 as   u32 src_as   u32 src_peer_as
//                             as_path segments<> (u32 type, u32 as<>)   u32 communities<>   u32 localpref
// Counter records
//   0:1 if_counters (88)   u32 ifIndex   u32 ifType   u64 ifSpeed   u32 ifDirection   u32 ifStatus
//                          (bit 0 admin up, bit 1 oper up)   u64 ifInOctets   u32 ifInUcastPkts
//                          u32 ifInMulticastPkts   u32 ifInBroadcastPkts   u32 ifInDiscards   u32 ifInErrors
//                          u32 ifInUnknownProtos   u64 ifOutOctets   u32 ifOutUcastPkts
//                          u32 ifOutMulticastPkts   u32 ifOutBroadcastPkts   u32 ifOutDiscards
//                          u32 ifOutErrors   u32 ifPromiscuousMode
//   0:2 ethernet_counters (52)   13 x u32 dot3Stats (alignment, FCS, single/multiple collision, SQE,
//                                deferred, late/excessive collision, MAC transmit, carrier sense,
//                                frame too long, MAC receive, symbol errors)

/** An interface value meaning "internal or unknown" (format 0). */
const IF_UNKNOWN = 0x3fffffff;

/** The value of an sFlow interface (format 0 only: an ifIndex; dropped, multiple and unknown are 0). */
function ifIndex(format: number, value: number): number {
  return format === 0 && value !== IF_UNKNOWN ? value : 0;
}

/** Per-datagram parsing context, reused through the samples. */
interface Run {
  b: Uint8Array;
  state: DecoderState;
  ctx: DecodeContext;
  session: Session;
  agent: string;
  subAgent: number;
  records: FlowRecord[];
  counters: InterfaceCounters[];
  stats: DecodeStats;
  error: DecodeError | undefined;
}

function fail(run: Run, code: DecodeError['code'], message: string, offset: number): void {
  if (run.error === undefined) run.error = { code, message, offset };
}

/**
 * The end of record `k` of the `n` a flow or counter sample (ending at `end`) announces, the record at
 * `o` (u32 data_format, u32 length, data); -1 after failing the run when the sample cannot hold it.
 */
function recordEnd(
  run: Run,
  o: number,
  end: number,
  k: number,
  n: number,
  sample: 'flow' | 'counter',
): number {
  if (o + 8 > end) {
    fail(run, 'MALFORMED', `sFlow ${sample} sample announces ${n} records but holds ${k}`, o);
    return -1;
  }
  const len = u32(run.b, o + 4);
  const re = o + 8 + len;
  if (re > end) {
    fail(run, 'MALFORMED', `sFlow ${sample} record (${len} bytes) runs past its sample`, o + 4);
    return -1;
  }
  return re;
}

/**
 * Decodes one sFlow v5 datagram. Never throws: a sample that runs past the datagram, or a record
 * that runs past its sample, is a typed fault; the samples before it are kept. Each flow sample
 * becomes one record counting one packet and its length, the sample's sampling rate recorded (and the
 * counters scaled by it when the state's `scaleCounters` asks, as for NetFlow and IPFIX). The exporter is the agent address the datagram names, and
 * the observation domain its sub-agent id.
 */
export function decodeSflow(b: Uint8Array, state: DecoderState, ctx: DecodeContext): DecodeResult {
  const stats = createStats('samples');
  const bad = (code: DecodeError['code'], message: string, offset: number): DecodeResult => ({
    ok: false,
    version: SFLOW_VERSION,
    observationDomain: 0,
    error: { code, message, offset },
    records: [],
    options: [],
    stats,
  });
  if (b.length < 8) return bad('TRUNCATED', `sFlow header needs 28 bytes, got ${b.length}`, 0);
  const addrType = u32(b, 4);
  if (addrType !== 1 && addrType !== 2)
    return bad('MALFORMED', `sFlow agent address type ${addrType} is neither 1 (IPv4) nor 2 (IPv6)`, 4);
  const alen = addrType === 1 ? 4 : 16;
  const head = 8 + alen + 16;
  if (b.length < head) return bad('TRUNCATED', `sFlow header needs ${head} bytes, got ${b.length}`, 0);
  const agent = addrType === 1 ? ipv4Text(b, 8) : ipv6Text(b, 8);
  let o = 8 + alen;
  const subAgent = u32(b, o);
  const seq = u32(b, o + 4);
  const count = u32(b, o + 12);
  o += 16;
  const session = touchSession(state, agent, SFLOW_VERSION, subAgent);
  const run: Run = {
    b,
    state,
    ctx,
    session,
    agent,
    subAgent,
    records: [],
    counters: [],
    stats,
    error: undefined,
  };
  // Datagram loss per agent and sub-agent, counted apart from sample loss (a scratch stats object,
  // since the tracker adds to `sequenceLost`).
  const lim = state.limits;
  const dg = createStats('packets');
  observeSequence(session.seq, seq, 1, lim.reorderWindowPackets, lim.maxSequenceGap, dg);
  stats.datagramsLost += dg.sequenceLost;
  stats.sequenceResets += dg.sequenceResets;
  stats.sequenceReordered += dg.sequenceReordered;
  for (let i = 0; i < count; i++) {
    if (o + 8 > b.length) {
      fail(run, 'TRUNCATED', `sFlow datagram announces ${count} samples but ends after ${i}`, o);
      break;
    }
    const format = u32(b, o);
    const len = u32(b, o + 4);
    const start = o + 8;
    const end = start + len;
    if (end > b.length) {
      fail(run, 'TRUNCATED', `sFlow sample ${i} (${len} bytes) runs past the datagram`, o + 4);
      break;
    }
    if (format === 1) flowSample(run, start, end, false);
    else if (format === 3) flowSample(run, start, end, true);
    else if (format === 2) counterSample(run, start, end, false);
    else if (format === 4) counterSample(run, start, end, true);
    // Other formats (vendor enterprises, discarded-packet samples) are skipped by their length.
    o = end;
  }
  const { records, counters, error } = run;
  const out: DecodeResult =
    error === undefined
      ? { ok: true, version: SFLOW_VERSION, observationDomain: subAgent, records, options: [], stats }
      : {
          ok: false,
          version: SFLOW_VERSION,
          observationDomain: subAgent,
          error,
          records,
          options: [],
          stats,
        };
  out.agent = { address: agent, subAgentId: subAgent };
  if (counters.length > 0) out.counters = counters;
  return out;
}

function sourceTracker(state: DecoderState, session: Session, source: number): SequenceTracker | undefined {
  let sources = session.sources;
  if (sources === undefined) {
    sources = new Map();
    session.sources = sources;
  }
  let t = sources.get(source);
  if (t === undefined) {
    // Bounded across agents (a forged flood of agents and data sources cannot grow it): past the
    // bound new sources go untracked until sessions are evicted.
    if (state.sflowSources >= state.limits.maxSflowSources) return undefined;
    t = createSequenceTracker();
    sources.set(source, t);
    state.sflowSources++;
  }
  return t;
}

function flowSample(run: Run, start: number, end: number, expanded: boolean): void {
  const b = run.b;
  const fixed = expanded ? 44 : 32;
  if (end - start < fixed) {
    fail(run, 'MALFORMED', `sFlow flow sample of ${end - start} bytes is shorter than ${fixed}`, start);
    return;
  }
  const seq = u32(b, start);
  let source: number;
  let rate: number;
  let input: number;
  let output: number;
  let o: number;
  if (expanded) {
    source = u32(b, start + 4) * 4294967296 + u32(b, start + 8);
    rate = u32(b, start + 12);
    input = ifIndex(u32(b, start + 24), u32(b, start + 28));
    output = ifIndex(u32(b, start + 32), u32(b, start + 36));
    o = start + 40;
  } else {
    const sid = u32(b, start + 4);
    source = Math.floor(sid / 0x1000000) * 4294967296 + (sid % 0x1000000);
    rate = u32(b, start + 8);
    const i = u32(b, start + 20);
    const x = u32(b, start + 24);
    input = ifIndex(Math.floor(i / 0x40000000), i % 0x40000000);
    output = ifIndex(Math.floor(x / 0x40000000), x % 0x40000000);
    o = start + 28;
  }
  const n = u32(b, o);
  o += 4;
  const r = createFlowRecord();
  r.exporter = run.agent;
  r.observationDomain = run.subAgent;
  r.version = SFLOW_VERSION;
  r.inputIf = input;
  r.outputIf = output;
  r.samplingRate = rate > 0 ? rate : 1;
  r.startMs = run.ctx.receivedMs;
  r.endMs = run.ctx.receivedMs;
  r.receivedMs = run.ctx.receivedMs;
  // Extended switch VLANs are the switch's own word (an access port's frames carry no tag), so they
  // win over a tag in the sampled header.
  let switchSrcVlan = 0;
  let switchDstVlan = 0;
  let length = -1;
  for (let k = 0; k < n; k++) {
    const re = recordEnd(run, o, end, k, n, 'flow');
    if (re < 0) return;
    const format = u32(b, o);
    const rs = o + 8;
    const len = re - rs;
    switch (format) {
      case 1: {
        if (len < 16) break;
        const proto = u32(b, rs);
        const frameLength = u32(b, rs + 4);
        const stripped = u32(b, rs + 8);
        const hlen = u32(b, rs + 12);
        const hs = rs + 16;
        if (hlen > re - hs) {
          fail(run, 'MALFORMED', `sFlow sampled header of ${hlen} bytes runs past its record`, rs + 12);
          return;
        }
        const l3 = sampledHeader(r, b, hs, hs + hlen, proto);
        if (l3 >= 0) length = l3;
        else if (length < 0) {
          // No IP length in the header: the frame less its stripped trailer (FCS) and L2 header.
          const rest = frameLength - Math.min(stripped, frameLength) - l2Length(b, hs, hs + hlen, proto);
          length = rest > 0 ? rest : frameLength;
        }
        break;
      }
      case 2:
        if (len < 24) break;
        r.srcMac = macText(b, rs + 4);
        r.dstMac = macText(b, rs + 12);
        // The MAC packet's length counts its 14-byte header and 4-byte FCS.
        if (length < 0) length = Math.max(0, u32(b, rs) - 18);
        break;
      case 3:
      case 4: {
        const v6 = format === 4;
        if (len < (v6 ? 56 : 32)) break;
        length = sampledIp(r, b, rs, v6);
        break;
      }
      case 1001:
        if (len < 16) break;
        switchSrcVlan = u32(b, rs) & 0xfff;
        switchDstVlan = u32(b, rs + 8) & 0xfff;
        break;
      case 1002:
      case 1003:
        extendedNextHop(r, b, rs, re, format === 1002);
        break;
      default:
        // Vendor and other standard records (user, URL, MPLS, NAT...) are skipped by their length.
        break;
    }
    o = re;
  }
  if (switchSrcVlan !== 0) r.srcVlan = switchSrcVlan;
  if (switchDstVlan !== 0) r.dstVlan = switchDstVlan;
  // One sampled packet, as the other decoders leave their counters (consumers scale by `samplingRate`
  // once); scaled here only when the state asks for it (`scaleCounters`, e.g. `wardwatch decode --scale`).
  const k = run.state.scaleCounters ? r.samplingRate : 1;
  r.packets = k;
  r.bytes = Math.max(length, 0) * k;
  run.records.push(r);
  const t = sourceTracker(run.state, run.session, source);
  if (t !== undefined) {
    const lim = run.state.limits;
    observeSequence(t, seq, 1, lim.reorderWindowRecords, lim.maxSequenceGap, run.stats);
  }
}

/**
 * sampled_ipv4 (3) or sampled_ipv6 (4), which differ only in the width of the addresses (and name the
 * last field tos or priority); fills the record and returns the packet length.
 */
function sampledIp(r: FlowRecord, b: Uint8Array, rs: number, v6: boolean): number {
  const a = v6 ? 16 : 4;
  r.protocol = u32(b, rs + 4) & 0xff;
  r.srcAddr = v6 ? ipv6Text(b, rs + 8) : ipv4Text(b, rs + 8);
  r.dstAddr = v6 ? ipv6Text(b, rs + 8 + a) : ipv4Text(b, rs + 8 + a);
  const p = rs + 8 + 2 * a;
  r.srcPort = u32(b, p) & 0xffff;
  r.dstPort = u32(b, p + 4) & 0xffff;
  r.tcpFlags = u32(b, p + 8) & 0xff;
  r.tos = u32(b, p + 12) & 0xff;
  return u32(b, rs);
}

/** next_hop, then router masks (1002) or gateway AS numbers (1003); a short record leaves fields at 0. */
function extendedNextHop(r: FlowRecord, b: Uint8Array, rs: number, re: number, router: boolean): void {
  if (re - rs < 4) return;
  const t = u32(b, rs);
  const alen = t === 1 ? 4 : t === 2 ? 16 : -1;
  if (alen < 0 || rs + 4 + alen > re) return;
  r.nextHop = t === 1 ? ipv4Text(b, rs + 4) : ipv6Text(b, rs + 4);
  const o = rs + 4 + alen;
  if (router) {
    if (o + 8 > re) return;
    r.srcMask = u32(b, o) & 0xff;
    r.dstMask = u32(b, o + 4) & 0xff;
  } else {
    // as, src_as, src_peer_as, then the AS path whose last AS is the destination's origin.
    if (o + 16 > re) return;
    r.srcAs = u32(b, o + 4);
    let p = o + 12;
    const segments = u32(b, p);
    p += 4;
    let dst = 0;
    for (let s = 0; s < segments; s++) {
      if (p + 8 > re) return;
      const n = u32(b, p + 4);
      p += 8;
      if (n > (re - p) / 4) return;
      if (n > 0) dst = u32(b, p + (n - 1) * 4);
      p += n * 4;
    }
    r.dstAs = dst;
  }
}

/** Ethernet header length (with its 802.1Q/QinQ tags) of a sampled Ethernet header; 0 otherwise. */
function l2Length(b: Uint8Array, s: number, e: number, proto: number): number {
  if (proto !== 1) return 0;
  let o = s + 12;
  while (o + 2 <= e) {
    const type = u16(b, o);
    if (type !== 0x8100 && type !== 0x88a8 && type !== 0x9100) return o + 2 - s;
    o += 4;
  }
  return Math.min(e - s, 14);
}

/**
 * Reads MACs, VLAN, addresses, ports, flags and ToS from a sampled header (Ethernet with 802.1Q and
 * QinQ tags, or bare IPv4 / IPv6); fields past a truncated header stay empty. Returns the IP packet
 * length the IP header gives, or -1 when the header holds none.
 */
function sampledHeader(r: FlowRecord, b: Uint8Array, s: number, e: number, proto: number): number {
  let o = s;
  let ethType: number;
  if (proto === 1) {
    if (e - s < 14) {
      if (e - s >= 12) {
        r.dstMac = macText(b, s);
        r.srcMac = macText(b, s + 6);
      }
      return -1;
    }
    r.dstMac = macText(b, s);
    r.srcMac = macText(b, s + 6);
    ethType = u16(b, s + 12);
    o = s + 14;
    // S-tag (0x88a8, or the pre-standard 0x9100) then C-tag: the innermost tag is the device's VLAN.
    while ((ethType === 0x8100 || ethType === 0x88a8 || ethType === 0x9100) && o + 4 <= e) {
      r.srcVlan = u16(b, o) & 0xfff;
      ethType = u16(b, o + 2);
      o += 4;
    }
  } else if (proto === 11) {
    ethType = 0x0800;
  } else if (proto === 12) {
    ethType = 0x86dd;
  } else {
    return -1;
  }
  if (ethType === 0x0800) return ipv4(r, b, o, e);
  if (ethType === 0x86dd) return ipv6(r, b, o, e);
  return -1;
}

function ipv4(r: FlowRecord, b: Uint8Array, o: number, e: number): number {
  if (o + 20 > e || b[o]! >> 4 !== 4) return -1;
  const ihl = (b[o]! & 0xf) * 4;
  r.tos = b[o + 1]!;
  const total = u16(b, o + 2);
  r.protocol = b[o + 9]!;
  r.srcAddr = ipv4Text(b, o + 12);
  r.dstAddr = ipv4Text(b, o + 16);
  // Only the first fragment carries the transport header.
  if ((u16(b, o + 6) & 0x1fff) === 0 && ihl >= 20) transport(r, b, o + ihl, e, r.protocol);
  return total;
}

function ipv6(r: FlowRecord, b: Uint8Array, o: number, e: number): number {
  if (o + 40 > e || b[o]! >> 4 !== 6) return -1;
  r.tos = ((b[o]! & 0xf) << 4) | (b[o + 1]! >> 4);
  const payload = u16(b, o + 4);
  r.srcAddr = ipv6Text(b, o + 8);
  r.dstAddr = ipv6Text(b, o + 24);
  let next = b[o + 6]!;
  let p = o + 40;
  // Extension headers (RFC 8200 §4): hop-by-hop 0, routing 43, fragment 44, destination options 60,
  // mobility 135 are (len + 1) * 8 bytes; AH 51 is (len + 2) * 4; ESP 50 hides what follows.
  for (let hops = 0; hops < 16; hops++) {
    if (next === 0 || next === 43 || next === 60 || next === 135 || next === 51) {
      if (p + 2 > e) {
        r.protocol = next;
        return payload + 40;
      }
      const len = next === 51 ? (b[p + 1]! + 2) * 4 : (b[p + 1]! + 1) * 8;
      next = b[p]!;
      p += len;
    } else if (next === 44) {
      if (p + 8 > e) {
        r.protocol = next;
        return payload + 40;
      }
      const offset = u16(b, p + 2) >> 3;
      next = b[p]!;
      p += 8;
      if (offset !== 0) {
        r.protocol = next;
        return payload + 40;
      }
    } else {
      break;
    }
  }
  r.protocol = next;
  transport(r, b, p, e, next);
  return payload + 40;
}

/** Ports and TCP flags; ICMP and ICMPv6 type and code as NetFlow writes them (dstPort = type << 8 | code). */
function transport(r: FlowRecord, b: Uint8Array, p: number, e: number, protocol: number): void {
  if (protocol === 6 || protocol === 17 || protocol === 132 || protocol === 136) {
    if (p + 4 > e) return;
    r.srcPort = u16(b, p);
    r.dstPort = u16(b, p + 2);
    if (protocol === 6 && p + 14 <= e) r.tcpFlags = b[p + 13]!;
  } else if (protocol === 1 || protocol === 58) {
    if (p + 2 > e) return;
    r.dstPort = (b[p]! << 8) | b[p + 1]!;
  }
}

function counterSample(run: Run, start: number, end: number, expanded: boolean): void {
  const b = run.b;
  const fixed = expanded ? 16 : 12;
  if (end - start < fixed) {
    fail(run, 'MALFORMED', `sFlow counter sample of ${end - start} bytes is shorter than ${fixed}`, start);
    return;
  }
  const sourceIndex = expanded ? u32(b, start + 8) : u32(b, start + 4) % 0x1000000;
  let o = start + fixed - 4;
  const n = u32(b, o);
  o += 4;
  let c: InterfaceCounters | undefined;
  for (let k = 0; k < n; k++) {
    const re = recordEnd(run, o, end, k, n, 'counter');
    if (re < 0) return;
    const format = u32(b, o);
    const rs = o + 8;
    const len = re - rs;
    if (format === 1 && len >= 88) {
      c ??= newCounters(run, sourceIndex);
      c.ifIndex = u32(b, rs);
      c.ifType = u32(b, rs + 4);
      c.ifSpeed = u64(b, rs + 8);
      c.ifDirection = u32(b, rs + 16);
      const status = u32(b, rs + 20);
      c.adminUp = (status & 1) !== 0;
      c.operUp = (status & 2) !== 0;
      c.inOctets = u64(b, rs + 24);
      c.inUcastPkts = u32(b, rs + 32);
      c.inMulticastPkts = u32(b, rs + 36);
      c.inBroadcastPkts = u32(b, rs + 40);
      c.inDiscards = u32(b, rs + 44);
      c.inErrors = u32(b, rs + 48);
      c.inUnknownProtos = u32(b, rs + 52);
      c.outOctets = u64(b, rs + 56);
      c.outUcastPkts = u32(b, rs + 64);
      c.outMulticastPkts = u32(b, rs + 68);
      c.outBroadcastPkts = u32(b, rs + 72);
      c.outDiscards = u32(b, rs + 76);
      c.outErrors = u32(b, rs + 80);
      c.promiscuous = u32(b, rs + 84) === 1;
    } else if (format === 2 && len >= 52) {
      c ??= newCounters(run, sourceIndex);
      c.fcsErrors = u32(b, rs + 4);
      c.alignmentErrors = u32(b, rs);
      c.lateCollisions = u32(b, rs + 24);
      c.symbolErrors = u32(b, rs + 48);
    }
    o = re;
  }
  if (c !== undefined) run.counters.push(c);
}

function newCounters(run: Run, ifIndex: number): InterfaceCounters {
  return {
    agent: run.agent,
    subAgentId: run.subAgent,
    ifIndex,
    ifType: 0,
    ifSpeed: 0,
    ifDirection: 0,
    adminUp: false,
    operUp: false,
    inOctets: 0,
    inUcastPkts: 0,
    inMulticastPkts: 0,
    inBroadcastPkts: 0,
    inDiscards: 0,
    inErrors: 0,
    inUnknownProtos: 0,
    outOctets: 0,
    outUcastPkts: 0,
    outMulticastPkts: 0,
    outBroadcastPkts: 0,
    outDiscards: 0,
    outErrors: 0,
    promiscuous: false,
    alignmentErrors: 0,
    fcsErrors: 0,
    lateCollisions: 0,
    symbolErrors: 0,
    receivedMs: run.ctx.receivedMs,
  };
}
