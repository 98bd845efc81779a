import type { Severity } from '@wardwatch/flow-schema';
import { contactsOf, firstInternetContacts, neverSentOutside } from './class-free.ts';
import type { AnalyticsSettings } from './config.ts';
import { groupKnows, groupUsesInternet, isYoung, MIN_GROUP_MEMBERS, NOTHING_KNOWN } from './group-judge.ts';
import { type DeviceGroup, type GroupLabel, labelEvidence } from './grouping.ts';
import { baselineFor, closeBuckets, stddev } from './model/baselines.ts';
import {
  type DetectWindow,
  type DeviceModel,
  DIRECTION_NAMES,
  type ExternalContact,
  effectiveClass,
  INBOUND,
  type ProfileEntry,
} from './model/device-model.ts';
import { evaluatePolicy, type PolicySet } from './policies.ts';
import {
  enoughSightings,
  isNewInBatch,
  profileCoversNews,
  sampledFloorBytes,
  silenceEvidenceMs,
} from './sampling.ts';
import { type Classification, classify, type DeviceFeatures, type Signatures } from './signatures.ts';
import { densestSpan, dropBefore, hostTimes, newestEvent } from './sliding.ts';

// Detections over a device's model at the end of a batch. Each returns alert drafts; the store upserts
// them into `alerts` (one open alert per device and kind, updated with the newest evidence).

/** Alert kinds analytics raises. */
export type AlertKind =
  | 'new_peer'
  | 'new_service'
  | 'volume_spike'
  | 'port_scan'
  | 'host_scan'
  | 'lateral_movement'
  | 'exfiltration'
  | 'external_contact'
  | 'threat_intel'
  | 'policy_violation'
  | 'device_silent';

/** An alert to open or update. */
export interface AlertDraft {
  device: string;
  kind: AlertKind;
  severity: Severity;
  title: string;
  evidence: Record<string, unknown>;
  /** Flow time of the evidence. */
  first: number;
  last: number;
}

/**
 * A device whose quarantine a policy asks for. Analytics only asks: the policy service decides (exporter
 * trust, life-critical devices, the circuit breaker, dry run) and quarantines.
 */
export interface QuarantineRequest {
  device: string;
  policyId: number;
  reason: string;
  /** The exporters that reported the device's flows in this commit (the evidence's sources). */
  exporters: string[];
  /** The device's class is flagged `lifeCritical` in the signatures. */
  lifeCriticalClass: boolean;
  evidence: Record<string, unknown>;
}

/** Everything the end-of-batch step needs besides the model. */
export interface DetectEnv {
  settings: AnalyticsSettings;
  signatures: Signatures;
  policies: PolicySet;
  isInternal(addr: string): boolean;
  /** Newest flow time seen on the device's partition. */
  watermark: number;
  /** The label of the device's behaviour group, which wins over the signatures (`grouping.ts`). */
  groupLabelOf?: ((ip: string) => GroupLabel | undefined) | undefined;
  /** The device's behaviour group: new peers/services of a young device and exfiltration floors use it. */
  groupOf?: ((ip: string) => DeviceGroup | undefined) | undefined;
  /** The manufacturer of a MAC (the IEEE registry, `vendor.ts`); absent: none known. */
  manufacturerOf?: ((mac: string) => string | undefined) | undefined;
}

/** What the end-of-batch step found for one device. */
export interface DeviceOutcome {
  alerts: AlertDraft[];
  classification: Classification | undefined;
  quarantine: QuarantineRequest | undefined;
}

/** Samples a baseline needs before spikes are judged against it. */
export const MIN_BASELINE_SAMPLES = 6;
const SPIKE_SIGMAS = 6;
const SPIKE_FACTOR = 5;
const EXFIL_FACTOR = 10;
const REPORTED_SPIKE = 1;
const REPORTED_EXFIL = 2;
/** A device "sends continuously" when no gap was longer than this... */
const PERIODIC_MAX_GAP_MS = 120_000;
/** ...over at least this long. */
const PERIODIC_MIN_SPAN_MS = 300_000;

/** Whether a device sends continuously (a heartbeat), from its learned gaps. */
export function isPeriodic(m: Pick<DeviceModel, 'lastSent' | 'maxSendGap' | 'firstSeen'>): boolean {
  return (
    m.lastSent > 0 && m.maxSendGap <= PERIODIC_MAX_GAP_MS && m.lastSent - m.firstSeen >= PERIODIC_MIN_SPAN_MS
  );
}

