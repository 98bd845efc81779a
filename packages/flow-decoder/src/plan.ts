import { createFlowRecord, type ExtraField, type FlowRecord } from '@wardwatch/flow-schema';
import { allZero, ipv4Text, ipv6Text, macText, readUint } from './format.ts';
import { REVERSE_PEN } from './iana/elements.ts';

/** Field length that marks an IPFIX variable-length field (RFC 7011 §7). */
export const VARIABLE_LENGTH = 65535;

/** One field specifier of a template: element id (enterprise bit removed), length, PEN (0 = IANA). */
export interface TemplateField {
  id: number;
  length: number;
  pen: number;
}

/**
 * What the decoder does with one field of a data record. Templates are compiled once into arrays of
 * these kinds (a field-offset plan) so the per-record loop is a switch over small integers.
 */
export enum Kind {
  // Kinds that take the raw bytes.
  Skip = 0,
  Extra,
  SrcV4,
  DstV4,
  SrcV6,
  DstV6,
  NextHopV4,
  NextHopV6,
  SrcMac,
  DstMac,
  PostDstMac,
  PostSrcMac,
  StartNtp,
  EndNtp,
  // Kinds that take an unsigned integer (read once, before the switch); Numeric is the first.
  SrcPort,
  DstPort,
  Protocol,
  TcpFlags,
  Tos,
  Bytes,
  Packets,
  RevBytes,
  RevPackets,
  InIf,
  OutIf,
  SrcVlan,
  DstVlan,
  SrcAs,
  DstAs,
  SrcMask,
  DstMask,
  Direction,
  StartUptime,
  EndUptime,
  StartSec,
  EndSec,
  StartMs,
  EndMs,
  StartDeltaUs,
  EndDeltaUs,
  SysInitMs,
  DurationMs,
  DurationUs,
  SamplingInterval,
  SamplerId,
  SamplingPacketInterval,
  SamplingPacketSpace,
  // 802.1Q VLAN ids (243/254): fill the VLAN columns only when vlanId/postVlanId left them 0.
  SrcDot1qVlan,
  DstDot1qVlan,
}

/** A template compiled for decoding. */
export interface Plan {
  kinds: Uint8Array;
  lengths: Uint16Array;
  /** Offset of each field within the record when the record has a fixed length; else -1. */
  offsets: Int32Array;
  ids: Uint16Array;
  pens: Uint32Array;
  /** Record length when no field is variable-length; -1 otherwise. */
  fixedLength: number;
  /** Smallest possible record (a variable-length field takes at least its 1-byte length). */
  minLength: number;
  /** The record needs the second pass (relative times, durations, sampling fields). */
  post: boolean;
}

// Shared extra fields for one-byte values of IANA elements below FLYWEIGHT_IDS, by id * 256 +
// value: a fixed 1 MB table whatever the exporters send. Their bytes must be treated as read-only.
const FLYWEIGHT_IDS = 512;
const byteExtras: (ExtraField | undefined)[] = new Array(FLYWEIGHT_IDS * 256).fill(undefined);

/** A template as kept in the decoder state. */
export interface Template {
  id: number;
  /** Options template (its data records describe the exporter, not flows). */
  options: boolean;
  /** Number of leading scope fields of an options template (NetFlow v9 allows 0). */
  scopeCount: number;
  fields: TemplateField[];
  /** Compiled plan; only data templates have one. */
  plan: Plan | undefined;
}

type Sizes = 'num' | 'v4' | 'v6' | 'mac' | 'any';

interface Mapping {
  kind: Kind;
  size: Sizes;
}

const M = (kind: Kind, size: Sizes): Mapping => ({ kind, size });

