import type { FlowRecord } from '@wardwatch/flow-schema';

// The in-memory behaviour model of one device: the worker that owns the device's partition keeps it,
// adds each record to it (hot path: no closures, no JSON), and writes what changed together with the
// consumed offsets. The database is the truth; this is a cache of it plus the uncommitted deltas, and
// is dropped whenever a write fails or partitions move.

/** The device opened the conversation (to the peer's service port). */
export const OUTBOUND = 0;
/** The peer opened the conversation (to the device's service port). */
export const INBOUND = 1;
/** Profile direction names as stored. */
export const DIRECTION_NAMES = ['outbound', 'inbound'] as const;

/** Baseline metrics, per bucket. */
export const METRICS = ['bytes_out', 'bytes_in', 'packets', 'flows', 'peers', 'ext_bytes_out'] as const;
/** One of {@link METRICS}. */
export type Metric = (typeof METRICS)[number];
/** The all-hours baseline slot (the others are the UTC hour of day, 0..23). */
export const ALL_HOURS = -1;

const TCP = 6;
const SYN = 0x02;
const ACK = 0x10;
const MINUTE = 60_000;

/** One (peer, service port, protocol, direction) of a device's communication profile. */
export interface ProfileEntry {
  key: string;
  peer: string;
  port: number;
  proto: number;
  dir: number;
  internal: boolean;
  /** Deltas since the last commit. */
  flows: number;
  bytesOut: number;
  bytesIn: number;
  packets: number;
  /** Flow time of the first and latest conversation (absolute, merged with the stored row). */
  first: number;
  last: number;
  dirty: boolean;
  /** Whether the entry's row exists (loaded or committed): written with UPDATE rather than an upsert. */
  stored: boolean;
  /** The newest flow-time minute with traffic (0: none) and its bytes: what a policy's rate ceiling judges. */
  rateMinute: number;
  rateBytes: number;
}

/** Traffic of one device in one minute (flow time): deltas since the last commit. */
export interface MinuteAcc {
  bytesOut: number;
  bytesIn: number;
  packetsOut: number;
  packetsIn: number;
  flows: number;
  extOut: number;
}

/** An open baseline bucket. */
export interface Bucket {
  start: number;
  bytesOut: number;
  bytesIn: number;
  packets: number;
  flows: number;
  extOut: number;
  peers: Set<string>;
  /** Alert kinds already raised for this bucket (bit per kind). */
  reported: number;
}

/** Running count, mean and M2 (Welford) of one metric in one time-of-day slot. */
export interface Stat {
  n: number;
  mean: number;
  m2: number;
  last: number;
  dirty: boolean;
}

/**
 * The recent scan / lateral-movement events of a device (flow time). The window slides: detections
 * count the events within any `scanWindow` span (see `sliding.ts`), and events a `scanWindow` older than
 * the device's newest are dropped after judging.
 */
export interface DetectWindow {
  /** Time of the oldest event kept. */
  start: number;
  /** Host -> port -> latest time probed with control-only TCP flows (no data). */
  probes: Map<string, Map<number, number>>;
  /** Internal hosts reached on administration ports: host -> port -> latest time. */
  admin: Map<string, Map<number, number>>;
  /** Figures already reported per alert kind in this window. */
  reported: Record<string, number>;
  dirty: boolean;
}

/** Outbound traffic to one external peer within the batch. */
export interface ExternalContact {
  bytes: number;
  packets: number;
  ports: Set<number>;
  first: number;
  last: number;
}

