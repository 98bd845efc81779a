// One decode shard: the decoder state of the exporters hashed to it, device routing, per-partition
// batching, template sharing and the per-exporter registry. Runs in a worker thread, or inline on the
// receive thread when no workers are configured; it touches no socket and no Kafka client.
import {
  createDecoderState,
  type DecodeResult,
  type DecoderOptions,
  type DecoderState,
  decodePacket,
  expireHeld,
  exportTemplates,
  type InterfaceCounters,
  importTemplates,
  type TemplateSnapshot,
} from '@wardwatch/flow-decoder';
import {
  createDeviceMatcher,
  type DeviceMatcher,
  type ExporterStatus,
  encodeExporterStatus,
  exporterKey,
  FlowBatchBuilder,
  type FlowRecord,
  type InterfaceHealth,
} from '@wardwatch/flow-schema';
import { partitionFor } from '@wardwatch/transport';

/** How an export packet arrived: 0 UDP, 1 TCP. */
export type Via = 0 | 1;
/** Arrived over UDP. */
export const VIA_UDP: Via = 0;
/** Arrived over TCP (IPFIX, RFC 7011 §10.4). */
export const VIA_TCP: Via = 1;

/** What a shard needs to know; plain data so it can cross into a worker. */
export interface ShardSettings {
  monitoredNetworks: readonly string[];
  /** Partitions of `flows-v1`, from the cluster's metadata. */
  partitions: number;
  /** Records per partition batch before it is emitted at once. */
  batchRecords: number;
  /** Longest a partial batch waits, ms. */
  lingerMs: number;
  /** How often exporter statuses are emitted, ms. */
  exporterReportMs: number;
  /** Names this collector instance in exporter statuses. */
  collectorId: string;
  /**
   * `collector.exporterAllowlist`: the receivers check datagram sources against it; the shard checks the
   * agent address an sFlow datagram names (so an allowed source cannot pose as any agent). Empty: all.
   */
  exporterAllowlist?: readonly string[];
  decoder?: DecoderOptions;
}

/** One encoded `FlowBatch` for one partition. */
export interface OutBatch {
  partition: number;
  /** A device of the batch (the first one). */
  key: string;
  value: Uint8Array;
  /** Records in the batch (one per device routing). */
  records: number;
}

/** A keyed value for a compacted topic; `null` is a tombstone. */
export interface KeyedValue {
  key: string;
  value: Uint8Array | null;
}

/** Counter increments since the previous output, plus a few current levels. */
export interface ShardStats {
  /** Export packets decoded, by version ('5', '9', '10', or the unsupported number). */
  packets: Record<string, number>;
  /** Packets with a decode fault, by lower-case code; records decoded before the fault are kept. */
  invalid: Record<string, number>;
  records: number;
  /** Records with no endpoint in the monitored networks (not published). */
  unmonitored: number;
  /** Record copies routed to a device's partition (a flow between two devices counts twice). */
  routed: number;
  templatesLearned: number;
  templatesWithdrawn: number;
  templatesRejected: number;
  unknownTemplateSets: number;
  setsHeld: number;
  heldRecordsReleased: number;
  heldSetsExpired: number;
  optionsRecords: number;
  sequenceResets: number;
  /** Sequence loss by exporter (its protocol's unit). */
  sequenceLost: Record<string, number>;
  /** sFlow datagrams lost, by agent. */
  datagramsLost: Record<string, number>;
  /** sFlow counter samples: the latest interface counters seen since the previous output. */
  interfaces: InterfaceCounters[];
  /** Levels (not increments). */
  templateCount: number;
  heldSets: number;
  exporters: number;
}

/** Everything a shard hands to the publishing side at once. */
export interface ShardOutput {
  batches: OutBatch[];
  templates: KeyedValue[];
  exporters: KeyedValue[];
  stats: ShardStats;
}

function createStats(): ShardStats {
  return {
    packets: {},
    invalid: {},
    records: 0,
    unmonitored: 0,
    routed: 0,
    templatesLearned: 0,
    templatesWithdrawn: 0,
    templatesRejected: 0,
    unknownTemplateSets: 0,
    setsHeld: 0,
    heldRecordsReleased: 0,
    heldSetsExpired: 0,
    optionsRecords: 0,
    sequenceResets: 0,
    sequenceLost: {},
    datagramsLost: {},
    interfaces: [],
    templateCount: 0,
    heldSets: 0,
    exporters: 0,
  };
}

