// SQL helpers of the API: WHERE clauses with positional parameters, LIKE patterns, hot-path prepared
// statements, lookups coalesced per event-loop turn, timestamp columns as ISO text.
import { createHash } from 'node:crypto';
import type { Database } from '@wardwatch/storage';
import type pg from 'pg';

/** Builds a WHERE clause from conditions with positional parameters. */
export class Where {
  readonly params: unknown[] = [];
  private readonly parts: string[] = [];
  /** Adds a condition; `$?` in `sql` is replaced by the next parameter number. */
  add(sql: string, ...values: unknown[]): this {
    let s = sql;
    for (const v of values) {
      this.params.push(v);
      s = s.replace('$?', `$${this.params.length}`);
    }
    this.parts.push(s);
    return this;
  }
  /** The next parameter placeholder for `value`. */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
  sql(): string {
    return this.parts.length > 0 ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

/** Escapes LIKE wildcards so user text matches literally. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** ISO string of a timestamp column that may be null. */
export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

const statementNames = new Map<string, string>();

/**
 * Runs a hot-path query as a named prepared statement on PostgreSQL, so each pooled connection plans it
 * once (planning costs more than executing these). Embedded PGlite shares one backend session between
 * socket clients, where named statements could collide, so it gets plain queries.
 */
export function hotQuery<R extends pg.QueryResultRow>(db: Database, text: string, values: unknown[]) {
  if (db.kind !== 'postgres') return db.pool.query<R>(text, values);
  let name = statementNames.get(text);
  if (!name) {
    name = `ww_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    if (statementNames.size < 5000) statementNames.set(text, name);
  }
  return db.pool.query<R>({ name, text, values });
}

/**
 * Coalesces lookups made in the same turn of the event loop into one call of `run` (as DataLoader
 * does): under load, many concurrent requests cost one database round trip instead of one each.
 * `run` answers a map from key to value; a missing key resolves to undefined.
 */
export function createBatcher<V>(run: (keys: string[]) => Promise<Map<string, V>>, maxBatch = 128) {
  let pending: Array<{ key: string; resolve: (v: V | undefined) => void; reject: (e: unknown) => void }> = [];
  let scheduled = false;
  const flush = () => {
    const batch = pending;
    pending = [];
    scheduled = false;
    run([...new Set(batch.map((b) => b.key))]).then(
      (found) => {
        for (const b of batch) b.resolve(found.get(b.key));
      },
      (err) => {
        for (const b of batch) b.reject(err);
      },
    );
  };
  return (key: string): Promise<V | undefined> =>
    new Promise((resolve, reject) => {
      pending.push({ key, resolve, reject });
      if (pending.length >= maxBatch) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