/** One device's model. */
export interface DeviceModel {
  ip: string;
  partition: number;
  /** Whether the device's inventory row exists (a device is an address that has sent traffic). */
  stored: boolean;
  firstSeen: number;
  lastSeen: number;
  learnedAt: number;
  // Inventory deltas since the last commit.
  bytesSent: number;
  packetsSent: number;
  flowsSent: number;
  bytesReceived: number;
  packetsReceived: number;
  flowsReceived: number;
  mac: string;
  vlan: number;
  exporter: string;
  inputIf: number;
  lastSent: number;
  maxSendGap: number;
  /** Buckets ending at or before this time are folded into the baselines. */
  baselineThrough: number;
  buckets: Map<number, Bucket>;
  stats: Map<string, Stat>;
  profile: Map<string, ProfileEntry>;
  /** The same entries by peer and {@link profileSlot}: the hot path finds an entry without building its key. */
  profileByPeer: Map<string, Map<number, ProfileEntry>>;
  /** Exact (host) peers in the profile; past the cap, new peers fold into peer groups. */
  peers: Set<string>;
  minutes: Map<number, MinuteAcc>;
  /** Recent minutes whose rollup row exists (loaded or committed): written with UPDATE. */
  rollupMinutes: Set<number>;
  window: DetectWindow | undefined;
  inferredClass: string;
  classConfidence: number;
  classOverride: string | null;
  /** Set when the profile gained a key (or the sending pattern changed): reclassify. */
  reclassify: boolean;
  /** Profile entries created in this batch after the learning period, and whether the peer was new. */
  newEntries: Array<[ProfileEntry, boolean]>;
  external: Map<string, ExternalContact> | undefined;
  threats: Map<string, ExternalContact> | undefined;
  /** `lastSent` value for which silence was reported (avoids re-reporting one silence). */
  silenceReported: number;
  /** MACs this device's address was seen with in the batch (IP changes tracked by MAC). */
  macs: Map<string, [number, number]> | undefined;
  touched: boolean;
}

/** What adding records needs besides the model. */
export interface ApplyContext {
  isInternal(addr: string): boolean;
  servicePorts: ReadonlySet<number>;
  maxPeers: number;
  learningMs: number;
  scanWindowMs: number;
  isThreat(addr: string): boolean;
  /** Records whose minute lies before the device's folded baselines (counted, not in baselines). */
  late: { count: number };
  /**
   * How far a record's times may lie ahead of its `receivedMs` (the collector's clock): beyond it the
   * exporter's clock (or a NetFlow v9 sysUptime) is wrong, and the record is taken as received then.
   */
  maxSkewMs: number;
  /** Records whose times were clamped to their receive time. */
  clamped: { count: number };
  /**
   * Start of the oldest bucket still open on the device's partition (0: no flow time yet): minutes
   * before it are late for every device, so a stray old record neither opens a bucket (which would
   * fold a run of idle zeros into the baselines) nor starts the learning period.
   */
  openFrom: number;
}

/** Administration / remote-access ports: many internal hosts on these is lateral movement. */
export const ADMIN_PORTS: ReadonlySet<number> = new Set([22, 23, 135, 139, 445, 3389, 5900, 5985, 5986]);

/** A fresh model for an address not in the database. */
export function createDeviceModel(ip: string, partition: number): DeviceModel {
  return {
    ip,
    partition,
    stored: false,
    firstSeen: 0,
    lastSeen: 0,
    learnedAt: 0,
    bytesSent: 0,
    packetsSent: 0,
    flowsSent: 0,
    bytesReceived: 0,
    packetsReceived: 0,
    flowsReceived: 0,
    mac: '',
    vlan: 0,
    exporter: '',
    inputIf: 0,
    lastSent: 0,
    maxSendGap: 0,
    baselineThrough: 0,
    buckets: new Map(),
    stats: new Map(),
    profile: new Map(),
    profileByPeer: new Map(),
    peers: new Set(),
    minutes: new Map(),
    rollupMinutes: new Set(),
    window: undefined,
    inferredClass: 'unknown',
    classConfidence: 0,
    classOverride: null,
    reclassify: false,
    newEntries: [],
    external: undefined,
    threats: undefined,
    silenceReported: 0,
    macs: undefined,
    touched: false,
  };
}

/** The class detections use: the analyst's when set, else the inferred one. */
export function effectiveClass(m: DeviceModel): string {
  return m.classOverride ?? m.inferredClass;
}

/** Multicast, broadcast, unspecified and link-local addresses are neither devices nor the internet. */
export function isSpecial(addr: string): boolean {
  const c = addr.charCodeAt(0);
  if (addr.includes(':')) {
    const a = addr.toLowerCase();
    // Link-local is fe80::/10: a first group of four digits, fe80 to febf (fe8 alone is 0fe8).
    const c3 = a.charCodeAt(2);
    return (
      a === '::' ||
      a.startsWith('ff') ||
      (a.startsWith('fe') &&
        a.charCodeAt(3) !== 58 &&
        a.charCodeAt(4) === 58 &&
        (c3 === 56 || c3 === 57 || (c3 >= 97 && c3 <= 98)))
    );
  }
  const first = Number.parseInt(addr, 10);
  return (
    (first >= 224 && first <= 239) ||
    addr === '255.255.255.255' ||
    addr === '0.0.0.0' ||
    (c === 49 && addr.startsWith('169.254.'))
  );
}