/** Reduces a profile to the features signatures look at. */
export function featuresOf(m: DeviceModel, isPeriodicNow: boolean, manufacturer?: string): DeviceFeatures {
  const served = new Map<number, Map<number, Set<string>>>();
  const used = new Map<number, Map<number, Set<string>>>();
  const inPeers = new Set<string>();
  const outPeers = new Set<string>();
  let external = false;
  for (const e of m.profile.values()) {
    const table = e.dir === INBOUND ? served : used;
    let byProto = table.get(e.port);
    if (!byProto) {
      byProto = new Map();
      table.set(e.port, byProto);
    }
    let peers = byProto.get(e.proto);
    if (!peers) {
      peers = new Set();
      byProto.set(e.proto, peers);
    }
    peers.add(e.peer);
    (e.dir === INBOUND ? inPeers : outPeers).add(e.peer);
    if (!e.internal) external = true;
  }
  const count = (t: Map<number, Map<number, Set<string>>>) =>
    new Map([...t].map(([port, bp]) => [port, new Map([...bp].map(([p, s]) => [p, s.size]))]));
  return {
    served: count(served),
    used: count(used),
    fanIn: inPeers.size,
    fanOut: outPeers.size,
    external,
    periodic: isPeriodicNow,
    manufacturer,
  };
}

function topContacts(map: Map<string, ExternalContact>, n = 5) {
  return [...map]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, n)
    .map(([peer, c]) => ({ peer, bytes: c.bytes, packets: c.packets, ports: [...c.ports].slice(0, 10) }));
}

function span(map: Map<string, ExternalContact>): [number, number] {
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (const c of map.values()) {
    if (c.first < first) first = c.first;
    if (c.last > last) last = c.last;
  }
  return [first, last];
}

function entryView(e: ProfileEntry) {
  return { peer: e.peer, port: e.port, protocol: e.proto, direction: DIRECTION_NAMES[e.dir] };
}

/**
 * The end-of-batch step for one touched device: judges the open baseline buckets (volume spike,
 * exfiltration), folds the closed ones, reclassifies when the profile changed, and runs the scan,
 * lateral-movement, external-contact, threat-intel, new-peer/service and policy detections.
 */