// IANA / NetFlow v9 element id -> record column.
const IANA: Map<number, Mapping> = new Map([
  [1, M(Kind.Bytes, 'num')],
  [2, M(Kind.Packets, 'num')],
  [4, M(Kind.Protocol, 'num')],
  [5, M(Kind.Tos, 'num')],
  [6, M(Kind.TcpFlags, 'num')],
  [7, M(Kind.SrcPort, 'num')],
  [8, M(Kind.SrcV4, 'v4')],
  [9, M(Kind.SrcMask, 'num')],
  [10, M(Kind.InIf, 'num')],
  [11, M(Kind.DstPort, 'num')],
  [12, M(Kind.DstV4, 'v4')],
  [13, M(Kind.DstMask, 'num')],
  [14, M(Kind.OutIf, 'num')],
  [15, M(Kind.NextHopV4, 'v4')],
  [16, M(Kind.SrcAs, 'num')],
  [17, M(Kind.DstAs, 'num')],
  [21, M(Kind.EndUptime, 'num')],
  [22, M(Kind.StartUptime, 'num')],
  [27, M(Kind.SrcV6, 'v6')],
  [28, M(Kind.DstV6, 'v6')],
  [29, M(Kind.SrcMask, 'num')],
  [30, M(Kind.DstMask, 'num')],
  [34, M(Kind.SamplingInterval, 'num')],
  [48, M(Kind.SamplerId, 'num')],
  [50, M(Kind.SamplingInterval, 'num')],
  [56, M(Kind.SrcMac, 'mac')],
  [57, M(Kind.PostDstMac, 'mac')],
  [58, M(Kind.SrcVlan, 'num')],
  [59, M(Kind.DstVlan, 'num')],
  [60, M(Kind.Skip, 'any')], // ipVersion: implied by the address columns
  [61, M(Kind.Direction, 'num')],
  [62, M(Kind.NextHopV6, 'v6')],
  [80, M(Kind.DstMac, 'mac')],
  [81, M(Kind.PostSrcMac, 'mac')],
  [150, M(Kind.StartSec, 'num')],
  [151, M(Kind.EndSec, 'num')],
  [152, M(Kind.StartMs, 'num')],
  [153, M(Kind.EndMs, 'num')],
  [154, M(Kind.StartNtp, 'num')],
  [155, M(Kind.EndNtp, 'num')],
  [156, M(Kind.StartNtp, 'num')],
  [157, M(Kind.EndNtp, 'num')],
  [158, M(Kind.StartDeltaUs, 'num')],
  [159, M(Kind.EndDeltaUs, 'num')],
  [160, M(Kind.SysInitMs, 'num')],
  [161, M(Kind.DurationMs, 'num')],
  [162, M(Kind.DurationUs, 'num')],
  [210, M(Kind.Skip, 'any')], // paddingOctets
  // dot1qVlanId / postDot1qVlanId: Cisco Flexible NetFlow's `datalink dot1q vlan input|output`
  // exports these instead of 58/59. A non-zero 58/59 in the same record wins (see decodeRecords).
  [243, M(Kind.SrcDot1qVlan, 'num')],
  [254, M(Kind.DstDot1qVlan, 'num')],
  [302, M(Kind.SamplerId, 'num')],
  [305, M(Kind.SamplingPacketInterval, 'num')],
  [306, M(Kind.SamplingPacketSpace, 'num')],
]);

// RFC 5103 reverse elements with a column of their own.
const REVERSE: Map<number, Mapping> = new Map([
  [1, M(Kind.RevBytes, 'num')],
  [2, M(Kind.RevPackets, 'num')],
]);

function fits(size: Sizes, len: number): boolean {
  switch (size) {
    case 'num':
      return len >= 1 && len <= 8;
    case 'v4':
      return len === 4;
    case 'v6':
      return len === 16;
    case 'mac':
      return len === 6;
    default:
      return true;
  }
}

const POST_KINDS = new Set<Kind>([
  Kind.StartUptime,
  Kind.EndUptime,
  Kind.StartDeltaUs,
  Kind.EndDeltaUs,
  Kind.SysInitMs,
  Kind.DurationMs,
  Kind.DurationUs,
  Kind.SamplingInterval,
  Kind.SamplerId,
  Kind.SamplingPacketInterval,
  Kind.SamplingPacketSpace,
]);

function has(fields: readonly TemplateField[], id: number, pen: number): boolean {
  return fields.some((f) => f.id === id && f.pen === pen);
}