/** A (service port, protocol, direction) as one small integer (ports < 65536, protocols < 256). */
export function profileSlot(port: number, proto: number, dir: number): number {
  return port * 512 + proto * 2 + dir;
}

/** Adds an entry to a device's profile; `peer` is the host address or the peer group's CIDR. */
export function addProfileEntry(m: DeviceModel, peer: string, e: ProfileEntry): void {
  m.profile.set(e.key, e);
  let slots = m.profileByPeer.get(peer);
  if (!slots) {
    slots = new Map();
    m.profileByPeer.set(peer, slots);
  }
  slots.set(profileSlot(e.port, e.proto, e.dir), e);
}

/**
 * The /64 of an IPv6 address as PostgreSQL prints the cidr (RFC 5952: the zero run at the end is the
 * one compressed), so a reloaded profile finds the group's entries by the same text. The address may
 * itself be compressed (`fd00::5`) or end in an embedded IPv4 address (two groups).
 */
function ipv6Prefix64(addr: string): string {
  const dbl = addr.indexOf('::');
  const head = dbl < 0 ? addr : addr.slice(0, dbl);
  const groups = head === '' ? [] : head.split(':');
  if (dbl >= 0 && groups.length < 4) {
    const tail = addr.slice(dbl + 2);
    const parts = tail === '' ? [] : tail.split(':');
    const tailGroups = parts.length + (tail.includes('.') ? 1 : 0);
    for (let i = groups.length + tailGroups; i < 8; i++) groups.push('0');
    for (const p of parts) groups.push(p);
  }
  let last = -1;
  const hex: string[] = [];
  for (let i = 0; i < 4; i++) {
    const v = Number.parseInt(groups[i] ?? '0', 16) || 0;
    hex.push(v.toString(16));
    if (v !== 0) last = i;
  }
  return `${hex.slice(0, last + 1).join(':')}::/64`;
}

/** The peer group an address folds into once a profile holds its maximum of host peers. */
export function peerGroupOf(addr: string, internal: boolean): string {
  if (addr.includes(':')) return internal ? ipv6Prefix64(addr) : '::/0';
  if (!internal) return '0.0.0.0/0';
  const i = addr.lastIndexOf('.');
  return `${addr.slice(0, i)}.0/24`;
}

function minuteAcc(m: DeviceModel, minute: number): MinuteAcc {
  let a = m.minutes.get(minute);
  if (!a) {
    a = { bytesOut: 0, bytesIn: 0, packetsOut: 0, packetsIn: 0, flows: 0, extOut: 0 };
    m.minutes.set(minute, a);
  }
  return a;
}

/** The open bucket a time falls in, or undefined when its bucket is already folded (late). */
export function bucketAt(m: DeviceModel, t: number, bucketMs: number): Bucket | undefined {
  const start = t - (t % bucketMs);
  if (start < m.baselineThrough) return undefined;
  let b = m.buckets.get(start);
  if (!b) {
    b = { start, bytesOut: 0, bytesIn: 0, packets: 0, flows: 0, extOut: 0, peers: new Set(), reported: 0 };
    m.buckets.set(start, b);
  }
  return b;
}

function contact(
  map: Map<string, ExternalContact>,
  peer: string,
  start: number,
  end: number,
  port: number,
  bytes: number,
  packets: number,
) {
  let c = map.get(peer);
  if (!c) {
    c = { bytes: 0, packets: 0, ports: new Set(), first: start, last: end };
    map.set(peer, c);
  }
  c.bytes += bytes;
  c.packets += packets;
  if (c.ports.size < 32) c.ports.add(port);
  if (start < c.first) c.first = start;
  if (end > c.last) c.last = end;
}

/**
 * The start of the oldest bucket still open at partition flow time `watermark`: the bucket after the
 * newest one {@link closeBuckets} would fold (0 when there is no flow time yet).
 */