interface ExporterEntry {
  /** Its key in the registry. */
  key: string;
  /** Neighbours in the recency list (`prev` seen less recently). */
  prev: ExporterEntry | undefined;
  next: ExporterEntry | undefined;
  exporter: string;
  domain: number;
  version: number;
  transports: Set<string>;
  packets: number;
  records: number;
  decodeErrors: number;
  sequenceLost: number;
  sequenceUnit: string;
  sequenceResets: number;
  samplingRate: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** sFlow only: datagram loss, and interface health by ifIndex (bounded). */
  datagramsLost: number;
  interfaces: Map<number, InterfaceHealth> | undefined;
  /** Records at the previous report, and when (for the rate). */
  reportedRecords: number;
  reportedMs: number;
  dirty: boolean;
}

/**
 * Exporters remembered per shard; past it the least recently seen is forgotten (a forged flood cannot
 * grow it, nor push out an exporter that keeps sending while the flood lasts).
 */
const MAX_EXPORTERS = 4096;
/** Interfaces remembered per sFlow agent and sub-agent (a chassis switch has a few hundred). */
const MAX_INTERFACES = 1024;
const TEXT = new TextEncoder();

/** The key of a template entry on `templates-v1`. */
export function templateKey(
  exporter: string,
  version: number,
  domain: number,
  id: number | 'sampling',
): string {
  return `${exporter}|${version}|${domain}|${id}`;
}

/**
 * The decoding half of the collector for a set of exporters. `ingest` decodes one export packet and
 * routes its records; `take` returns what is ready (full batches always; partial ones, templates and
 * exporter statuses when asked).
 */
export class DecodeShard {
  private readonly state: DecoderState;
  private readonly matcher: DeviceMatcher;
  private readonly allowedAgents: DeviceMatcher | undefined;
  /** One FlowBatch being built per partition: records are encoded as they are routed, not kept. */
  private readonly parts: FlowBatchBuilder[];
  private partialSince = 0;
  private batches: OutBatch[] = [];
  private stats = createStats();
  private readonly exporters = new Map<string, ExporterEntry>();
  /**
   * The same entries as a doubly linked list in order of their last packet: `lruHead` least recently
   * seen (evicted first), `lruTail` the latest. Moving an entry to the tail is a few pointer writes per
   * packet; re-inserting into the Map instead costs V8 a rehash of the whole table whenever it has no
   * free slot, which with 4 096 entries (a power of two) is every time: ~1.5 µs measured per packet.
   */
  private lruHead: ExporterEntry | undefined;
  private lruTail: ExporterEntry | undefined;
  private templatesDirty = false;
  /** What this shard last published (or imported and holds) per template key, as JSON text. */
  private readonly publishedTemplates = new Map<string, string>();
  /** Template keys the exporters withdrew since the last sync: the only ones this shard tombstones. */
  private readonly withdrawnTemplates = new Set<string>();
  /** Templates per `exporter|version|domain`, as of the last sync. */
  private readonly templateCounts = new Map<string, number>();

  constructor(private readonly settings: ShardSettings) {
    this.state = createDecoderState(settings.decoder);
    this.matcher = createDeviceMatcher(settings.monitoredNetworks);
    const allow = settings.exporterAllowlist ?? [];
    this.allowedAgents = allow.length > 0 ? createDeviceMatcher(allow) : undefined;
    const n = Math.max(1, settings.partitions);
    this.parts = Array.from({ length: n }, () => new FlowBatchBuilder());
  }

