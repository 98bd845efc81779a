// Analytics: consumes flow records as a consumer group into the device inventory, classification,
// behaviour models (profiles, baselines, rollups) and alerts, exactly once (models and offsets commit together).
import type { Server } from 'node:http';
import type { WardwatchConfig } from '@wardwatch/config';
import {
  createDeviceMatcher,
  decodeFlowBatch,
  type FlowBatch,
  type FlowRecord,
  Topics,
} from '@wardwatch/flow-schema';
import { type Database, withTransaction } from '@wardwatch/storage';
import {
  createRateLimitedLog,
  type Logger,
  type Registry,
  startOpsServer,
  traceConsume,
} from '@wardwatch/telemetry';
import type { ConsumedBatch, Subscriber, Transport } from '@wardwatch/transport';
import { type AnalyticsSettings, analyticsSettings } from './config.ts';
import {
  type AlertDraft,
  checkSilence,
  type DetectEnv,
  finishDevice,
  type QuarantineRequest,
} from './detect.ts';
import { applyLabels, createGroupingJob, type RegroupResult } from './grouping.ts';
import { createAnalyticsMetrics } from './metrics.ts';
import {
  type ApplyContext,
  applyRecord,
  createDeviceModel,
  type DeviceModel,
  effectiveClass,
  markCommitted,
  openBucketsFrom,
} from './model.ts';
import { loadPolicies, NO_POLICIES, type PolicySet } from './policies.ts';
import { type Classification, loadSignatures, type Signatures } from './signatures.ts';
import {
  type BatchPlan,
  commitOffset,
  FencedError,
  loadModels,
  loadOffsets,
  planBatch,
  runPlan,
  type StoredOffset,
} from './store.ts';
import { createThreatIntel, type ThreatIntel, type ThreatIntelLoad } from './threat-intel.ts';
import { createManufacturers } from './vendor.ts';

export { type AnalyticsSettings, analyticsSettings, parseDuration } from './config.ts';
export type { AlertDraft, AlertKind, Severity } from './detect.ts';
export {
  BUILTIN_SIGNATURES,
  type Classification,
  type ClassSignature,
  classify,
  type DeviceFeatures,
  loadSignatures,
  SignatureError,
  type Signatures,
} from './signatures.ts';
export {
  createThreatIntel,
  parseThreatIntel,
  type ThreatIntel,
  type ThreatIntelLoad,
} from './threat-intel.ts';

/** What an analytics worker needs from its assembly. */
export interface AnalyticsDeps {
  config: WardwatchConfig;
  transport: Transport;
  db: Database;
  logger: Logger;
  registry: Registry;
}

/** What a reload found. */
export interface ReloadResult {
  policies: number;
  threatIntel: ThreatIntelLoad;
}

/** A running analytics worker. */
export interface Analytics {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Applies one batch (exposed for tests and benchmarks; the subscriber calls it). */
  handle(batch: ConsumedBatch): Promise<void>;
  /** Commits what is applied and not yet committed, now (a commit is otherwise due after `analytics.commitInterval`). */
  flush(): Promise<void>;
  /** Re-reads policies, class overrides and the threat-intel list now (they are also re-read periodically). */
  reload(): Promise<ReloadResult>;
  /** Counts since start: records applied, records skipped as unusable, batches committed. */
  counts(): AnalyticsCounts;
  /** Regroups the devices by behaviour now (it also runs every `analytics.groupInterval`); issue 17. */
  regroup(): Promise<RegroupResult>;
}

/** What {@link Analytics.counts} reports. */
export interface AnalyticsCounts {
  records: number;
  skipped: number;
  batches: number;
  duplicates: number;
}

const CRITICALITY_RISK: Record<string, number> = { low: 5, medium: 10, high: 15, critical: 20 };

interface PartitionState {
  /** Next offset to consume as stored (-1: nothing stored yet). */
  next: bigint;
  /** Next offset as the last planned write stores it (ahead of `next` while that write runs). */
  planned: bigint;
  /** Next offset to consume as applied in memory (ahead of `next` while a group is open). */
  applied: bigint;
  /** Newest flow time seen, applied in memory. */
  watermark: number;
}

