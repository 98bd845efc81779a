import type pg from 'pg';

/** How often a worker asks whether the policies changed (one row read), milliseconds. */
export const POLICY_WATCH_MS = 1000;

/**
 * The policies' version: bumped by the database on every change to policies, their assignments or
 * server groups (migration 1765000000000), so a saved policy applies within a second or two instead of
 * at the next `analytics.reloadInterval`.
 */
export async function policyVersion(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ v: string }>('SELECT v::text AS v FROM policy_version');
  return rows[0]?.v ?? '';
}