  /** Decodes one export packet from `exporter` and routes its records to device partitions. */
  ingest(buf: Uint8Array, exporter: string, receivedMs: number, via: Via): void {
    const result = decodePacket(buf, this.state, { exporter, receivedMs });
    const st = this.stats;
    const version = String(result.version);
    st.packets[version] = (st.packets[version] ?? 0) + 1;
    // sFlow names its agent and sub-agent in the datagram: that is the exporter, whatever the source.
    const agent = result.agent;
    if (
      agent !== undefined &&
      this.allowedAgents !== undefined &&
      !this.allowedAgents.isDevice(agent.address)
    ) {
      st.invalid.not_allowed = (st.invalid.not_allowed ?? 0) + 1;
      return;
    }
    const e =
      agent === undefined
        ? this.exporter(exporter, domainOf(buf, result.version), receivedMs)
        : this.exporter(agent.address, agent.subAgentId, receivedMs);
    e.packets++;
    e.lastSeenMs = receivedMs;
    e.version = result.version;
    e.dirty = true;
    e.transports.add(via === VIA_TCP ? 'tcp' : 'udp');
    if (!result.ok) {
      const code = result.error.code.toLowerCase();
      st.invalid[code] = (st.invalid[code] ?? 0) + 1;
      e.decodeErrors++;
    }
    this.account(result, e);
    if (result.counters !== undefined) this.interfaceCounters(result.counters, e);
    const withdrawn = result.withdrawn;
    if (withdrawn !== undefined) {
      for (let i = 0; i < withdrawn.length; i++)
        this.withdrawnTemplates.add(templateKey(exporter, result.version, e.domain, withdrawn[i]!));
    }
    const records = result.records;
    if (records.length === 0) return;
    st.records += records.length;
    e.records += records.length;
    const last = records[records.length - 1]!;
    e.samplingRate = last.samplingRate;
    for (let i = 0; i < records.length; i++) this.route(records[i]!, receivedMs);
  }

  private account(result: DecodeResult, e: ExporterEntry): void {
    const s = result.stats;
    const st = this.stats;
    st.templatesLearned += s.templatesLearned;
    st.templatesWithdrawn += s.templatesWithdrawn;
    st.templatesRejected += s.templatesRejected;
    st.unknownTemplateSets += s.unknownTemplateSets;
    st.setsHeld += s.setsHeld;
    st.heldRecordsReleased += s.heldRecordsReleased;
    st.heldSetsExpired += s.heldSetsExpired;
    st.optionsRecords += s.optionsRecords;
    st.sequenceResets += s.sequenceResets;
    e.sequenceResets += s.sequenceResets;
    e.sequenceUnit = s.sequenceUnit;
    if (s.sequenceLost > 0) {
      st.sequenceLost[e.exporter] = (st.sequenceLost[e.exporter] ?? 0) + s.sequenceLost;
      e.sequenceLost += s.sequenceLost;
    }
    if (s.datagramsLost > 0) {
      st.datagramsLost[e.exporter] = (st.datagramsLost[e.exporter] ?? 0) + s.datagramsLost;
      e.datagramsLost += s.datagramsLost;
    }
    if (s.templatesLearned > 0 || s.templatesWithdrawn > 0 || s.optionsRecords > 0)
      this.templatesDirty = true;
  }

  /** Keeps the latest counters of each interface of an sFlow agent, for its status and the metrics. */
  private interfaceCounters(counters: readonly InterfaceCounters[], e: ExporterEntry): void {
    e.interfaces ??= new Map();
    for (const c of counters) {
      if (!e.interfaces.has(c.ifIndex) && e.interfaces.size >= MAX_INTERFACES) continue;
      e.interfaces.set(c.ifIndex, {
        ifIndex: c.ifIndex,
        speed: c.ifSpeed,
        adminUp: c.adminUp,
        operUp: c.operUp,
        inOctets: c.inOctets,
        outOctets: c.outOctets,
        inErrors: c.inErrors,
        outErrors: c.outErrors,
        inDiscards: c.inDiscards,
        outDiscards: c.outDiscards,
        fcsErrors: c.fcsErrors,
        lastSeenMs: c.receivedMs,
      });
      this.stats.interfaces.push(c);
    }
  }

  private route(r: FlowRecord, nowMs: number): void {
    const src = this.matcher.isDevice(r.srcAddr);
    const dst = r.dstAddr !== r.srcAddr && this.matcher.isDevice(r.dstAddr);
    if (src) this.push(r.srcAddr, r, nowMs);
    if (dst) this.push(r.dstAddr, r, nowMs);
    if (!src && !dst) this.stats.unmonitored++;
  }

  private push(device: string, r: FlowRecord, nowMs: number): void {
    const p = partitionFor(device, this.parts.length);
    const part = this.parts[p]!;
    if (this.partialSince === 0) this.partialSince = nowMs;
    part.add(r, device);
    this.stats.routed++;
    if (part.count >= this.settings.batchRecords) this.emit(p);
  }

  private emit(p: number): void {
    const part = this.parts[p]!;
    if (part.count === 0) return;
    const records = part.count;
    const key = part.firstDevice;
    this.batches.push({ partition: p, key, value: part.finish(), records });
  }

