import type pg from 'pg';
import { arrayLiteral } from './sql.ts';

// A batch's writes as statements (set-based: unnest of column arrays), and running them.

/**
 * One statement of a plan: with `values` as they are, or over `columns` (equal-length arrays, one
 * unnest parameter each) in chunks of rows. `expect`: the rows it must touch (fewer: the cache is stale).
 */
export type Statement = { text: string; expect?: number } & (
  | { values: unknown[]; columns?: undefined }
  | { columns: ReadonlyArray<ReadonlyArray<string | number | boolean | null>>; values?: undefined }
);

/**
 * Rows per statement when a plan runs: each chunk's array literals are built just before it is sent
 * and are garbage right after, instead of a commit's whole column texts (hundreds of MB at 100k
 * devices) living through the write in the old generation. Large enough that PostgreSQL's hash join
 * reads the profile and rollup tables once per 131072 changed rows, not once per few thousand: at 100k
 * devices, 16384-row chunks cost 22 µs per updated profile row, 131072-row chunks 12 µs.
 */
const CHUNK_ROWS = 131_072;

/** A batch's writes as statements, built from the models at one moment (see `planBatch` in plan-batch.ts). */
export interface BatchPlan {
  statements: Statement[];
  /** Rows the plan writes (for logs). */
  rows: number;
}

/** Runs a plan inside the caller's transaction. */
export async function runPlan(client: pg.PoolClient, plan: BatchPlan): Promise<void> {
  for (const st of plan.statements) {
    let touched = 0;
    if (st.columns === undefined) touched = (await client.query(st.text, st.values)).rowCount ?? 0;
    else {
      const rows = st.columns[0]?.length ?? 0;
      for (let from = 0; from < rows; from += CHUNK_ROWS) {
        const to = Math.min(rows, from + CHUNK_ROWS);
        const values = st.columns.map((c) => arrayLiteral(c, from, to));
        touched += (await client.query(st.text, values)).rowCount ?? 0;
      }
    }
    if (st.expect !== undefined && touched !== st.expect)
      throw new Error('model rows missing from the database; reloading');
  }
}
