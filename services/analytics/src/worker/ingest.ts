import { decodeFlowBatch, type FlowBatch, type FlowRecord } from '@wardwatch/flow-schema';
import { createRateLimitedLog } from '@wardwatch/telemetry';
import type { ConsumedBatch } from '@wardwatch/transport';
import { applyRecord } from '../model/apply-record.ts';
import { openBucketsFrom } from '../model/baselines.ts';
import { type ApplyContext, createDeviceModel, type DeviceModel } from '../model/device-model.ts';
import { loadModels } from '../store/load-models.ts';
import type { Group } from './group.ts';
import type { GroupCommit } from './group-commit.ts';
import type { PartitionOffsets } from './partitions.ts';
import type { WorkerEnv, WorkerState } from './state.ts';

// Ingest: one consumed batch decoded and applied to the in-memory models, joining the open group.

/** Applies consumed batches to the models. */
export class Ingest {
  private readonly late = { count: 0 };
  private readonly clamped = { count: 0 };
  private readonly ctx: ApplyContext;
  private readonly badMessage: ReturnType<typeof createRateLimitedLog>;

  constructor(
    private readonly env: WorkerEnv,
    private readonly state: WorkerState,
    private readonly offsets: PartitionOffsets,
    private readonly commits: GroupCommit,
  ) {
    const { settings, signatures, threatIntel, logger } = env;
    this.badMessage = createRateLimitedLog((f, m) => logger.warn(f, m));
    this.ctx = {
      isInternal: env.isInternal,
      servicePorts: signatures.servicePorts,
      maxPeers: settings.maxProfilePeers,
      learningMs: settings.learningMs,
      scanWindowMs: settings.scanWindowMs,
      isThreat: (addr) => threatIntel.matches(addr),
      late: this.late,
      maxSkewMs: settings.maxSkewMs,
      clamped: this.clamped,
      openFrom: 0,
    };
  }

  /** Applies one batch to the in-memory models and returns the group it joined (none: nothing new). */
  async ingest(batch: ConsumedBatch): Promise<Group | undefined> {
    const { env, state, offsets, commits } = this;
    const { metrics, logger, settings } = env;
    await offsets.rewind();
    if (batch.messages.length === 0 || !offsets.current(batch)) return undefined;
    const p = batch.partition;
    const st = await offsets.stateOf(p);
    let messages = batch.messages;
    if (env.exactlyOnce && st.applied >= 0n) {
      const fresh = messages.filter((m) => BigInt(m.offset) >= st.applied);
      if (fresh.length < messages.length) {
        const skipped = messages.length - fresh.length;
        metrics.duplicates.inc(skipped);
        state.counts.duplicates += skipped;
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
    const g = commits.open();
    const models = state.models;
    let watermark = st.watermark;
    this.late.count = 0;
    this.clamped.count = 0;
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
        this.badMessage({ partition: p, offset: m.offset, err }, 'undecodable flow batch skipped');
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
          if (state.notDevices.has(device)) models.set(device, createDeviceModel(device, p));
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
          watermark = this.applyAll(g, one, p, watermark);
        } catch (err) {
          commits.abandon(err);
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
          loaded = await loadModels(
            env.db.pool,
            { ips: [...unknown] },
            settings.learningMs,
            settings.bucketMs,
          );
        } catch (err) {
          // Only this batch fails (and is delivered again), unless part of it is applied already.
          if (applied) commits.abandon(err);
          throw err;
        }
        for (const ip of unknown) {
          const m = loaded.get(ip) ?? createDeviceModel(ip, p);
          m.classOverride = state.overrideOf(ip) ?? m.classOverride;
          m.partition = p;
          models.set(ip, m);
        }
      }
      try {
        watermark = this.applyAll(g, deferred, p, watermark);
      } catch (err) {
        commits.abandon(err);
        throw err;
      }
    }
    g.late += this.late.count;
    g.clamped += this.clamped.count;
    g.batches++;
    st.applied = lastOffset + 1n;
    st.watermark = watermark;
    g.partitions.set(p, { next: st.applied, watermark });
    return g;
  }

  /** Adds the decoded records to their devices' models; returns the partition's newest flow time. */
  private applyAll(g: Group, decoded: Array<[FlowBatch, string]>, p: number, watermark: number): number {
    const { settings } = this.env;
    const { ctx } = this;
    const models = this.state.models;
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
}
