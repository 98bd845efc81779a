import type pg from 'pg';

// The one way to read the outbox (`events`) from a stored position, shared by every reader (the SIEM
// forwarder, the policy enforcer). An event's `id` is taken at insert, not at commit, so `id > cursor`
// passes over an event whose transaction commits after a newer id's. Readers follow `seq` instead, which
// a deferred trigger numbers at commit under one lock (migration 1765000000000): seq order is commit
// order, so nothing can appear behind a reader's position. The webhook dispatcher needs no cursor: its
// delivery rows are written in the event's own transaction.

/** An outbox event as the readers see it. */
export interface OutboxEvent<P = Record<string, unknown>> {
  id: number;
  /** Commit order: the reader's position after this event. */
  seq: number;
  idempotencyKey: string;
  type: string;
  payload: P;
  createdAt: Date;
}

type Queryable = pg.Pool | pg.PoolClient;

/**
 * The reader's stored position (created at the start when absent); `lock` holds its row until the
 * caller's transaction ends, so that two processes running the same reader take turns.
 */
export async function outboxPosition(db: Queryable, reader: string, lock = false): Promise<number> {
  await db.query('INSERT INTO outbox_cursors (name) VALUES ($1) ON CONFLICT DO NOTHING', [reader]);
  const { rows } = await db.query<{ seq: string }>(
    `SELECT last_seq AS seq FROM outbox_cursors WHERE name = $1${lock ? ' FOR UPDATE' : ''}`,
    [reader],
  );
  return Number(rows[0]!.seq);
}

/** Up to `limit` committed events after position `from`, in commit order. */
export async function readOutbox<P = Record<string, unknown>>(
  db: Queryable,
  from: number,
  limit: number,
): Promise<Array<OutboxEvent<P>>> {
  const { rows } = await db.query<{
    id: string;
    seq: string;
    idempotency_key: string;
    type: string;
    payload: P;
    created_at: Date;
  }>(
    `SELECT id, seq, idempotency_key, type, payload, created_at FROM events
     WHERE seq > $1 ORDER BY seq LIMIT $2`,
    [from, limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    seq: Number(r.seq),
    idempotencyKey: r.idempotency_key,
    type: r.type,
    payload: r.payload,
    createdAt: r.created_at,
  }));
}

/** Stores the reader's new position (an event's `seq`). */
export async function advanceOutbox(db: Queryable, reader: string, to: number): Promise<void> {
  await db.query('UPDATE outbox_cursors SET last_seq = $2 WHERE name = $1', [reader, to]);
}

/** SQL true for an event `e` that every reader has passed (used when pruning). */
export const PASSED_BY_EVERY_READER = 'e.seq <= COALESCE((SELECT min(last_seq) FROM outbox_cursors), 0)';