export function finishDevice(m: DeviceModel, env: DetectEnv): DeviceOutcome {
  const s = env.settings;
  const alerts: AlertDraft[] = [];
  let classification: Classification | undefined;
  let quarantine: QuarantineRequest | undefined;

  if (m.reclassify) {
    const vendor = m.mac !== '' ? env.manufacturerOf?.(m.mac) : undefined;
    let c = classify(env.signatures, featuresOf(m, isPeriodic(m), vendor));
    // A labelled behaviour group gives its members its class (an analyst's device override still wins).
    const label = env.groupLabelOf?.(m.ip);
    if (label)
      c = {
        class: label.class,
        confidence: label.similarity,
        evidence: labelEvidence(label, label.similarity),
      };
    if (c.class !== m.inferredClass || Math.abs(c.confidence - m.classConfidence) > 0.001) {
      m.inferredClass = c.class;
      m.classConfidence = c.confidence;
      classification = c;
    }
  }
  const cls = effectiveClass(m);
  const sig = env.signatures.byClass.get(cls);
  const critical = sig?.criticality === 'critical';
  const policy = env.policies.resolve(m.ip, cls);
  const group = env.groupOf?.(m.ip);

  // Baseline judgements on the open buckets (learned devices only), before the closed ones are folded.
  // A sampled byte estimate must rest on a few full frames before it can make an alert (sampling.ts).
  const sampledFloor = sampledFloorBytes(m.samplingRate);
  for (const b of m.buckets.values()) {
    if (b.start < m.learnedAt) continue;
    const bo = baselineFor(m, 'bytes_out', b.start, MIN_BASELINE_SAMPLES);
    if (bo && (b.reported & REPORTED_SPIKE) === 0) {
      const limit = Math.max(
        s.spikeMinBytes,
        sampledFloor,
        bo.mean + SPIKE_SIGMAS * stddev(bo),
        SPIKE_FACTOR * bo.mean,
      );
      if (b.bytesOut > limit) {
        b.reported |= REPORTED_SPIKE;
        alerts.push({
          device: m.ip,
          kind: 'volume_spike',
          severity: critical ? 'high' : 'medium',
          title: `Sent ${b.bytesOut} bytes in ${s.bucketMs / 60_000} min, baseline ${Math.round(bo.mean)}`,
          evidence: {
            bucketStart: new Date(b.start).toISOString(),
            bytesOut: b.bytesOut,
            baselineMean: bo.mean,
            baselineStddev: stddev(bo),
            baselineSamples: bo.n,
            limit,
          },
          first: b.start,
          last: Math.min(b.start + s.bucketMs, m.lastSeen),
        });
      }
    }
    const eo = baselineFor(m, 'ext_bytes_out', b.start, MIN_BASELINE_SAMPLES);
    if (eo && (b.reported & REPORTED_EXFIL) === 0) {
      // A device that never sent anything outside has a floor far below the usual one (class-free.ts).
      // ...unless its behaviour group uses the internet (then its own short history says little).
      const quiet = neverSentOutside(m, MIN_BASELINE_SAMPLES) && !groupUsesInternet(group);
      const floor = Math.max(quiet ? s.exfilQuietMinBytes : s.exfilMinBytes, sampledFloor);
      const limit = Math.max(floor, eo.mean + SPIKE_SIGMAS * stddev(eo), EXFIL_FACTOR * eo.mean);
      if (b.extOut > limit) {
        b.reported |= REPORTED_EXFIL;
        alerts.push({
          device: m.ip,
          kind: 'exfiltration',
          severity: 'high',
          title: `Sent ${b.extOut} bytes to external peers in ${s.bucketMs / 60_000} min, baseline ${Math.round(eo.mean)}`,
          evidence: {
            bucketStart: new Date(b.start).toISOString(),
            externalBytesOut: b.extOut,
            baselineMean: eo.mean,
            baselineStddev: stddev(eo),
            baselineSamples: eo.n,
            limit,
            peers: m.external ? topContacts(m.external) : [],
          },
          first: b.start,
          last: Math.min(b.start + s.bucketMs, m.lastSeen),
        });
      }
    }
  }
  closeBuckets(m, env.watermark, s.bucketMs, s.latenessMs);

  // Scans and lateral movement (no baseline needed: they fire during learning too).
  if (m.window?.dirty) judgeWindow(m, m.window, s, alerts);
  if (m.window) slideWindow(m, m.window, s);

  // The internet, for a device whose class or policy says internal-only.
  const internalOnly = m.external !== undefined && (sig?.internalOnly || policy?.internalOnly) === true;
  if (m.external && internalOnly) {
    const [first, last] = span(m.external);
    alerts.push({
      device: m.ip,
      kind: 'external_contact',
      severity: critical ? 'critical' : 'high',
      title: `Internal-only ${cls} contacted ${m.external.size} external address(es)`,
      evidence: {
        class: cls,
        policy: policy?.internalOnly ? policy.name : undefined,
        peers: topContacts(m.external, 10),
      },
      first,
      last,
    });
  }

  // Something never seen is news only if the learnt profile covers the device's traffic (one learnt from
  // sampled flows is mostly single sightings) and, sampled, if more than a stray packet or two shows it:
  // else the "new" entry is as likely an old one that learning did not sample (sampling.ts).
  const covered = m.newEntries.length === 0 || profileCoversNews(m);

  // The internet for the first time, whatever the class: the learned profile had no internet peer.
  // A young device whose behaviour group uses the internet is not judged on its own thin profile.
  const groupInternet = isYoung(m, s) && groupUsesInternet(group);
  const firstContacts = internalOnly || groupInternet || !covered ? [] : firstInternetContacts(m);
  if (firstContacts.length > 0) {
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const e of firstContacts) {
      if (e.first < first) first = e.first;
      if (e.last > last) last = e.last;
    }
    alerts.push({
      device: m.ip,
      kind: 'external_contact',
      severity: critical ? 'critical' : 'high',
      title: `First contact with the internet after learning: ${firstContacts.length} external peer(s)`,
      evidence: { class: cls, learnedInternet: false, peers: contactsOf(m.external, firstContacts) },
      first,
      last,
    });
  }

  if (m.threats) {
    const [first, last] = span(m.threats);
    alerts.push({
      device: m.ip,
      kind: 'threat_intel',
      severity: critical ? 'critical' : 'high',
      title: `Contact with ${m.threats.size} address(es) on the threat-intelligence list`,
      evidence: { peers: topContacts(m.threats, 10) },
      first,
      last,
    });
  }

  // New peers and services after learning, for classes with a stable communication profile.
  if (m.newEntries.length > 0 && covered && (sig?.stablePeers || policy)) {
    const peers: ReturnType<typeof entryView>[] = [];
    const services: ReturnType<typeof entryView>[] = [];
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    // A young device's profile is thin: what its behaviour group shares is not new for it.
    const judgeByGroup = group !== undefined && group.members >= MIN_GROUP_MEMBERS && isYoung(m, s);
    for (const [e, newPeerOwn] of m.newEntries) {
      if (!enoughSightings(m, e)) continue;
      const byGroup = judgeByGroup ? groupKnows(group, e) : NOTHING_KNOWN;
      const newPeer = newPeerOwn && !byGroup.peer;
      let known = byGroup.service;
      for (const o of m.profile.values()) {
        if (known) break;
        if (o !== e && o.port === e.port && o.proto === e.proto && o.dir === e.dir && !isNewInBatch(m, o))
          known = true;
      }
      if (!newPeer && known) continue;
      if (e.first < first) first = e.first;
      if (e.last > last) last = e.last;
      if (newPeer) peers.push(entryView(e));
      if (!known) services.push(entryView(e));
    }
    if (peers.length > 0) {
      alerts.push({
        device: m.ip,
        kind: 'new_peer',
        severity: 'medium',
        title: `${peers.length} new peer(s) after learning`,
        evidence: { class: cls, peers: peers.slice(0, 20) },
        first,
        last,
      });
    }
    if (services.length > 0) {
      alerts.push({
        device: m.ip,
        kind: 'new_service',
        severity: 'medium',
        title: `${services.length} new service(s) after learning`,
        evidence: { class: cls, services: services.slice(0, 20) },
        first,
        last,
      });
    }
  }

  if (policy) {
    const violations = evaluatePolicy(env.policies, policy, m.profile.values());
    if (violations.length > 0) {
      let first = Number.POSITIVE_INFINITY;
      let last = 0;
      for (const e of m.profile.values()) {
        if (!e.dirty || e.flows === 0) continue;
        if (e.first < first) first = e.first;
        if (e.last > last) last = e.last;
      }
      alerts.push({
        device: m.ip,
        kind: 'policy_violation',
        severity: policy.action === 'quarantine' ? 'critical' : 'high',
        title: `${violations.length} flow(s) outside policy ${policy.name}`,
        evidence: { policy: policy.name, policyId: policy.id, violations: violations.slice(0, 20) },
        first: Number.isFinite(first) ? first : m.lastSeen,
        last: last || m.lastSeen,
      });
      if (policy.action === 'quarantine') {
        quarantine = {
          device: m.ip,
          policyId: policy.id,
          reason: `${violations.length} flow(s) outside policy ${policy.name}`,
          exporters: [...m.exporters],
          lifeCriticalClass: env.signatures.byClass.get(effectiveClass(m))?.lifeCritical === true,
          evidence: {
            policy: policy.name,
            violations: violations.slice(0, 20),
            first: Number.isFinite(first) ? first : m.lastSeen,
            last: last || m.lastSeen,
          },
        };
      }
    }
  }
  return { alerts, classification, quarantine };
}

