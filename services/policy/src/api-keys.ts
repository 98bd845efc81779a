import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';

/** Roles, from least to most privileged; a route names the least role it accepts. */
export const ROLES = ['viewer', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The identity a request acts as. */
export interface Principal {
  keyId: string;
  name: string;
  role: Role;
}

/** True when `have` is at least as privileged as `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** API keys are high-entropy random strings, so a plain SHA-256 is a sound one-way lookup hash. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Creates a key: returns the key itself (shown once) and stores only its hash. */
export async function createApiKey(
  pool: pg.Pool | pg.PoolClient,
  opts: { name: string; role: Role; key?: string },
): Promise<{ id: string; key: string }> {
  const key = opts.key ?? `ww_${randomBytes(24).toString('base64url')}`;
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO api_keys (name, role, key_hash, key_prefix) VALUES ($1, $2, $3, $4)
     ON CONFLICT (key_hash) DO UPDATE SET role = EXCLUDED.role, revoked_at = NULL
     RETURNING id`,
    [opts.name, opts.role, hashApiKey(key), key.slice(0, 7)],
  );
  return { id: rows[0]!.id, key };
}

/** Finds the live key behind a presented secret. */
export async function findApiKey(pool: pg.Pool, key: string): Promise<Principal | undefined> {
  const { rows } = await pool.query<{ id: string; name: string; role: Role }>(
    'SELECT id, name, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
    [hashApiKey(key)],
  );
  const row = rows[0];
  return row ? { keyId: row.id, name: row.name, role: row.role } : undefined;
}

/** Counts keys that can still be used (first-run detection). */
export async function countLiveApiKeys(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NULL',
  );
  return rows[0]?.n ?? 0;
}
