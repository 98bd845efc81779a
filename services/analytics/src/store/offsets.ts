import type pg from 'pg';
import { ms, ts } from './sql.ts';

// Stored partition offsets (`analytics_offsets`): read on assignment and rewind, advanced in the same
// transaction as the models they cover, fenced against a zombie worker.

/** A partition's position as stored: next offset to consume and newest flow time seen. */
export interface StoredOffset {
  nextOffset: bigint;
  watermark: number;
}

/** Thrown when another worker committed the partition since this one read it (a zombie after a rebalance). */
export class FencedError extends Error {
  readonly code = 'OFFSETS_FENCED';
  readonly retriable = true;
  constructor(readonly partition: number) {
    super(`partition ${partition} was committed by another worker; reloading`);
    this.name = 'FencedError';
  }
}

/** Reads the stored offsets of the given partitions. */
export async function loadOffsets(
  db: pg.Pool | pg.PoolClient,
  groupId: string,
  topic: string,
  partitions: number[],
): Promise<Map<number, StoredOffset>> {
  const res = await db.query<{ partition: number; next_offset: string; wm: number | null }>(
    `SELECT partition, next_offset::text AS next_offset, ${ms('flow_watermark')} AS wm FROM analytics_offsets
     WHERE group_id = $1 AND topic = $2 AND partition = ANY($3::int[])`,
    [groupId, topic, partitions],
  );
  const out = new Map<number, StoredOffset>();
  for (const r of res.rows) out.set(r.partition, { nextOffset: BigInt(r.next_offset), watermark: r.wm ?? 0 });
  return out;
}

/**
 * Advances a partition's stored offset from `expected` (-1: none stored yet) to `next`; throws
 * FencedError when the stored offset is no longer `expected`. Run first in the batch's transaction.
 */
export async function commitOffset(
  client: pg.PoolClient,
  groupId: string,
  topic: string,
  partition: number,
  expected: bigint,
  next: bigint,
  watermark: number,
): Promise<void> {
  const res = await client.query(
    `INSERT INTO analytics_offsets AS o (group_id, topic, partition, next_offset, flow_watermark)
     VALUES ($1, $2, $3, $4::bigint, ${ts('$6::float8')})
     ON CONFLICT (group_id, topic, partition) DO UPDATE SET
       next_offset = EXCLUDED.next_offset,
       flow_watermark = GREATEST(o.flow_watermark, EXCLUDED.flow_watermark),
       updated_at = now()
     WHERE o.next_offset = $5::bigint
     RETURNING 1`,
    [groupId, topic, partition, next.toString(), expected.toString(), watermark],
  );
  if (res.rowCount !== 1) throw new FencedError(partition);
}