/**
 * Raises host scan, port scan and lateral movement over the window's densest span of `scanWindow`, each
 * once per growth of its figure (the figure is forgotten once the events behind it slid out).
 */
function judgeWindow(m: DeviceModel, w: DetectWindow, s: AnalyticsSettings, alerts: AlertDraft[]): void {
  const W = s.scanWindowMs;
  const probed = hostTimes(w.probes);
  const hosts = densestSpan([...probed.values()], W);
  if (hosts.count >= s.scanThreshold && hosts.count > (w.reported.host_scan ?? 0)) {
    w.reported.host_scan = hosts.count;
    const inSpan = [...probed].filter(([, t]) => t >= hosts.from && t <= hosts.to).map(([h]) => h);
    const byPort = new Map<number, number>();
    for (const h of inSpan) for (const p of w.probes.get(h)!.keys()) byPort.set(p, (byPort.get(p) ?? 0) + 1);
    alerts.push({
      device: m.ip,
      kind: 'host_scan',
      severity: 'high',
      title: `Probed ${hosts.count} hosts within ${W / 1000} s`,
      evidence: {
        windowStart: new Date(hosts.from).toISOString(),
        hosts: hosts.count,
        sampleHosts: inSpan.slice(0, 20),
        ports: [...byPort].sort((a, b) => b[1] - a[1]).slice(0, 10),
      },
      first: hosts.from,
      last: hosts.to,
    });
  }
  for (const [host, ports] of w.probes) {
    if (ports.size < s.scanThreshold) continue;
    const span = densestSpan([...ports.values()], W);
    if (span.count >= s.scanThreshold && span.count > (w.reported.port_scan ?? 0)) {
      w.reported.port_scan = span.count;
      alerts.push({
        device: m.ip,
        kind: 'port_scan',
        severity: 'high',
        title: `Probed ${span.count} ports on ${host} within ${W / 1000} s`,
        evidence: {
          windowStart: new Date(span.from).toISOString(),
          target: host,
          ports: span.count,
          samplePorts: [...ports]
            .filter(([, t]) => t >= span.from && t <= span.to)
            .map(([p]) => p)
            .slice(0, 30),
        },
        first: span.from,
        last: span.to,
      });
    }
  }
  const reached = hostTimes(w.admin);
  const lateral = densestSpan([...reached.values()], W);
  if (lateral.count >= s.lateralThreshold && lateral.count > (w.reported.lateral_movement ?? 0)) {
    w.reported.lateral_movement = lateral.count;
    const inSpan = [...reached].filter(([, t]) => t >= lateral.from && t <= lateral.to).map(([h]) => h);
    const ports = new Set<number>();
    for (const h of inSpan) for (const p of w.admin.get(h)!.keys()) ports.add(p);
    alerts.push({
      device: m.ip,
      kind: 'lateral_movement',
      severity: 'high',
      title: `Reached ${lateral.count} internal hosts on administration ports within ${W / 1000} s`,
      evidence: {
        windowStart: new Date(lateral.from).toISOString(),
        hosts: lateral.count,
        sampleHosts: inSpan.slice(0, 20),
        ports: [...ports],
      },
      first: lateral.from,
      last: lateral.to,
    });
  }
}

