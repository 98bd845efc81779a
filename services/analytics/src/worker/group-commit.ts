import { withTransaction } from '@wardwatch/storage';
import { commitOffset, FencedError } from '../store/offsets.ts';
import { runPlan } from '../store/statements.ts';
import { type Group, openGroup } from './group.ts';
import type { PartitionOffsets } from './partitions.ts';
import { type GroupPlan, planGroup } from './planning.ts';
import type { WorkerEnv, WorkerState } from './state.ts';

// Group commit: the open group of applied batches, planned and written in one transaction with the
// offsets; at most one write in flight, the models take the next batches while it runs.

/** The open group and the write in flight. */
export class GroupCommit {
  /** Batches applied and not yet planned. */
  group: Group | undefined;
  /** The write of the last planned group (its transaction), settled; the next plan waits for it. */
  writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly env: WorkerEnv,
    private readonly state: WorkerState,
    private readonly offsets: PartitionOffsets,
  ) {}

  /** The open group, opened if there is none. */
  open(): Group {
    if (!this.group) this.group = openGroup(this.state.epoch);
    return this.group;
  }

  /** Drops the cache and fails the open group: its batches are read again. */
  abandon(err: unknown): void {
    this.state.drop();
    const g = this.group;
    this.group = undefined;
    this.offsets.dropped();
    g?.reject(err);
  }

  /** A group spanning fetches commits once it is old or large enough. */
  due(g: Group): boolean {
    const s = this.env.settings;
    return g.records >= s.commitRecords || performance.now() - g.startedAt >= s.commitMs;
  }

  /**
   * Plans the open group's writes and starts them behind the previous group's; settles its `done`
   * when they are committed or have failed. Returns once the write has started (the models may then
   * take the next batches while the database writes this group: apply and write overlap).
   */
  async commit(): Promise<void> {
    const g = this.group;
    if (!g) return;
    this.group = undefined;
    // At most one write in flight: the next group is planned once the previous one is committed.
    await this.writing;
    if (g.epoch !== this.state.epoch) {
      g.reject(new Error('the cache was dropped; the batches are read again'));
      return;
    }
    let plan: GroupPlan;
    try {
      plan = planGroup(this.env, this.state, g);
    } catch (err) {
      this.abandon(err);
      g.reject(err);
      return;
    }
    const { metrics, logger } = this.env;
    this.writing = this.write(plan).then(
      () => g.resolve(),
      (err) => {
        // The cache holds changes that are not in the database: drop it, and read the batches again (a
        // batch whose handler is still waiting is redelivered; batches handed back already are sought).
        if (g.epoch === this.state.epoch) this.abandon(err);
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

  /** Writes a plan in one transaction with the offsets it brings the partitions to. */
  private async write(plan: GroupPlan): Promise<void> {
    const g = plan.group;
    const { env, state } = this;
    const { settings, metrics } = env;
    await withTransaction(env.db.pool, async (client) => {
      // Safe for exactly-once: a server crash may lose the latest commits, but models and offsets
      // together (atomicity holds), and the batches are then consumed again.
      await client.query('SET LOCAL synchronous_commit TO off');
      if (env.exactlyOnce) {
        for (const [p, expected, next, watermark] of plan.offsets)
          await commitOffset(client, settings.groupId, env.topic, p, expected, next, watermark);
      }
      await runPlan(client, plan.batch);
    });
    const tWritten = performance.now();
    metrics.commitSeconds.observe((tWritten - plan.tPlanned) / 1000);
    env.logger.debug(
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
    if (g.epoch === state.epoch) {
      for (const [p, , next] of plan.offsets) {
        const st = state.partitions.get(p);
        if (st) st.next = next;
      }
    }
    metrics.batches.inc(g.batches);
    metrics.records.inc(g.records);
    if (g.skipped > 0) metrics.badRecords.inc(g.skipped);
    const counts = state.counts;
    counts.records += g.records;
    counts.skipped += g.skipped;
    counts.batches += g.batches;
    if (g.late > 0) metrics.late.inc(g.late);
    if (g.clamped > 0) metrics.clamped.inc(g.clamped);
    for (const a of plan.alerts) metrics.alerts.inc({ kind: a.kind });
    metrics.models.set(state.models.size);
  }
}