/** Compiles a data template's fields into a decoding plan. */
export function compilePlan(fields: readonly TemplateField[]): Plan {
  const n = fields.length;
  const kinds = new Uint8Array(n);
  const lengths = new Uint16Array(n);
  const offsets = new Int32Array(n);
  const ids = new Uint16Array(n);
  const pens = new Uint32Array(n);
  // Total counters and the NSEL initiator/responder counters stand in for delta counters only
  // when the template has none (YAF, Cisco ASA); otherwise they stay extra fields.
  const hasDelta = has(fields, 1, 0) || has(fields, 2, 0);
  const hasRevDelta = has(fields, 1, REVERSE_PEN) || has(fields, 2, REVERSE_PEN);
  const fallback = new Map<number, Mapping>();
  if (!hasDelta) {
    fallback.set(85, M(Kind.Bytes, 'num'));
    fallback.set(86, M(Kind.Packets, 'num'));
    if (!has(fields, 85, 0)) {
      fallback.set(231, M(Kind.Bytes, 'num'));
      fallback.set(298, M(Kind.Packets, 'num'));
      fallback.set(232, M(Kind.RevBytes, 'num'));
      fallback.set(299, M(Kind.RevPackets, 'num'));
    }
  }
  let fixed = 0;
  let variable = false;
  let minLength = 0;
  let post = false;
  for (let i = 0; i < n; i++) {
    const f = fields[i]!;
    let m: Mapping | undefined;
    if (f.pen === 0) m = IANA.get(f.id) ?? fallback.get(f.id);
    else if (f.pen === REVERSE_PEN) {
      m = REVERSE.get(f.id);
      if (m === undefined && !hasRevDelta && (f.id === 85 || f.id === 86)) {
        m = M(f.id === 85 ? Kind.RevBytes : Kind.RevPackets, 'num');
      }
    }
    let kind = Kind.Extra;
    if (m !== undefined && (f.length === VARIABLE_LENGTH ? m.size === 'any' : fits(m.size, f.length))) {
      kind = m.kind;
    }
    if (f.length === 0 && kind !== Kind.Skip) kind = Kind.Skip;
    kinds[i] = kind;
    lengths[i] = f.length;
    ids[i] = f.id;
    pens[i] = f.pen;
    if (POST_KINDS.has(kind)) post = true;
    if (f.length === VARIABLE_LENGTH) {
      variable = true;
      offsets[i] = -1;
      minLength += 1;
    } else {
      offsets[i] = variable ? -1 : fixed;
      fixed += f.length;
      minLength += f.length;
    }
  }
  return {
    kinds,
    lengths,
    offsets,
    ids,
    pens,
    fixedLength: variable ? -1 : fixed,
    minLength,
    post,
  };
}

/** True when two field lists are identical. */
export function sameFields(a: readonly TemplateField[], b: readonly TemplateField[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.id !== y.id || x.length !== y.length || x.pen !== y.pen) return false;
  }
  return true;
}

/** Builds a template, compiling data templates. */
export function createTemplate(
  id: number,
  options: boolean,
  scopeCount: number,
  fields: TemplateField[],
): Template {
  return { id, options, scopeCount, fields, plan: options ? undefined : compilePlan(fields) };
}

/** Per-set context for decoding data records; filled by the protocol parsers, reused across sets. */
export interface DataContext {
  exporter: string;
  domain: number;
  version: number;
  templateId: number;
  /** Export time from the message header, Unix ms. */
  exportMs: number;
  /** Unix ms at the exporter's sysUpTime 0 (v9 header; IPFIX systemInitTimeMilliseconds); NaN when unknown. */
  bootMs: number;
  /** v9 header sysUpTime (ms) for the 32-bit wrap of first/last switched; -1 for IPFIX. */
  sysUptime: number;
  receivedMs: number;
  /** Sampling interval of records that carry no sampler field of their own (1 = unsampled). */
  samplingRate: number;
  /** Sampler id -> interval learned from options data. */
  samplers: Map<number, number> | undefined;
  /** Multiply counters by the sampling interval. */
  scale: boolean;
  /** Set to the byte offset of a record that overran its set; -1 when none. */
  fault: number;
}

const TWO31 = 2147483648;
const TWO32 = 4294967296;
const NTP_UNIX_OFFSET_S = 2208988800;

function ntpMs(b: Uint8Array, o: number): number {
  const sec = readUint(b, o, 4);
  const frac = readUint(b, o + 4, 4);
  return (sec - NTP_UNIX_OFFSET_S) * 1000 + Math.floor((frac * 1000) / TWO32);
}

/**
 * Decodes the data records of one set body `[start, end)` with a compiled plan, appending them to
 * `out`. Trailing bytes shorter than a record are set padding (RFC 7011 §3.3.1). Returns the number
 * of records; a variable-length field that overruns the set stops decoding and sets `dc.fault`.
 */
