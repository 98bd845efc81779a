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

/** One (peer, service port, protocol, direction) of a device's communication profile. */
export interface ProfileEntry {
  key: string;
  peer: string;
  port: number;
  proto: number;
  dir: number;
  internal: boolean;
  /** Records behind the entry, all time (as exported: a sampled record counts once). */
  seen: number;
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
  /** Exporters that reported the device's flows since its last commit: the sources of its evidence. */
  exporters: Set<string>;
  inputIf: number;
  lastSent: number;
  maxSendGap: number;
  /** Sampled packets (as exported, unscaled) the device sent during learning; 0 when none was sampled. */
  learnedSamples: number;
  /** Sampling rate of the device's latest record (1: unsampled). */
  samplingRate: number;
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
    exporters: new Set(),
    inputIf: 0,
    lastSent: 0,
    maxSendGap: 0,
    learnedSamples: 0,
    samplingRate: 1,
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
  m.exporters.clear();
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
