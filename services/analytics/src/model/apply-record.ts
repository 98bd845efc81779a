import type { FlowRecord } from '@wardwatch/flow-schema';
import { isSpecial, peerGroupOf } from './addresses.ts';
import { bucketAt } from './baselines.ts';
import {
  ADMIN_PORTS,
  type ApplyContext,
  type DeviceModel,
  type ExternalContact,
  INBOUND,
  type MinuteAcc,
  OUTBOUND,
} from './device-model.ts';
import { addProfileEntry, profileSlot } from './profile.ts';

// Applying one flow record to a device's model (the hot path: no closures, no JSON, no allocation per
// record beyond new map entries). `applyRecord` reads the record once into a reused view, then each
// step adds its part: inventory, minute rollups and baseline buckets, heartbeat, contacts, scan
// windows, profile.

const TCP = 6;
const SYN = 0x02;
const ACK = 0x10;
const MINUTE = 60_000;

/** One record as seen from the device: filled by {@link readRecord}, reused for every record. */
interface RecordView {
  isSrc: boolean;
  remote: string;
  lport: number;
  rport: number;
  outB: number;
  outP: number;
  /** Packets the device sent as exported (before the sampling rate scales them). */
  outPExported: number;
  /** The record's sampling rate (1: unsampled). */
  rate: number;
  inB: number;
  inP: number;
  start: number;
  end: number;
  internal: boolean;
  external: boolean;
  /** Who opened the conversation ({@link OUTBOUND}: the device) and the service port (0: none). */
  dir: number;
  service: number;
  proto: number;
  /** Control-only TCP (a handshake, a reset, a probe): not a conversation. */
  controlOnly: boolean;
  firstMinute: number;
  lastMinute: number;
}

const view: RecordView = {
  isSrc: false,
  remote: '',
  lport: 0,
  rport: 0,
  outB: 0,
  outP: 0,
  outPExported: 0,
  rate: 1,
  inB: 0,
  inP: 0,
  start: 0,
  end: 0,
  internal: false,
  external: false,
  dir: OUTBOUND,
  service: 0,
  proto: 0,
  controlOnly: false,
  firstMinute: 0,
  lastMinute: 0,
};

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
  const v = view;
  readRecord(v, r, isSrc, ctx);
  m.touched = true;
  m.samplingRate = v.rate;
  addInventory(m, r, v, ctx);
  addTraffic(m, v, ctx, bucketMs);
  addHeartbeat(m, v);
  addContacts(m, v, ctx);
  addScanEvents(m, r, v);
  if (!v.controlOnly) addToProfile(m, v, ctx);
  return v.end;
}

/** Fills the view of record `r` as seen from the device (its source when `isSrc`). */
function readRecord(v: RecordView, r: FlowRecord, isSrc: boolean, ctx: ApplyContext): void {
  v.isSrc = isSrc;
  v.remote = isSrc ? r.dstAddr : r.srcAddr;
  v.lport = isSrc ? r.srcPort : r.dstPort;
  v.rport = isSrc ? r.dstPort : r.srcPort;
  // Counters arrive as exported (the collector does not scale them): a sampled record stands for
  // `samplingRate` times what it counts.
  const k = Math.max(1, r.samplingRate);
  const fwdB = k === 1 ? r.bytes : Math.round(r.bytes * k);
  const fwdP = k === 1 ? r.packets : Math.round(r.packets * k);
  const revB = k === 1 ? r.reverseBytes : Math.round(r.reverseBytes * k);
  const revP = k === 1 ? r.reversePackets : Math.round(r.reversePackets * k);
  v.outB = isSrc ? fwdB : revB;
  v.outP = isSrc ? fwdP : revP;
  v.outPExported = isSrc ? r.packets : r.reversePackets;
  v.rate = k;
  v.inB = isSrc ? revB : fwdB;
  v.inP = isSrc ? revP : fwdP;
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
  v.start = start;
  v.end = end;
  v.internal = ctx.isInternal(v.remote);
  v.external = !v.internal && !isSpecial(v.remote);

  // Which side serves: a known service port wins, then the lower port; ICMP and others have none.
  const proto = r.protocol;
  v.proto = proto;
  const lport = v.lport;
  const rport = v.rport;
  if (proto === 6 || proto === 17 || proto === 132) {
    const lk = ctx.servicePorts.has(lport);
    const rk = ctx.servicePorts.has(rport);
    if (rk && !lk) {
      v.dir = OUTBOUND;
      v.service = rport;
    } else if (lk && !rk) {
      v.dir = INBOUND;
      v.service = lport;
    } else if (rport < lport || (rport === lport && isSrc)) {
      v.dir = OUTBOUND;
      v.service = rport;
    } else {
      v.dir = INBOUND;
      v.service = lport;
    }
  } else {
    v.dir = isSrc ? OUTBOUND : INBOUND;
    v.service = 0;
  }
  // Control-only TCP (a handshake, a reset, a probe) is not a conversation: it feeds scan detection and
  // the counters, never the profile. Judged on what the exporter counted (before sampling scales it).
  const totalP = r.packets + r.reversePackets;
  v.controlOnly = proto === TCP && totalP <= 3 && r.bytes + r.reverseBytes <= 64 * totalP;
  v.firstMinute = start - (start % MINUTE);
  // A flow ending exactly on a minute boundary does not reach into the next minute.
  v.lastMinute = end > start ? end - 1 - ((end - 1) % MINUTE) : v.firstMinute;
}