export function openBucketsFrom(watermark: number, bucketMs: number, latenessMs: number): number {
  if (watermark <= 0) return 0;
  const closedTo = watermark - bucketMs - latenessMs;
  return closedTo - (closedTo % bucketMs) + bucketMs;
}

/**
 * Adds one record to the model of `m.ip` (the device the collector routed it to): inventory, minute
 * rollups, baseline buckets (a long flow's counters spread over its minutes), profile, heartbeat
 * gaps, scan/lateral windows and the batch's external and threat contacts. Returns the record's flow
 * time end (after the clock bound, see {@link ApplyContext.maxSkewMs}), or 0 when the record does not
 * involve the device.
 */
export function applyRecord(m: DeviceModel, r: FlowRecord, ctx: ApplyContext, bucketMs: number): number {
  const isSrc = r.srcAddr === m.ip;
  if (!isSrc && r.dstAddr !== m.ip) return 0;
  const remote = isSrc ? r.dstAddr : r.srcAddr;
  const lport = isSrc ? r.srcPort : r.dstPort;
  const rport = isSrc ? r.dstPort : r.srcPort;
  // Counters arrive as exported (the collector does not scale them): a sampled record stands for
  // `samplingRate` times what it counts.
  const k = Math.max(1, r.samplingRate);
  const fwdB = k === 1 ? r.bytes : Math.round(r.bytes * k);
  const fwdP = k === 1 ? r.packets : Math.round(r.packets * k);
  const revB = k === 1 ? r.reverseBytes : Math.round(r.reverseBytes * k);
  const revP = k === 1 ? r.reversePackets : Math.round(r.reversePackets * k);
  const outB = isSrc ? fwdB : revB;
  const outP = isSrc ? fwdP : revP;
  const inB = isSrc ? revB : fwdB;
  const inP = isSrc ? revP : fwdP;
  let start = r.startMs > 0 ? r.startMs : r.receivedMs;
  let end = r.endMs > 0 ? r.endMs : start;
  if (end < start) end = start;
  // An exporter cannot report a flow that ends after it was received: one whose clock is wrong (or a v9
  // sysUptime glitch) would otherwise carry flow time, and with it the partition's watermark, ahead.
  const received = r.receivedMs;
  if (received > 0 && end > received + ctx.maxSkewMs) {
    end = received;
    if (start > received) start = received;
    ctx.clamped.count++;
  }
  m.touched = true;

  // Inventory: the device as sender when it is the source; RFC 5103 reverse counters are the other way.
  // Some exporters count bytes only (no packet counter): bytes alone prove sending too.
  const sent = outP > 0 || outB > 0;
  if (m.firstSeen === 0 || start < m.firstSeen) {
    // Learning runs from the open buckets at the earliest: a stray old record does not end it early.
    const learnFrom = Math.max(start, ctx.openFrom);
    if (m.firstSeen === 0 || learnFrom + ctx.learningMs < m.learnedAt)
      m.learnedAt = learnFrom + ctx.learningMs;
    m.firstSeen = start;
  }
  if (end > m.lastSeen) m.lastSeen = end;
  if (sent) {
    m.bytesSent += outB;
    m.packetsSent += outP;
    m.flowsSent += 1;
  }
  if (inP > 0 || (!isSrc && inB > 0)) {
    m.bytesReceived += inB;
    m.packetsReceived += inP;
    m.flowsReceived += 1;
  }
  if (isSrc) {
    if (r.srcMac !== '') {
      // A new MAC may change the manufacturer a signature's `vendor` rule looks at.
      if (r.srcMac !== m.mac) m.reclassify = true;
      m.mac = r.srcMac;
      if (!m.macs) m.macs = new Map();
      const seen = m.macs.get(r.srcMac);
      if (!seen) m.macs.set(r.srcMac, [start, end]);
      else {
        if (start < seen[0]) seen[0] = start;
        if (end > seen[1]) seen[1] = end;
      }
    }
    if (r.srcVlan !== 0) m.vlan = r.srcVlan;
    if (r.inputIf !== 0) m.inputIf = r.inputIf;
  }
  if (r.exporter !== '') m.exporter = r.exporter;

  const internal = ctx.isInternal(remote);
  const external = !internal && !isSpecial(remote);

  // Which side serves: a known service port wins, then the lower port; ICMP and others have none.
  let dir: number;
  let service: number;
  const proto = r.protocol;
  if (proto === 6 || proto === 17 || proto === 132) {
    const lk = ctx.servicePorts.has(lport);
    const rk = ctx.servicePorts.has(rport);
    if (rk && !lk) {
      dir = OUTBOUND;
      service = rport;
    } else if (lk && !rk) {
      dir = INBOUND;
      service = lport;
    } else if (rport < lport || (rport === lport && isSrc)) {
      dir = OUTBOUND;
      service = rport;
    } else {
      dir = INBOUND;
      service = lport;
    }
  } else {
    dir = isSrc ? OUTBOUND : INBOUND;
    service = 0;
  }
  // Control-only TCP (a handshake, a reset, a probe) is not a conversation: it feeds scan detection and
  // the counters, never the profile. Judged on what the exporter counted (before sampling scales it).
  const totalP = r.packets + r.reversePackets;
  const controlOnly = proto === TCP && totalP <= 3 && r.bytes + r.reverseBytes <= 64 * totalP;

  // Minute rollups and baseline buckets, flow time; long flows spread evenly over their minutes.
  const extOut = external ? outB : 0;
  const firstMinute = start - (start % MINUTE);
  // A flow ending exactly on a minute boundary does not reach into the next minute.
  const lastMinute = end > start ? end - 1 - ((end - 1) % MINUTE) : firstMinute;
  if (firstMinute === lastMinute) {
    const a = minuteAcc(m, firstMinute);
    a.bytesOut += outB;
    a.bytesIn += inB;
    a.packetsOut += outP;
    a.packetsIn += inP;
    a.flows += 1;
    a.extOut += extOut;
    const b = start >= ctx.openFrom ? bucketAt(m, start, bucketMs) : undefined;
    if (b) {
      b.bytesOut += outB;
      b.bytesIn += inB;
      b.packets += outP + inP;
      b.flows += 1;
      b.extOut += extOut;
      if (!controlOnly) b.peers.add(remote);
    } else ctx.late.count++;
  } else {
    // Each minute takes the rounded cumulative share minus what the minutes before it took: the minutes
    // (and buckets) add up to the record exactly and none goes negative, however few the packets.
    const span = end - start;
    let doneBo = 0;
    let doneBi = 0;
    let donePo = 0;
    let donePi = 0;
    for (let t = firstMinute; t <= lastMinute; t += MINUTE) {
      const from = Math.max(t, start);
      const share = t === lastMinute ? 1 : (Math.min(t + MINUTE, end) - start) / span;
      const cumBo = Math.round(outB * share);
      const cumBi = Math.round(inB * share);
      const cumPo = Math.round(outP * share);
      const cumPi = Math.round(inP * share);
      const bo = cumBo - doneBo;
      const bi = cumBi - doneBi;
      const po = cumPo - donePo;
      const pi = cumPi - donePi;
      doneBo = cumBo;
      doneBi = cumBi;
      donePo = cumPo;
      donePi = cumPi;
      const eo = external ? bo : 0;
      const a = minuteAcc(m, t);
      a.bytesOut += bo;
      a.bytesIn += bi;
      a.packetsOut += po;
      a.packetsIn += pi;
      // The flow counts once, in its first minute.
      if (t === firstMinute) a.flows += 1;
      a.extOut += eo;
      const b = from >= ctx.openFrom ? bucketAt(m, from, bucketMs) : undefined;
      if (b) {
        b.bytesOut += bo;
        b.bytesIn += bi;
        b.packets += po + pi;
        if (t === firstMinute) b.flows += 1;
        b.extOut += eo;
        if (!controlOnly) b.peers.add(remote);
      } else ctx.late.count++;
    }
  }

  // Heartbeat: the longest gap between the device's sending, learned during the learning period.
  if (sent) {
    if (m.lastSent > 0 && start > m.lastSent && start < m.learnedAt) {
      const gap = start - m.lastSent;
      if (gap > m.maxSendGap) {
        m.maxSendGap = gap;
        m.reclassify = true;
      }
    }
    if (end > m.lastSent) {
      if (m.lastSent === 0) m.reclassify = true;
      m.lastSent = end;
    }
  }

  if (outB > 0 && external) {
    if (!m.external) m.external = new Map();
    contact(m.external, remote, start, end, dir === OUTBOUND ? service : lport, outB, outP);
  }
  if (ctx.isThreat(remote)) {
    if (!m.threats) m.threats = new Map();
    contact(m.threats, remote, start, end, service, outB + inB, outP + inP);
  }

  // Scans and lateral movement: what the device opened, counted within a flow-time window. A bare SYN
  // the device sent opened a conversation to the peer's port whatever the ports say (a scan from source
  // port 53 or 80 reaches ports above its own); then and when the device is the client, the probed
  // service is the peer's port.
  if (isSrc && proto === TCP && (dir === OUTBOUND || (r.tcpFlags & (SYN | ACK)) === SYN)) {
    // A probe: control-only and either never acknowledged anything or opened with a SYN.
    const probe = controlOnly && ((r.tcpFlags & ACK) === 0 || (r.tcpFlags & SYN) !== 0);
    const admin = internal && ADMIN_PORTS.has(rport);
    if (probe || admin) {
      // The window slides: events are stamped with their time and judged over spans at the end of the batch.
      let w = m.window;
      if (!w) {
        w = { start, probes: new Map(), admin: new Map(), reported: {}, dirty: true };
        m.window = w;
      } else if (start < w.start) w.start = start;
      if (probe) stampEvent(w.probes, remote, rport, start);
      if (admin) stampEvent(w.admin, remote, rport, start);
      w.dirty = true;
    }
  }

  if (controlOnly) return end;

  // Communication profile: host peers up to the cap, then peer groups.
  let peer: string;
  if (m.peers.has(remote) || m.peers.size < ctx.maxPeers) {
    peer = remote;
  } else {
    peer = peerGroupOf(remote, internal);
  }
  let e = m.profileByPeer.get(peer)?.get(profileSlot(service, proto, dir));
  if (!e) {
    const key = `${peer}|${service}|${proto}|${dir}`;
    const host = peer === remote;
    e = {
      key,
      peer: host ? (remote.includes(':') ? `${remote}/128` : `${remote}/32`) : peer,
      port: service,
      proto,
      dir,
      internal,
      flows: 0,
      bytesOut: 0,
      bytesIn: 0,
      packets: 0,
      first: start,
      last: end,
      dirty: true,
      stored: false,
      rateMinute: 0,
      rateBytes: 0,
    };
    addProfileEntry(m, peer, e);
    const newPeer = host && !m.peers.has(remote);
    if (host) m.peers.add(remote);
    m.reclassify = true;
    if (start >= m.learnedAt && m.stored) m.newEntries.push([e, newPeer]);
  }
  e.flows += 1;
  e.bytesOut += outB;
  e.bytesIn += inB;
  e.packets += outP + inP;
  if (start < e.first) e.first = start;
  if (end > e.last) e.last = end;
  e.dirty = true;
  // Bytes per flow-time minute: a flow spanning several minutes counts its average in its first one; a
  // record for a minute older than the newest seen (late) does not move the window.
  if (firstMinute >= e.rateMinute) {
    if (firstMinute > e.rateMinute) {
      e.rateMinute = firstMinute;
      e.rateBytes = 0;
    }
    e.rateBytes += (outB + inB) / ((lastMinute - firstMinute) / MINUTE + 1);
  }
  return end;
}