export function decodeRecords(
  plan: Plan,
  b: Uint8Array,
  start: number,
  end: number,
  dc: DataContext,
  out: FlowRecord[],
): number {
  const kinds = plan.kinds;
  const lengths = plan.lengths;
  const n = kinds.length;
  const fixed = plan.fixedLength;
  const minLen = plan.minLength;
  dc.fault = -1;
  if (minLen === 0) return 0;
  let p = start;
  let count = 0;
  while (end - p >= minLen) {
    const r = createFlowRecord();
    r.exporter = dc.exporter;
    r.observationDomain = dc.domain;
    r.version = dc.version;
    r.templateId = dc.templateId;
    r.samplingRate = dc.samplingRate;
    r.receivedMs = dc.receivedMs;
    let upStart = -1;
    let upEnd = -1;
    let deltaStart = -1;
    let deltaEnd = -1;
    let sysInit = -1;
    let duration = -1;
    let rate = 0;
    let sampler = -1;
    let pktInterval = 0;
    let pktSpace = 0;
    let o = p;
    for (let i = 0; i < n; i++) {
      let len = lengths[i]!;
      if (len === VARIABLE_LENGTH) {
        if (o >= end) {
          dc.fault = o;
          return count;
        }
        len = b[o++]!;
        if (len === 255) {
          if (o + 2 > end) {
            dc.fault = o;
            return count;
          }
          len = (b[o]! << 8) | b[o + 1]!;
          o += 2;
        }
        if (o + len > end) {
          dc.fault = o;
          return count;
        }
      } else if (fixed < 0 && o + len > end) {
        // After long variable-length values, a fixed field may no longer fit.
        dc.fault = o;
        return count;
      }
      const kind = kinds[i]!;
      let v = 0;
      if (kind >= Kind.SrcPort) {
        if (len === 1) v = b[o]!;
        else if (len === 2) v = (b[o]! << 8) | b[o + 1]!;
        else if (len === 4) v = b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
        else v = readUint(b, o, len);
      }
      switch (kind) {
        case Kind.Skip:
          break;
        case Kind.Extra: {
          let f: ExtraField | undefined;
          const id = plan.ids[i]!;
          if (len === 1 && id < FLYWEIGHT_IDS && plan.pens[i] === 0) {
            // One-byte IANA values (reasons, flags, TTLs) are shared flyweights: no allocation per record.
            const key = id * 256 + b[o]!;
            f = byteExtras[key];
            if (f === undefined) {
              f = { id, pen: 0, value: Uint8Array.of(b[o]!) };
              byteExtras[key] = f;
            }
          } else {
            // A copy (not a view) so records never alias the receive buffer.
            const value = new Uint8Array(len);
            for (let k = 0; k < len; k++) value[k] = b[o + k]!;
            f = { id, pen: plan.pens[i]!, value };
          }
          if (r.extra === undefined) r.extra = [f];
          else r.extra.push(f);
          break;
        }
        case Kind.SrcV4:
          if (r.srcAddr === '' || (b[o]! | b[o + 1]! | b[o + 2]! | b[o + 3]!) !== 0)
            r.srcAddr = ipv4Text(b, o);
          break;
        case Kind.DstV4:
          if (r.dstAddr === '' || (b[o]! | b[o + 1]! | b[o + 2]! | b[o + 3]!) !== 0)
            r.dstAddr = ipv4Text(b, o);
          break;
        case Kind.SrcV6:
          if (r.srcAddr === '' || !allZero(b, o, 16)) r.srcAddr = ipv6Text(b, o);
          break;
        case Kind.DstV6:
          if (r.dstAddr === '' || !allZero(b, o, 16)) r.dstAddr = ipv6Text(b, o);
          break;
        case Kind.NextHopV4:
          if (r.nextHop === '' || (b[o]! | b[o + 1]! | b[o + 2]! | b[o + 3]!) !== 0)
            r.nextHop = ipv4Text(b, o);
          break;
        case Kind.NextHopV6:
          if (r.nextHop === '' || !allZero(b, o, 16)) r.nextHop = ipv6Text(b, o);
          break;
        case Kind.SrcPort:
          r.srcPort = v;
          break;
        case Kind.DstPort:
          r.dstPort = v;
          break;
        case Kind.Protocol:
          r.protocol = v;
          break;
        case Kind.TcpFlags:
          r.tcpFlags = v;
          break;
        case Kind.Tos:
          r.tos = v;
          break;
        case Kind.Bytes:
          r.bytes = v;
          break;
        case Kind.Packets:
          r.packets = v;
          break;
        case Kind.RevBytes:
          r.reverseBytes = v;
          break;
        case Kind.RevPackets:
          r.reversePackets = v;
          break;
        case Kind.InIf:
          r.inputIf = v;
          break;
        case Kind.OutIf:
          r.outputIf = v;
          break;
        // vlanId/postVlanId (58/59) take precedence over dot1qVlanId/postDot1qVlanId (243/254) in
        // either order; 0 is "no VLAN" (untagged) and never hides the other element's id.
        case Kind.SrcVlan:
          if (v !== 0) r.srcVlan = v;
          break;
        case Kind.DstVlan:
          if (v !== 0) r.dstVlan = v;
          break;
        case Kind.SrcDot1qVlan:
          if (r.srcVlan === 0) r.srcVlan = v;
          break;
        case Kind.DstDot1qVlan:
          if (r.dstVlan === 0) r.dstVlan = v;
          break;
        case Kind.SrcMac:
          r.srcMac = macText(b, o);
          break;
        case Kind.DstMac:
          r.dstMac = macText(b, o);
          break;
        case Kind.PostDstMac:
          if (r.dstMac === '') r.dstMac = macText(b, o);
          break;
        case Kind.PostSrcMac:
          if (r.srcMac === '') r.srcMac = macText(b, o);
          break;
        case Kind.SrcAs:
          r.srcAs = v;
          break;
        case Kind.DstAs:
          r.dstAs = v;
          break;
        case Kind.SrcMask:
          r.srcMask = v;
          break;
        case Kind.DstMask:
          r.dstMask = v;
          break;
        case Kind.Direction:
          r.direction = v;
          break;
        case Kind.StartUptime:
          upStart = v;
          break;
        case Kind.EndUptime:
          upEnd = v;
          break;
        case Kind.StartSec:
          r.startMs = v * 1000;
          break;
        case Kind.EndSec:
          r.endMs = v * 1000;
          break;
        case Kind.StartMs:
          r.startMs = v;
          break;
        case Kind.EndMs:
          r.endMs = v;
          break;
        case Kind.StartNtp:
          if (len === 8) r.startMs = ntpMs(b, o);
          break;
        case Kind.EndNtp:
          if (len === 8) r.endMs = ntpMs(b, o);
          break;
        case Kind.StartDeltaUs:
          deltaStart = v;
          break;
        case Kind.EndDeltaUs:
          deltaEnd = v;
          break;
        case Kind.SysInitMs:
          sysInit = v;
          break;
        case Kind.DurationMs:
          duration = v;
          break;
        case Kind.DurationUs:
          duration = v / 1000;
          break;
        case Kind.SamplingInterval:
          rate = v;
          break;
        case Kind.SamplerId:
          sampler = v;
          break;
        case Kind.SamplingPacketInterval:
          pktInterval = v;
          break;
        case Kind.SamplingPacketSpace:
          pktSpace = v;
          break;
      }
      o += len;
    }
    if (plan.post) {
      const boot = sysInit > 0 ? sysInit : dc.bootMs;
      if (!Number.isNaN(boot)) {
        // The exporter's uptime at export: the v9 header's, or for IPFIX the export time (whole seconds,
        // hence + 999) since init. A flow time more than 2^31 ms after it is a 32-bit counter that wrapped
        // (or, as softflowd does when it replays a capture, went below zero), so it is taken as negative.
        const up = dc.sysUptime >= 0 ? dc.sysUptime : dc.exportMs + 999 - boot;
        if (upStart >= 0) r.startMs = boot + (up >= 0 && upStart - up > TWO31 ? upStart - TWO32 : upStart);
        if (upEnd >= 0) r.endMs = boot + (up >= 0 && upEnd - up > TWO31 ? upEnd - TWO32 : upEnd);
      }
      if (deltaStart >= 0) r.startMs = dc.exportMs - Math.round(deltaStart / 1000);
      if (deltaEnd >= 0) r.endMs = dc.exportMs - Math.round(deltaEnd / 1000);
      if (duration >= 0) {
        if (r.startMs !== 0 && r.endMs === 0) r.endMs = r.startMs + Math.round(duration);
        else if (r.startMs === 0 && r.endMs !== 0) r.startMs = r.endMs - Math.round(duration);
      }
      if (rate > 0) r.samplingRate = rate;
      else if (pktInterval > 0) r.samplingRate = (pktInterval + pktSpace) / pktInterval;
      else if (sampler >= 0 && dc.samplers !== undefined) {
        const s = dc.samplers.get(sampler);
        if (s !== undefined) r.samplingRate = s;
      }
    }
    if (dc.scale && r.samplingRate > 1) {
      const k = r.samplingRate;
      r.bytes *= k;
      r.packets *= k;
      r.reverseBytes *= k;
      r.reversePackets *= k;
    }
    out.push(r);
    count++;
    p = fixed >= 0 ? p + fixed : o;
  }
  return count;
}