/**
 * Slides the window after judging: drops the events a `scanWindow` older than the device's newest flow (they
 * can share no span with anything still to come), forgets a kind's reported figure once what is left is
 * under its threshold (a later scan is a new one), and removes the window when it is empty.
 */
function slideWindow(m: DeviceModel, w: DetectWindow, s: AnalyticsSettings): void {
  const cutoff = Math.max(newestEvent(w), m.lastSeen) - s.scanWindowMs;
  if (w.start > cutoff) return;
  const oldestProbe = dropBefore(w.probes, cutoff);
  const oldestAdmin = dropBefore(w.admin, cutoff);
  if (w.probes.size === 0 && w.admin.size === 0) {
    m.window = undefined;
    return;
  }
  w.start =
    oldestProbe === 0 ? oldestAdmin : oldestAdmin === 0 ? oldestProbe : Math.min(oldestProbe, oldestAdmin);
  if (w.probes.size < s.scanThreshold) delete w.reported.host_scan;
  let widest = 0;
  for (const ports of w.probes.values()) if (ports.size > widest) widest = ports.size;
  if (widest < s.scanThreshold) delete w.reported.port_scan;
  if (w.admin.size < s.lateralThreshold) delete w.reported.lateral_movement;
  w.dirty = true;
}

/**
 * `device_silent`: a device of a heartbeat class that sent continuously has sent nothing for longer
 * than `silenceAfter` (and three of its longest learned gaps, and, when its learnt sending was sampled,
 * the silence its sampled rate makes by chance less than 0.01 times a day: `sampling.ts`), counted after
 * the lateness allowance on its partition's flow time. For a patient monitor that is a safety event. The
 * heartbeat is a baseline (its longest gap is learned during the learning period, when any gap is
 * normal), so silence is judged once the partition's flow time has passed the device's learning period:
 * a silence that began during learning and still lasts then is reported then.
 */
export function checkSilence(m: DeviceModel, env: DetectEnv): AlertDraft | undefined {
  const s = env.settings;
  if (m.lastSent === 0 || !m.stored || m.silenceReported === m.lastSent) return undefined;
  if (env.watermark < m.learnedAt) return undefined;
  const cls = effectiveClass(m);
  const sig = env.signatures.byClass.get(cls);
  if (!sig?.heartbeat || !isPeriodic(m)) return undefined;
  const silentFor = env.watermark - m.lastSent;
  // A sampled heartbeat: the silence its learnt sampled rate makes by chance too rarely to matter.
  const sampled = silenceEvidenceMs(m);
  const limit = Math.max(s.silenceMs, 3 * m.maxSendGap, sampled) + s.latenessMs;
  if (!(silentFor > limit)) return undefined;
  m.silenceReported = m.lastSent;
  return {
    device: m.ip,
    kind: 'device_silent',
    severity: cls === 'patient_monitor' ? 'critical' : 'high',
    title: `${sig.title} silent for ${Math.round(silentFor / 1000)} s`,
    evidence: {
      class: cls,
      lastSent: new Date(m.lastSent).toISOString(),
      silentForMs: silentFor,
      longestLearnedGapMs: m.maxSendGap,
      ...(sampled > 0 ? { sampledSilenceMs: Math.round(sampled), learnedSamples: m.learnedSamples } : {}),
      safety: cls === 'patient_monitor' || cls === 'infusion_pump',
    },
    first: m.lastSent,
    last: env.watermark,
  };
}