/** Records that `host` was reached on `port` at `t` (the latest time is kept). */
function stampEvent(events: Map<string, Map<number, number>>, host: string, port: number, t: number): void {
  let ports = events.get(host);
  if (!ports) {
    ports = new Map();
    events.set(host, ports);
  }
  const prev = ports.get(port);
  if (prev === undefined || t > prev) ports.set(port, t);
}

/** Adds one sample to a running mean/variance (Welford). */
export function addSample(s: Stat, x: number, at: number): void {
  s.n += 1;
  const d = x - s.mean;
  s.mean += d / s.n;
  s.m2 += d * (x - s.mean);
  s.last = at;
  s.dirty = true;
}

/** Standard deviation of a stat (0 with fewer than two samples). */
export function stddev(s: Stat): number {
  return s.n > 1 ? Math.sqrt(Math.max(0, s.m2 / (s.n - 1))) : 0;
}

function statOf(m: DeviceModel, metric: Metric, slot: number): Stat {
  const key = `${metric}|${slot}`;
  let s = m.stats.get(key);
  if (!s) {
    s = { n: 0, mean: 0, m2: 0, last: 0, dirty: true };
    m.stats.set(key, s);
  }
  return s;
}

/** The baseline to compare a bucket with: its hour-of-day slot when learned enough, else all hours. */
export function baselineFor(
  m: DeviceModel,
  metric: Metric,
  at: number,
  minSamples: number,
): Stat | undefined {
  const hour = new Date(at).getUTCHours();
  const slot = m.stats.get(`${metric}|${hour}`);
  if (slot && slot.n >= minSamples) return slot;
  const all = m.stats.get(`${metric}|${ALL_HOURS}`);
  return all && all.n >= minSamples ? all : undefined;
}