/** Inventory: first/last seen, learning period, sent and received counters, MAC, VLAN, exporter. */
function addInventory(m: DeviceModel, r: FlowRecord, v: RecordView, ctx: ApplyContext): void {
  const { start, end, isSrc } = v;
  // The device as sender when it is the source; RFC 5103 reverse counters are the other way.
  // Some exporters count bytes only (no packet counter): bytes alone prove sending too.
  if (m.firstSeen === 0 || start < m.firstSeen) {
    // Learning runs from the open buckets at the earliest: a stray old record does not end it early.
    const learnFrom = Math.max(start, ctx.openFrom);
    if (m.firstSeen === 0 || learnFrom + ctx.learningMs < m.learnedAt)
      m.learnedAt = learnFrom + ctx.learningMs;
    m.firstSeen = start;
  }
  if (end > m.lastSeen) m.lastSeen = end;
  if (v.outP > 0 || v.outB > 0) {
    m.bytesSent += v.outB;
    m.packetsSent += v.outP;
    m.flowsSent += 1;
  }
  if (v.inP > 0 || (!isSrc && v.inB > 0)) {
    m.bytesReceived += v.inB;
    m.packetsReceived += v.inP;
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
  if (r.exporter !== '') {
    m.exporter = r.exporter;
    // Bounded: past 16 sources, '*' stands for "too many to name" (never a trusted exporter).
    if (m.exporters.size < 16) m.exporters.add(r.exporter);
    else m.exporters.add('*');
  }
}

function minuteAcc(m: DeviceModel, minute: number): MinuteAcc {
  let a = m.minutes.get(minute);
  if (!a) {
    a = { bytesOut: 0, bytesIn: 0, packetsOut: 0, packetsIn: 0, flows: 0, extOut: 0 };
    m.minutes.set(minute, a);
  }
  return a;
}

/** Minute rollups and baseline buckets, flow time; long flows spread evenly over their minutes. */
function addTraffic(m: DeviceModel, v: RecordView, ctx: ApplyContext, bucketMs: number): void {
  const { start, end, outB, inB, outP, inP, firstMinute, lastMinute } = v;
  const extOut = v.external ? outB : 0;
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
      if (!v.controlOnly) b.peers.add(v.remote);
    } else ctx.late.count++;
    return;
  }
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
    const eo = v.external ? bo : 0;
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
      if (!v.controlOnly) b.peers.add(v.remote);
    } else ctx.late.count++;
  }
}

/** Heartbeat: the longest gap between the device's sending, learned during the learning period. */
function addHeartbeat(m: DeviceModel, v: RecordView): void {
  if (!(v.outP > 0 || v.outB > 0)) return;
  const { start, end } = v;
  // A sampled heartbeat's gaps are the sampling's: its learnt sampled packets judge its silence (sampling.ts).
  if (v.rate > 1 && start < m.learnedAt) m.learnedSamples += Math.max(1, v.outPExported);
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

/** The batch's outbound traffic to external peers, and contacts with threat-intel addresses. */
function addContacts(m: DeviceModel, v: RecordView, ctx: ApplyContext): void {
  const { remote, start, end } = v;
  if (v.outB > 0 && v.external) {
    if (!m.external) m.external = new Map();
    contact(m.external, remote, start, end, v.dir === OUTBOUND ? v.service : v.lport, v.outB, v.outP);
  }
  if (ctx.isThreat(remote)) {
    if (!m.threats) m.threats = new Map();
    contact(m.threats, remote, start, end, v.service, v.outB + v.inB, v.outP + v.inP);
  }
}

/**
 * Scans and lateral movement: what the device opened, counted within a flow-time window. A bare SYN
 * the device sent opened a conversation to the peer's port whatever the ports say (a scan from source
 * port 53 or 80 reaches ports above its own); then and when the device is the client, the probed
 * service is the peer's port.
 */
function addScanEvents(m: DeviceModel, r: FlowRecord, v: RecordView): void {
  if (!(v.isSrc && r.protocol === TCP && (v.dir === OUTBOUND || (r.tcpFlags & (SYN | ACK)) === SYN))) return;
  // A probe: control-only and either never acknowledged anything or opened with a SYN.
  const probe = v.controlOnly && ((r.tcpFlags & ACK) === 0 || (r.tcpFlags & SYN) !== 0);
  const admin = v.internal && ADMIN_PORTS.has(v.rport);
  if (!probe && !admin) return;
  const { start, remote, rport } = v;
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

/** Communication profile: host peers up to the cap, then peer groups. */
function addToProfile(m: DeviceModel, v: RecordView, ctx: ApplyContext): void {
  const { remote, start, end, service, dir, firstMinute, lastMinute } = v;
  const proto = v.proto;
  const peer = m.peers.has(remote) || m.peers.size < ctx.maxPeers ? remote : peerGroupOf(remote, v.internal);
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
      internal: v.internal,
      flows: 0,
      bytesOut: 0,
      bytesIn: 0,
      packets: 0,
      seen: 0,
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
  e.seen += 1;
  e.flows += 1;
  e.bytesOut += v.outB;
  e.bytesIn += v.inB;
  e.packets += v.outP + v.inP;
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
    e.rateBytes += (v.outB + v.inB) / ((lastMinute - firstMinute) / MINUTE + 1);
  }
}
