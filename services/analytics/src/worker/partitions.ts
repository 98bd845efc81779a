import type { ConsumedBatch, Subscriber } from '@wardwatch/transport';
import { loadOffsets, type StoredOffset } from '../store/offsets.ts';
import type { PartitionState, WorkerEnv, WorkerState } from './state.ts';

// Partition offsets and rewind: where each partition stands (stored, planned, applied), and seeking
// back to the stored offsets when applied, uncommitted work was dropped.

/** A partition's state as its stored offset says (nothing stored: nothing applied yet). */
export function stateFrom(stored: StoredOffset | undefined): PartitionState {
  const next = stored ? stored.nextOffset : -1n;
  return { next, planned: next, applied: next, watermark: stored ? stored.watermark : 0 };
}

/** The partitions this member owns, their positions, and the rewinds in progress. */
export class PartitionOffsets {
  /** Partitions this member owns (the latest assignment). */
  private owned: number[] = [];
  /**
   * Partitions sought back to their stored offset (-1: the earliest kept), until a batch from there
   * arrives: batches fetched before the seek are skipped.
   */
  private readonly rewinding = new Map<number, { target: bigint; skipped: number }>();
  /** Applied, uncommitted work was dropped: the owned partitions must be read again from their stored offsets. */
  needRewind = false;
  subscriber: Subscriber | undefined;

  constructor(
    private readonly env: WorkerEnv,
    private readonly state: WorkerState,
  ) {}

  /** The position of partition `p`, read from the stored offsets the first time. */
  async stateOf(p: number): Promise<PartitionState> {
    let st = this.state.partitions.get(p);
    if (!st) {
      const { env } = this;
      st = stateFrom(
        env.exactlyOnce
          ? (await loadOffsets(env.db.pool, env.settings.groupId, env.topic, [p])).get(p)
          : undefined,
      );
      this.state.partitions.set(p, st);
    }
    return st;
  }

  /** Takes a new assignment: positions from the stored offsets; returns where to seek each partition. */
  async assign(assigned: number[]): Promise<Map<number, string>> {
    this.needRewind = false;
    this.rewinding.clear();
    this.owned = [...assigned];
    const { env } = this;
    const stored = await loadOffsets(env.db.pool, env.settings.groupId, env.topic, assigned);
    const seek = new Map<number, string>();
    for (const p of assigned) {
      const s = stored.get(p);
      this.state.partitions.set(p, stateFrom(s));
      seek.set(p, this.rewindTo(p, s));
    }
    return seek;
  }

  /** Applied work was dropped: batches of a group spanning fetches were handed back already, seek back. */
  dropped(): void {
    if (this.env.spanFetches) this.needRewind = true;
  }

  /**
   * Where partition `p` is read again from, as a seek offset: its stored offset, or the earliest kept when
   * none is stored (the database is the truth about what was applied; the group's own Kafka offsets run
   * ahead of it while a commit spans fetches). Batches from before the seek are skipped until then.
   */
  private rewindTo(p: number, stored: StoredOffset | undefined): string {
    const target = stored ? stored.nextOffset : -1n;
    this.rewinding.set(p, { target, skipped: 0 });
    return target >= 0n ? target.toString() : '-2';
  }

  /** Seeks every owned partition back to its stored offset (the earliest kept when none is stored). */
  async rewind(): Promise<void> {
    if (!this.needRewind) return;
    const { env, owned } = this;
    const stored = await loadOffsets(env.db.pool, env.settings.groupId, env.topic, owned);
    for (const p of owned) this.subscriber?.seek(p, this.rewindTo(p, stored.get(p)));
    this.needRewind = false;
    env.metrics.rewinds.inc();
    env.logger.warn({ partitions: owned }, 'uncommitted work dropped; reading again from the stored offsets');
  }

  /** False for a batch read before a seek of its partition took effect (it is skipped). */
  current(batch: ConsumedBatch): boolean {
    if (batch.stale?.()) return false;
    const r = this.rewinding.get(batch.partition);
    if (!r) return true;
    const first = BigInt(batch.messages[0]!.offset);
    // Past the target: fetched before the seek took effect. Seek again (harmless if it is pending), so a
    // skipped batch is read again whatever the cause; if retention removed the target itself, Kafka
    // resumes at the earliest kept offset, the same gap every time, which is accepted after a few tries.
    const gap = r.target >= 0n && first > r.target;
    if (gap && ++r.skipped < 20) {
      this.subscriber?.seek(batch.partition, r.target.toString());
      return false;
    }
    if (gap)
      this.env.logger.warn(
        { partition: batch.partition, from: r.target.toString(), to: first.toString() },
        'offsets no longer kept by Kafka; resuming from the earliest kept',
      );
    this.rewinding.delete(batch.partition);
    return true;
  }
}