function fold(m: DeviceModel, b: Bucket): void {
  const hour = new Date(b.start).getUTCHours();
  const values: Record<Metric, number> = {
    bytes_out: b.bytesOut,
    bytes_in: b.bytesIn,
    packets: b.packets,
    flows: b.flows,
    peers: b.peers.size,
    ext_bytes_out: b.extOut,
  };
  for (const metric of METRICS) {
    addSample(statOf(m, metric, hour), values[metric], b.start);
    addSample(statOf(m, metric, ALL_HOURS), values[metric], b.start);
  }
}

/** Longest run of idle buckets folded as zeros in one go (a device back after a long absence). */
const MAX_IDLE_BUCKETS = 288;

/**
 * Folds every open bucket that ended at least `latenessMs` before `watermark` into the baselines, with
 * idle buckets in between as zeros. Returns the buckets folded.
 */
export function closeBuckets(
  m: DeviceModel,
  watermark: number,
  bucketMs: number,
  latenessMs: number,
): Bucket[] {
  const closed: Bucket[] = [];
  if (m.buckets.size === 0) return closed;
  const starts = [...m.buckets.keys()].sort((a, b) => a - b);
  for (const start of starts) {
    if (start + bucketMs + latenessMs > watermark) break;
    const b = m.buckets.get(start)!;
    if (m.baselineThrough > 0 && start > m.baselineThrough) {
      const idle = Math.min(MAX_IDLE_BUCKETS, Math.floor((start - m.baselineThrough) / bucketMs));
      for (let i = idle; i > 0; i--) {
        fold(m, {
          start: start - i * bucketMs,
          bytesOut: 0,
          bytesIn: 0,
          packets: 0,
          flows: 0,
          extOut: 0,
          peers: new Set(),
          reported: 0,
        });
      }
    }
    fold(m, b);
    m.buckets.delete(start);
    m.baselineThrough = start + bucketMs;
    closed.push(b);
  }
  return closed;
}