  /** True when full batches wait to be taken. */
  hasBatches(): boolean {
    return this.batches.length > 0;
  }

  /** True when a partial batch has waited `lingerMs` by `nowMs`. */
  lingerDue(nowMs: number): boolean {
    return this.partialSince !== 0 && nowMs - this.partialSince >= this.settings.lingerMs;
  }

  /** Emits every partial batch. */
  emitPartial(): void {
    for (let p = 0; p < this.parts.length; p++) this.emit(p);
    this.partialSince = 0;
  }

  /** Expires held data sets by the clock (the decoder only expires them when packets arrive). */
  expire(nowMs: number): void {
    this.stats.heldSetsExpired += expireHeld(this.state, nowMs);
  }

  /** True when templates or sampler state changed since the last sync. */
  templatesChanged(): boolean {
    return this.templatesDirty;
  }

  /**
   * Diffs the template state against what was last published and returns the changes: one entry
   * per (exporter, version, domain, template) and one per session's sampler state, and tombstones
   * for the templates an exporter withdrew. An entry that left the state otherwise (its session
   * evicted under the decoder's memory bounds) is only forgotten here: `templates-v1` is shared, so
   * the entry stays for the other collectors and the next start (the exporter still uses it).
   */
  syncTemplates(): KeyedValue[] {
    this.templatesDirty = false;
    const current = new Map<string, string>();
    for (const s of exportTemplates(this.state).sessions) {
      const base = { exporter: s.exporter, version: s.version, domain: s.domain };
      for (const t of s.templates) {
        current.set(
          templateKey(s.exporter, s.version, s.domain, t[0]),
          snapshotText({ ...base, templates: [t], samplers: [], defaultRate: 0, sysInitMs: null }),
        );
      }
      if (s.samplers.length > 0 || s.defaultRate > 0 || s.sysInitMs !== null) {
        current.set(
          templateKey(s.exporter, s.version, s.domain, 'sampling'),
          snapshotText({
            ...base,
            templates: [],
            samplers: s.samplers,
            defaultRate: s.defaultRate,
            sysInitMs: s.sysInitMs,
          }),
        );
      }
    }
    const out: KeyedValue[] = [];
    for (const [key, text] of current) {
      if (this.publishedTemplates.get(key) !== text) {
        out.push({ key, value: TEXT.encode(text) });
        this.publishedTemplates.set(key, text);
      }
    }
    for (const key of this.publishedTemplates.keys()) {
      if (!current.has(key)) this.publishedTemplates.delete(key);
    }
    // Withdrawn and not re-announced since: tombstoned even when this shard never published the entry
    // (learned and withdrawn between two syncs, or evicted here before), as it is obsolete for all.
    for (const key of this.withdrawnTemplates) {
      if (!current.has(key)) out.push({ key, value: null });
    }
    this.withdrawnTemplates.clear();
    this.countTemplates();
    return out;
  }

  /** Imports template entries read from `templates-v1` (values as JSON text); returns counts. */
  importTemplates(entries: readonly { key: string; text: string }[]): { imported: number; rejected: number } {
    let imported = 0;
    let rejected = 0;
    for (const { key, text } of entries) {
      let snap: unknown;
      try {
        snap = JSON.parse(text);
      } catch {
        rejected++;
        continue;
      }
      const r = importTemplates(this.state, snap);
      imported += r.imported;
      rejected += r.rejected;
      // Only what the decoder now holds is this shard's to diff against: an entry it refused (over
      // its limits, or invalid) is not in its state, and recording it would tombstone it at the
      // next sync, deleting it for every collector.
      if (r.rejected === 0) this.publishedTemplates.set(key, text);
    }
    this.countTemplates();
    return { imported, rejected };
  }

  private countTemplates(): void {
    this.templateCounts.clear();
    for (const key of this.publishedTemplates.keys()) {
      const cut = key.lastIndexOf('|');
      if (key.endsWith('|sampling')) continue;
      const session = key.slice(0, cut);
      this.templateCounts.set(session, (this.templateCounts.get(session) ?? 0) + 1);
    }
  }