/** A partition's state as its stored offset says (nothing stored: nothing applied yet). */
function stateFrom(stored: StoredOffset | undefined): PartitionState {
  const next = stored ? stored.nextOffset : -1n;
  return { next, planned: next, applied: next, watermark: stored ? stored.watermark : 0 };
}

/** Creates an analytics worker; it joins the consumer group on `start()`. Throws SignatureError on bad signatures. */
export function createAnalytics(deps: AnalyticsDeps): Analytics {
  const { config, transport, db, logger } = deps;
  const settings: AnalyticsSettings = analyticsSettings(config);
  const metrics = createAnalyticsMetrics(deps.registry);
  const badMessage = createRateLimitedLog((f, m) => logger.warn(f, m));
  const signatures: Signatures = loadSignatures(settings.signaturesFile);
  const threatIntel: ThreatIntel = createThreatIntel(settings.threatIntelFile);
  const manufacturers = createManufacturers(settings.ouiFiles); // issue 17: vendor.ts
  const grouping = createGroupingJob(db.pool, { intervalMs: settings.groupMs }); // issue 17: grouping.ts
  const matcher = createDeviceMatcher(settings.monitoredNetworks);
  const isInternal = (addr: string) => matcher.isDevice(addr);
  // Offsets are stored with the models only on Kafka: the in-process bus restarts from zero every run.
  const exactlyOnce = transport.kind === 'kafka';
  // On Kafka a commit spans several fetches (a device's rows are written once for many of its records):
  // the handler returns before its records are committed, and the stored offsets say where to read again
  // after a failure. The in-process bus commits every batch before it returns.
  const spanFetches = exactlyOnce && settings.commitMs > 0;
  const topic = Topics.flows;

  const models = new Map<string, DeviceModel>();
  /** Addresses known not to be devices (never sent): no need to look them up again (bounded). */
  const notDevices = new Set<string>();
  const MAX_NOT_DEVICES = 100_000;
  const partitions = new Map<number, PartitionState>();
  /** Partitions this member owns (the latest assignment). */
  let owned: number[] = [];
  /**
   * Partitions sought back to their stored offset (-1: the earliest kept), until a batch from there
   * arrives: batches fetched before the seek are skipped.
   */
  const rewinding = new Map<number, { target: bigint; skipped: number }>();
  /** Applied, uncommitted work was dropped: the owned partitions must be read again from their stored offsets. */
  let needRewind = false;
  let policies: PolicySet = NO_POLICIES;
  let quarantinesTable = false;
  let quarantinesChecked = false;
  let subscriber: Subscriber | undefined;
  let timer: NodeJS.Timeout | undefined;
  let commitTimer: NodeJS.Timeout | undefined;
  let ops: Server | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const late = { count: 0 };
  const clamped = { count: 0 };
  const counts: AnalyticsCounts = { records: 0, skipped: 0, batches: 0, duplicates: 0 };
  const ctx: ApplyContext = {
    isInternal,
    servicePorts: signatures.servicePorts,
    maxPeers: settings.maxProfilePeers,
    learningMs: settings.learningMs,
    scanWindowMs: settings.scanWindowMs,
    isThreat: (addr) => threatIntel.matches(addr),
    late,
    maxSkewMs: settings.maxSkewMs,
    clamped,
    openFrom: 0,
  };

  /** Runs `fn` after everything queued before it (batches, assignments and reloads never interleave). */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  }

  /** Forgets every cached model and offset: after a failed write or a rebalance the database is the truth. */
  function dropCaches(): void {
    epoch++;
    models.clear();
    notDevices.clear();
    partitions.clear();
    metrics.models.set(0);
  }

  async function partitionState(p: number): Promise<PartitionState> {
    let st = partitions.get(p);
    if (!st) {
      st = stateFrom(
        exactlyOnce ? (await loadOffsets(db.pool, settings.groupId, topic, [p])).get(p) : undefined,
      );
      partitions.set(p, st);
    }
    return st;
  }

  function applyOverrides(): void {
    for (const m of models.values()) m.classOverride = policies.overrides.get(m.ip) ?? null;
  }

  async function reload(): Promise<ReloadResult> {
    if (!quarantinesChecked) {
      // The policy service's quarantine history, when its migration is present.
      const q = await db.pool.query<{ t: string | null }>(`SELECT to_regclass('quarantines')::text AS t`);
      quarantinesTable = q.rows[0]?.t != null;
      quarantinesChecked = true;
    }
    const ti = threatIntel.reload();
    if (ti.status === 'loaded') {
      metrics.reloads.inc({ what: 'threat_intel', outcome: 'loaded' });
      logger.info({ entries: ti.entries, invalid: ti.invalid.length }, 'threat-intelligence list loaded');
      if (ti.invalid.length > 0)
        logger.warn({ lines: ti.invalid.slice(0, 10) }, 'threat-intel lines ignored');
    } else if (ti.status === 'failed') {
      metrics.reloads.inc({ what: 'threat_intel', outcome: 'failed' });
      logger.warn({ error: ti.error }, 'threat-intelligence list not reloaded; keeping the previous one');
    }
    try {
      const next = await loadPolicies(db.pool);
      await serial(async () => {
        policies = next;
        applyOverrides();
      });
      metrics.reloads.inc({ what: 'policies', outcome: 'loaded' });
    } catch (err) {
      metrics.reloads.inc({ what: 'policies', outcome: 'failed' });
      logger.warn({ err }, 'policies not reloaded; keeping the previous ones');
    }
    await regroup(false).catch((err) => logger.warn({ err }, 'behaviour groups not updated')); // issue 17
    return { policies: policies.size(), threatIntel: ti };
  }

  /** Runs the grouping job (when due, or `force`) and gives cached models their group labels. */
  async function regroup(force: boolean): Promise<RegroupResult> {
    const r = await grouping.run({ force });
    if (!r.ran) await grouping.loadLabels();
    await serial(async () => applyLabels(models.values(), grouping));
    return r;
  }

  async function onAssign(assigned: number[]): Promise<Map<number, string>> {
    return serial(async () => {
      // A write in flight lands first: the offsets read below then include it.
      await writing;
      abandon(new Error('partitions reassigned'));
      needRewind = false;
      rewinding.clear();
      owned = [...assigned];
      const stored = await loadOffsets(db.pool, settings.groupId, topic, assigned);
      const seek = new Map<number, string>();
      for (const p of assigned) {
        const s = stored.get(p);
        partitions.set(p, stateFrom(s));
        seek.set(p, rewindTo(p, s));
      }
      // Every model of the new partitions, so that silence is noticed for devices that never send again.
      if (assigned.length > 0) {
        const loaded = await loadModels(
          db.pool,
          { partitions: assigned },
          settings.learningMs,
          settings.bucketMs,
        );
        for (const [ip, m] of loaded) {
          m.classOverride = policies.overrides.get(ip) ?? m.classOverride;
          models.set(ip, m);
        }
      }
      metrics.models.set(models.size);
      logger.info(
        { partitions: assigned, devices: models.size },
        'partitions assigned; resuming from stored offsets',
      );
      return seek;
    });
  }

  /**
   * Batches applied in memory and not yet committed: they commit together, in one transaction with
   * every partition's offset. Batches handled concurrently (several partitions) join one group.
   */
  interface Group {
    /** Partition -> applied-through offset (exclusive) and newest flow time, for the offsets row. */
    partitions: Map<number, { next: bigint; watermark: number }>;
    touched: DeviceModel[];
    records: number;
    skipped: number;
    batches: number;
    late: number;
    clamped: number;
    startedAt: number;
    /** The cache epoch its records were applied in. */
    epoch: number;
    done: Promise<void>;
    resolve: () => void;
    reject: (err: unknown) => void;
  }
  let group: Group | undefined;

  function openGroup(): Group {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Handlers await `done`; this keeps a group nobody awaits any more from an unhandled rejection.
    done.catch(() => {});
    return {
      partitions: new Map(),
      touched: [],
      records: 0,
      skipped: 0,
      batches: 0,
      late: 0,
      clamped: 0,
      startedAt: performance.now(),
      epoch,
      done,
      resolve,
      reject,
    };
  }

  /** Drops the cache and fails the open group: its batches are read again. */
  function abandon(err: unknown): void {
    dropCaches();
    const g = group;
    group = undefined;
    // Batches of a group spanning fetches were handed back to the transport already: seek back.
    if (spanFetches) needRewind = true;
    g?.reject(err);
  }

  /**
   * Where partition `p` is read again from, as a seek offset: its stored offset, or the earliest kept when
   * none is stored (the database is the truth about what was applied; the group's own Kafka offsets run
   * ahead of it while a commit spans fetches). Batches from before the seek are skipped until then.
   */
  function rewindTo(p: number, stored: StoredOffset | undefined): string {
    const target = stored ? stored.nextOffset : -1n;
    rewinding.set(p, { target, skipped: 0 });
    return target >= 0n ? target.toString() : '-2';
  }

  /** Seeks every owned partition back to its stored offset (the earliest kept when none is stored). */
  async function rewind(): Promise<void> {
    if (!needRewind) return;
    const stored = await loadOffsets(db.pool, settings.groupId, topic, owned);
    for (const p of owned) subscriber?.seek(p, rewindTo(p, stored.get(p)));
    needRewind = false;
    metrics.rewinds.inc();
    logger.warn({ partitions: owned }, 'uncommitted work dropped; reading again from the stored offsets');
  }

  /** False for a batch read before a seek of its partition took effect (it is skipped). */
  function current(batch: ConsumedBatch): boolean {
    if (batch.stale?.()) return false;
    const r = rewinding.get(batch.partition);
    if (!r) return true;
    const first = BigInt(batch.messages[0]!.offset);
    // Past the target: fetched before the seek took effect. Seek again (harmless if it is pending), so a
    // skipped batch is read again whatever the cause; if retention removed the target itself, Kafka
    // resumes at the earliest kept offset, the same gap every time, which is accepted after a few tries.
    const gap = r.target >= 0n && first > r.target;
    if (gap && ++r.skipped < 20) {
      subscriber?.seek(batch.partition, r.target.toString());
      return false;
    }
    if (gap)
      logger.warn(
        { partition: batch.partition, from: r.target.toString(), to: first.toString() },
        'offsets no longer kept by Kafka; resuming from the earliest kept',
      );
    rewinding.delete(batch.partition);
    return true;
  }

  /** Adds the decoded records to their devices' models; returns the partition's newest flow time. */
  function applyAll(g: Group, decoded: Array<[FlowBatch, string]>, p: number, watermark: number): number {
    for (const [flows, key] of decoded) {
      ctx.openFrom = openBucketsFrom(watermark, settings.bucketMs, settings.latenessMs);
      const rs: FlowRecord[] = flows.records;
      let previous = '';
      let m: DeviceModel | undefined;
      for (let i = 0; i < rs.length; i++) {
        const r = rs[i]!;
        const device = flows.devices[i] || key;
        if (device !== previous || i === 0) {
          m = device === '' ? undefined : models.get(device);
          previous = device;
        }
        if (!m) {
          g.skipped++;
          continue;
        }
        const wasTouched = m.touched;
        // The record's flow time, bounded by its receive time: one bad clock does not move the watermark.
        const end = applyRecord(m, r, ctx, settings.bucketMs);
        if (end === 0) {
          g.skipped++;
          continue;
        }
        if (!wasTouched) g.touched.push(m);
        m.partition = p;
        if (end > watermark) watermark = end;
        g.records++;
      }
    }
    return watermark;
  }

  /** Applies one batch to the in-memory models and returns the group it joined (none: nothing new). */
  async function ingest(batch: ConsumedBatch): Promise<Group | undefined> {
    await rewind();
    if (batch.messages.length === 0 || !current(batch)) return undefined;
    const p = batch.partition;
    const st = await partitionState(p);
    let messages = batch.messages;
    if (exactlyOnce && st.applied >= 0n) {
      const fresh = messages.filter((m) => BigInt(m.offset) >= st.applied);
      if (fresh.length < messages.length) {
        const skipped = messages.length - fresh.length;
        metrics.duplicates.inc(skipped);
        counts.duplicates += skipped;
        logger.info(
          { partition: p, skipped, nextOffset: st.applied.toString() },
          'skipped messages already committed',
        );
      }
      messages = fresh;
    }
    if (messages.length === 0) return undefined;
    const lastOffset = BigInt(messages[messages.length - 1]!.offset);

    // Decode and apply message by message while every device named is cached (the steady state: a
    // decoded message is garbage right after it is applied, instead of the whole fetch being kept alive
    // and promoted by the GC). From the first message naming an uncached device on, messages wait for
    // one set-based load of those devices, so each device's records are still applied in order.
    if (!group) group = openGroup();
    const g = group;
    let watermark = st.watermark;
    late.count = 0;
    clamped.count = 0;
    let applied = false;
    const deferred: Array<[FlowBatch, string]> = [];
    const unknown = new Set<string>();
    const one: Array<[FlowBatch, string]> = [];
    for (const m of messages) {
      let flows: FlowBatch;
      try {
        flows = decodeFlowBatch(m.value);
      } catch (err) {
        metrics.badMessages.inc();
        badMessage({ partition: p, offset: m.offset, err }, 'undecodable flow batch skipped');
        continue;
      }
      let known = true;
      let previous = '';
      for (let i = 0; i < flows.records.length; i++) {
        const device = flows.devices[i] || m.key;
        // A message mostly carries one device's records: skip the lookup of a repeated address.
        if (device === previous) continue;
        previous = device;
        if (device !== '' && !models.has(device)) {
          if (notDevices.has(device)) models.set(device, createDeviceModel(device, p));
          else {
            unknown.add(device);
            known = false;
          }
        }
      }
      if (known && deferred.length === 0) {
        // A failure while applying leaves the open group half-applied: abandon it (all its batches are
        // delivered again).
        one[0] = [flows, m.key];
        try {
          watermark = applyAll(g, one, p, watermark);
        } catch (err) {
          abandon(err);
          throw err;
        }
        applied = true;
      } else deferred.push([flows, m.key]);
    }
    one.length = 0;
    if (deferred.length > 0) {
      if (unknown.size > 0) {
        let loaded: Map<string, DeviceModel>;
        try {
          loaded = await loadModels(db.pool, { ips: [...unknown] }, settings.learningMs, settings.bucketMs);
        } catch (err) {
          // Only this batch fails (and is delivered again), unless part of it is applied already.
          if (applied) abandon(err);
          throw err;
        }
        for (const ip of unknown) {
          const m = loaded.get(ip) ?? createDeviceModel(ip, p);
          m.classOverride = policies.overrides.get(ip) ?? m.classOverride;
          m.partition = p;
          models.set(ip, m);
        }
      }
      try {
        watermark = applyAll(g, deferred, p, watermark);
      } catch (err) {
        abandon(err);
        throw err;
      }
    }
    g.late += late.count;
    g.clamped += clamped.count;
    g.batches++;
    st.applied = lastOffset + 1n;
    st.watermark = watermark;
    g.partitions.set(p, { next: st.applied, watermark });
    return g;
  }

  /** The write of the last planned group (its transaction), settled; the next plan waits for it. */
  let writing: Promise<void> = Promise.resolve();
  /** Bumped whenever the cache is dropped: a plan from an older epoch must not be written. */
  let epoch = 0;

  /**
   * Plans the open group's writes and starts them behind the previous group's; settles its `done`
   * when they are committed or have failed. Returns once the write has started (the models may then
   * take the next batches while the database writes this group: apply and write overlap).
   */
  async function commitGroup(): Promise<void> {
    const g = group;
    if (!g) return;
    group = undefined;
    // At most one write in flight: the next group is planned once the previous one is committed.
    await writing;
    if (g.epoch !== epoch) {
      g.reject(new Error('the cache was dropped; the batches are read again'));
      return;
    }
    let plan: GroupPlan;
    try {
      plan = planGroup(g);
    } catch (err) {
      abandon(err);
      g.reject(err);
      return;
    }
    writing = writePlan(plan).then(
      () => g.resolve(),
      (err) => {
        // The cache holds changes that are not in the database: drop it, and read the batches again (a
        // batch whose handler is still waiting is redelivered; batches handed back already are sought).
        if (g.epoch === epoch) abandon(err);
        const fenced = err instanceof FencedError;
        metrics.failures.inc({ reason: fenced ? 'fenced' : 'write' });
        if (fenced) logger.warn({ partition: err.partition }, err.message);
        else
          logger.error(
            { err, partitions: [...g.partitions.keys()] },
            'writing the batches failed; they will be read again',
          );
        g.reject(err);
      },
    );
  }

  /** A group's writes, planned: statements, offsets and what to count once they are committed. */
  interface GroupPlan {
    group: Group;
    batch: BatchPlan;
    /** Partition -> [stored next offset expected, new next offset, watermark]. */
    offsets: Array<[number, bigint, bigint, number]>;
    devices: number;
    alerts: AlertDraft[];
    tApplied: number;
    tPlanned: number;
  }

  /**
   * Runs the detections over the group's devices and plans every write from the models as they are
   * now; the models' pending changes are then taken (as committed) so the next group starts from zero.
   */
  function planGroup(g: Group): GroupPlan {
    const tApplied = performance.now();
    const envs = new Map<number, DetectEnv>();
    const envOf = (p: number): DetectEnv => {
      let env = envs.get(p);
      if (!env) {
        const watermark = partitions.get(p)?.watermark ?? 0;
        env = { settings, signatures, policies, isInternal, watermark };
        env.manufacturerOf = manufacturers.manufacturerOf; // issue 17: vendor.ts
        env.groupLabelOf = grouping.labelOf; // issue 17: grouping.ts
        env.groupOf = grouping.groupOf;
        envs.set(p, env);
      }
      return env;
    };
    const devices: DeviceModel[] = [];
    const classifications: Array<[DeviceModel, Classification]> = [];
    const alerts: AlertDraft[] = [];
    const quarantines: QuarantineRequest[] = [];
    const risk = new Map<string, number>();
    const riskBase = (m: DeviceModel) =>
      CRITICALITY_RISK[signatures.byClass.get(effectiveClass(m))?.criticality ?? ''] ?? 0;
    for (const m of g.touched) {
      // An address that only receives (a scan target) is not a device: nothing to store.
      if (!m.stored && m.flowsSent === 0) {
        models.delete(m.ip);
        if (notDevices.size < MAX_NOT_DEVICES) notDevices.add(m.ip);
        continue;
      }
      devices.push(m);
      const out = finishDevice(m, envOf(m.partition));
      if (out.classification) classifications.push([m, out.classification]);
      if (out.quarantine) quarantines.push(out.quarantine);
      for (const a of out.alerts) alerts.push(a);
      // A new row always gets its risk (it is written in the same statement as the row).
      if (out.alerts.length > 0 || out.classification || !m.stored) risk.set(m.ip, riskBase(m));
    }
    for (const m of models.values()) {
      if (!g.partitions.has(m.partition)) continue;
      const silent = checkSilence(m, envOf(m.partition));
      if (silent) {
        alerts.push(silent);
        risk.set(m.ip, riskBase(m));
      }
    }
    const batch = planBatch({ devices, classifications, alerts, quarantines, risk }, quarantinesTable);
    batch.statements.push(...manufacturers.plan(devices)); // issue 17: vendor.ts, after the devices upsert
    for (const m of devices) {
      markCommitted(m);
      notDevices.delete(m.ip);
    }
    const offsets: GroupPlan['offsets'] = [];
    for (const [p, { next, watermark }] of g.partitions) {
      const st = partitions.get(p);
      offsets.push([p, st?.planned ?? -1n, next, watermark]);
      if (st) st.planned = next;
    }
    return {
      group: g,
      batch,
      offsets,
      devices: devices.length,
      alerts,
      tApplied,
      tPlanned: performance.now(),
    };
  }

  /** Writes a plan in one transaction with the offsets it brings the partitions to. */
  async function writePlan(plan: GroupPlan): Promise<void> {
    const g = plan.group;
    await withTransaction(db.pool, async (client) => {
      // Safe for exactly-once: a server crash may lose the latest commits, but models and offsets
      // together (atomicity holds), and the batches are then consumed again.
      await client.query('SET LOCAL synchronous_commit TO off');
      if (exactlyOnce) {
        for (const [p, expected, next, watermark] of plan.offsets)
          await commitOffset(client, settings.groupId, topic, p, expected, next, watermark);
      }
      await runPlan(client, plan.batch);
    });
    const tWritten = performance.now();
    metrics.commitSeconds.observe((tWritten - plan.tPlanned) / 1000);
    logger.debug(
      {
        partitions: [...g.partitions.keys()],
        batches: g.batches,
        records: g.records,
        devices: plan.devices,
        rows: plan.batch.rows,
        applyMs: Math.round(plan.tApplied - g.startedAt),
        detectMs: Math.round(plan.tPlanned - plan.tApplied),
        writeMs: Math.round(tWritten - plan.tPlanned),
      },
      'batches committed',
    );
    if (g.epoch === epoch) {
      for (const [p, , next] of plan.offsets) {
        const st = partitions.get(p);
        if (st) st.next = next;
      }
    }
    metrics.batches.inc(g.batches);
    metrics.records.inc(g.records);
    if (g.skipped > 0) metrics.badRecords.inc(g.skipped);
    counts.records += g.records;
    counts.skipped += g.skipped;
    counts.batches += g.batches;
    if (g.late > 0) metrics.late.inc(g.late);
    if (g.clamped > 0) metrics.clamped.inc(g.clamped);
    for (const a of plan.alerts) metrics.alerts.inc({ kind: a.kind });
    metrics.models.set(models.size);
  }

  /**
   * Handles one batch: applies it (serially with every other batch), then waits for the commit of the
   * group it joined. The commit is queued behind the batches already waiting, so batches handed in
   * together (kafkajs consuming several partitions at once) commit in one transaction.
   */
  async function handle(batch: ConsumedBatch): Promise<void> {
    // A CONSUMER span, child of (or linked to) the collector's publish span when tracing is on.
    await traceConsume(batch.topic, batch.messages, async () => {
      const joined = await serial(() => ingest(batch));
      if (!joined) return;
      if (spanFetches) {
        // Handed back once the write has started (a failed write seeks the partitions back).
        if (due(joined)) await serial(commitGroup);
        return;
      }
      serial(commitGroup).catch(() => {});
      await joined.done;
    });
  }

  /** A group spanning fetches commits once it is old or large enough. */
  function due(g: Group): boolean {
    return g.records >= settings.commitRecords || performance.now() - g.startedAt >= settings.commitMs;
  }

  /** Commits the open group now; rejects when that commit fails. */
  async function flush(): Promise<void> {
    const g = group;
    if (!g) return writing;
    serial(commitGroup).catch(() => {});
    await g.done;
  }

  return {
    handle,
    flush,
    reload,
    counts: () => ({ ...counts }),
    regroup: () => regroup(true),
    async start() {
      await reload();
      timer = setInterval(() => void reload(), settings.reloadMs);
      timer.unref();
      if (spanFetches) {
        // The open group commits when due even if no further batch arrives; dropped work is read again.
        commitTimer = setInterval(
          () => {
            if ((group && due(group)) || needRewind)
              serial(async () => {
                if (group && due(group)) await commitGroup();
                await rewind();
              }).catch(() => {});
          },
          Math.max(50, Math.floor(settings.commitMs / 4)),
        );
        commitTimer.unref();
      }
      await transport.ensureTopic(topic, config.kafka.flowPartitions);
      subscriber = await transport.createSubscriber(settings.groupId);
      await subscriber.start(topic, handle, { onAssign, concurrency: config.kafka.flowPartitions });
      if (config.analytics.httpPort > 0) {
        ops = await startOpsServer(config.analytics.httpHost, config.analytics.httpPort, {
          registry: deps.registry,
          notReady: async () => {
            if (!(await db.ping())) return 'database unreachable';
            if (!(await transport.ping())) return 'transport unreachable';
            return undefined;
          },
        });
      }
      logger.info(
        {
          groupId: settings.groupId,
          exactlyOnce,
          classes: signatures.classes.length,
          threatIntel: threatIntel.size(),
        },
        'analytics consuming flow records',
      );
    },
    async stop() {
      if (timer) clearInterval(timer);
      if (commitTimer) clearInterval(commitTimer);
      if (ops) await new Promise<void>((resolve) => ops?.close(() => resolve()));
      await subscriber?.close();
      // What was applied and not committed yet (fenced if the partitions moved on meanwhile).
      await flush().catch(() => {});
      await queue;
    },
  };
}