/** Minutes kept in {@link DeviceModel.rollupMinutes} (flow time moves on; older rows are rarely hit). */
const KEEP_ROLLUP_MINUTES = 16;

/** Clears the deltas after a commit (the absolute state stays). */
export function markCommitted(m: DeviceModel): void {
  m.stored = true;
  if (m.minutes.size > 0) {
    for (const minute of m.minutes.keys()) m.rollupMinutes.add(minute);
    if (m.rollupMinutes.size > KEEP_ROLLUP_MINUTES) {
      const keep = [...m.rollupMinutes].sort((a, b) => b - a).slice(0, KEEP_ROLLUP_MINUTES);
      m.rollupMinutes = new Set(keep);
    }
  }
  m.bytesSent = 0;
  m.packetsSent = 0;
  m.flowsSent = 0;
  m.bytesReceived = 0;
  m.packetsReceived = 0;
  m.flowsReceived = 0;
  m.minutes.clear();
  for (const e of m.profile.values()) {
    if (!e.dirty) continue;
    e.flows = 0;
    e.bytesOut = 0;
    e.bytesIn = 0;
    e.packets = 0;
    e.dirty = false;
    e.stored = true;
  }
  for (const s of m.stats.values()) s.dirty = false;
  if (m.window) m.window.dirty = false;
  m.newEntries.length = 0;
  m.external = undefined;
  m.threats = undefined;
  m.macs = undefined;
  m.reclassify = false;
  m.touched = false;
}