  /** Statuses of the exporters seen since the last report. */
  reportExporters(nowMs: number): KeyedValue[] {
    const out: KeyedValue[] = [];
    for (const e of this.exporters.values()) {
      if (!e.dirty) continue;
      e.dirty = false;
      const seconds = (nowMs - e.reportedMs) / 1000;
      const status: ExporterStatus = {
        format: 'wardwatch-exporter',
        formatVersion: 1,
        exporter: e.exporter,
        observationDomain: e.domain,
        version: e.version,
        collector: this.settings.collectorId,
        transports: [...e.transports].sort(),
        packets: e.packets,
        records: e.records,
        decodeErrors: e.decodeErrors,
        templates: this.templateCounts.get(`${e.exporter}|${e.version}|${e.domain}`) ?? 0,
        sequenceLost: e.sequenceLost,
        sequenceUnit: e.sequenceUnit,
        sequenceResets: e.sequenceResets,
        samplingRate: e.samplingRate,
        recordsPerSecond:
          seconds > 0 ? Math.round(((e.records - e.reportedRecords) / seconds) * 100) / 100 : 0,
        firstSeenMs: e.firstSeenMs,
        lastSeenMs: e.lastSeenMs,
        reportedMs: nowMs,
      };
      if (e.interfaces !== undefined || e.datagramsLost > 0 || e.sequenceUnit === 'samples') {
        status.datagramsLost = e.datagramsLost;
        status.interfaces = [...(e.interfaces?.values() ?? [])].sort((a, b) => a.ifIndex - b.ifIndex);
      }
      e.reportedRecords = e.records;
      e.reportedMs = nowMs;
      out.push({ key: exporterKey(e.exporter, e.domain), value: encodeExporterStatus(status) });
    }
    return out;
  }

  /** Takes the batches ready now and the counters since the last take. */
  take(extra: { templates?: KeyedValue[]; exporters?: KeyedValue[] } = {}): ShardOutput {
    const stats = this.stats;
    stats.templateCount = this.state.templateCount;
    stats.heldSets = this.state.held.length;
    stats.exporters = this.exporters.size;
    const out: ShardOutput = {
      batches: this.batches,
      templates: extra.templates ?? [],
      exporters: extra.exporters ?? [],
      stats,
    };
    this.batches = [];
    this.stats = createStats();
    return out;
  }

  private exporter(address: string, domain: number, nowMs: number): ExporterEntry {
    const key = exporterKey(address, domain);
    let e = this.exporters.get(key);
    if (e !== undefined) {
      if (e !== this.lruTail) {
        this.unlink(e);
        this.append(e);
      }
      return e;
    }
    if (this.exporters.size >= MAX_EXPORTERS) {
      const oldest = this.lruHead!;
      this.unlink(oldest);
      this.exporters.delete(oldest.key);
    }
    e = {
      key,
      prev: undefined,
      next: undefined,
      exporter: address,
      domain,
      version: 0,
      transports: new Set(),
      packets: 0,
      records: 0,
      decodeErrors: 0,
      sequenceLost: 0,
      sequenceUnit: 'packets',
      sequenceResets: 0,
      samplingRate: 1,
      firstSeenMs: nowMs,
      lastSeenMs: nowMs,
      datagramsLost: 0,
      interfaces: undefined,
      reportedRecords: 0,
      reportedMs: nowMs,
      dirty: true,
    };
    this.exporters.set(key, e);
    this.append(e);
    return e;
  }

  private unlink(e: ExporterEntry): void {
    if (e.prev === undefined) this.lruHead = e.next;
    else e.prev.next = e.next;
    if (e.next === undefined) this.lruTail = e.prev;
    else e.next.prev = e.prev;
    e.prev = undefined;
    e.next = undefined;
  }

  private append(e: ExporterEntry): void {
    e.prev = this.lruTail;
    if (this.lruTail === undefined) this.lruHead = e;
    else this.lruTail.next = e;
    this.lruTail = e;
  }
}

/** The observation domain in an export packet's header (v5: engine type and id), 0 when too short. */
function domainOf(b: Uint8Array, version: number): number {
  if (version === 5 && b.length >= 22) return (b[20]! << 8) | b[21]!;
  if (version === 9 && b.length >= 20)
    return ((b[16]! << 24) | (b[17]! << 16) | (b[18]! << 8) | b[19]!) >>> 0;
  if (version === 10 && b.length >= 16)
    return ((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0;
  return 0;
}

function snapshotText(session: TemplateSnapshot['sessions'][number]): string {
  const snap: TemplateSnapshot = {
    format: 'wardwatch-decoder-templates',
    formatVersion: 1,
    sessions: [session],
  };
  return JSON.stringify(snap);
}
