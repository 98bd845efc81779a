import { createHash, randomBytes } from 'node:crypto';
import { withTransaction } from '@wardwatch/storage';
import type pg from 'pg';
import { type AuditActor, auditAs, auditSystem } from './audit.ts';
import { iso } from './query.ts';

/**
 * Roles, from least to most privileged; a route names the least role it accepts. `feeds` is for
 * firewalls: it reads the EDL feeds (routes whose rule is `feeds`) and nothing else, while every other
 * role reads them too.
 */
export const ROLES = ['feeds', 'viewer', 'analyst', 'admin'] as const;
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

/**
 * Creates a key: returns the key itself (shown once) and stores only its hash. A given `key` that is
 * already stored (live or revoked) is an error: creating never revives or re-roles an existing key.
 */
export async function createApiKey(
  pool: pg.Pool | pg.PoolClient,
  opts: { name: string; role: Role; key?: string; expiresAt?: Date | null; createdBy?: string },
): Promise<{ id: string; key: string; prefix: string }> {
  const key = opts.key ?? `ww_${randomBytes(24).toString('base64url')}`;
  const prefix = key.slice(0, 7);
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO api_keys (name, role, key_hash, key_prefix, expires_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (key_hash) DO NOTHING
     RETURNING id`,
    [opts.name, opts.role, hashApiKey(key), prefix, opts.expiresAt ?? null, opts.createdBy ?? null],
  );
  if (!rows[0]) throw new Error('an API key with this value already exists');
  return { id: rows[0].id, key, prefix };
}

/** A key row as {@link API_KEY_COLUMNS} selects it. */
export interface ApiKeyRow {
  id: string;
  name: string;
  role: string;
  key_prefix: string;
  created_at: Date;
  created_by: string | null;
  last_used_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
}
export const API_KEY_COLUMNS =
  'id, name, role, key_prefix, created_at, created_by, last_used_at, expires_at, revoked_at';
/** The API's (and the audit log's) view of a key: never the key or its hash. */
export const toApiKey = (r: ApiKeyRow) => ({
  id: r.id,
  name: r.name,
  role: r.role,
  prefix: r.key_prefix,
  createdAt: r.created_at.toISOString(),
  createdBy: r.created_by,
  lastUsedAt: iso(r.last_used_at),
  expiresAt: iso(r.expires_at),
  revokedAt: iso(r.revoked_at),
});
export type ApiKeyView = ReturnType<typeof toApiKey>;

/**
 * Creates a key and records it in the audit log as `actor`, in one transaction: for POST /v1/apikeys
 * (the request's caller), the CLI and first start (a named actor).
 */
export async function createApiKeyAudited(
  pool: pg.Pool,
  actor: AuditActor,
  opts: { name: string; role: Role; expiresAt?: Date | null; createdBy?: string },
): Promise<{ key: string; apiKey: ApiKeyView }> {
  return withTransaction(pool, async (client) => {
    const created = await createApiKey(client, opts);
    const { rows } = await client.query<ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE id = $1`, [
      created.id,
    ]);
    const apiKey = toApiKey(rows[0]!);
    await auditAs(client, actor, {
      action: 'apikey.create',
      targetType: 'apikey',
      targetId: created.id,
      after: apiKey,
    });
    return { key: created.key, apiKey };
  });
}

/** Revokes a key and audits it as `actor` (see {@link createApiKeyAudited}); undefined when there is no such key. */
export async function revokeApiKeyAudited(
  pool: pg.Pool,
  actor: AuditActor,
  id: string,
): Promise<ApiKeyView | undefined> {
  return withTransaction(pool, async (client) => {
    const prev = await client.query<ApiKeyRow>(
      `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE`,
      [id],
    );
    if (!prev.rows[0]) return undefined;
    const { rows } = await client.query<ApiKeyRow>(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING ${API_KEY_COLUMNS}`,
      [id],
    );
    const after = toApiKey(rows[0]!);
    await auditAs(client, actor, {
      action: 'apikey.revoke',
      targetType: 'apikey',
      targetId: id,
      before: toApiKey(prev.rows[0]),
      after,
    });
    return after;
  });
}

/** What `ensureBootstrapKey` found and did. */
export type BootstrapOutcome =
  | { status: 'created' | 'kept'; id: string; retired: string[] }
  | { status: 'revoked'; id: string; retired: string[] };

/** The `created_by` of keys made from `WARDWATCH_BOOTSTRAP_API_KEY` (older ones: name 'bootstrap', no creator). */
const BOOTSTRAP = 'bootstrap';

/**
 * `WARDWATCH_BOOTSTRAP_API_KEY` at start: an admin key with exactly that value exists. Bootstrap keys
 * of any other value are revoked (the setting was changed: the old value must stop working), and a
 * bootstrap key that was revoked stays revoked (`status: 'revoked'`; a restart must not undo a SOC's
 * revocation of a leaked key: set a new value). Every change is audited as `system:bootstrap`.
 */
export async function ensureBootstrapKey(pool: pg.Pool, key: string): Promise<BootstrapOutcome> {
  const hash = hashApiKey(key);
  return withTransaction(pool, async (client) => {
    // One start at a time (several replicas may start together with the same setting).
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['wardwatch:bootstrap-api-key']);
    const retired = await client.query<{ id: string; name: string; role: string; revoked_at: Date }>(
      `UPDATE api_keys SET revoked_at = now()
       WHERE (created_by = $1 OR (created_by IS NULL AND name = $1)) AND key_hash <> $2 AND revoked_at IS NULL
       RETURNING id, name, role, revoked_at`,
      [BOOTSTRAP, hash],
    );
    for (const r of retired.rows)
      await auditSystem(client, 'system:bootstrap', {
        action: 'apikey.revoke',
        targetType: 'apikey',
        targetId: r.id,
        before: { id: r.id, name: r.name, role: r.role, revokedAt: null },
        after: { id: r.id, name: r.name, role: r.role, revokedAt: r.revoked_at.toISOString() },
      });
    const retiredIds = retired.rows.map((r) => r.id);
    const { rows } = await client.query<{ id: string; role: string; revoked_at: Date | null }>(
      'SELECT id, role, revoked_at FROM api_keys WHERE key_hash = $1 FOR UPDATE',
      [hash],
    );
    const existing = rows[0];
    if (existing?.revoked_at) return { status: 'revoked', id: existing.id, retired: retiredIds };
    if (existing) {
      if (existing.role !== 'admin') {
        await client.query("UPDATE api_keys SET role = 'admin' WHERE id = $1", [existing.id]);
        await auditSystem(client, 'system:bootstrap', {
          action: 'apikey.update',
          targetType: 'apikey',
          targetId: existing.id,
          before: { role: existing.role },
          after: { role: 'admin' },
        });
      }
      return { status: 'kept', id: existing.id, retired: retiredIds };
    }
    const created = await createApiKey(client, { name: BOOTSTRAP, role: 'admin', key, createdBy: BOOTSTRAP });
    await auditSystem(client, 'system:bootstrap', {
      action: 'apikey.create',
      targetType: 'apikey',
      targetId: created.id,
      after: { id: created.id, name: BOOTSTRAP, role: 'admin', prefix: created.prefix, createdBy: BOOTSTRAP },
    });
    return { status: 'created', id: created.id, retired: retiredIds };
  });
}

/** Finds the live (not revoked, not expired) key behind a presented secret, with its expiry. */
export async function findApiKey(
  pool: pg.Pool,
  key: string,
): Promise<{ principal: Principal; expiresAt: Date | null } | undefined> {
  const { rows } = await pool.query<{ id: string; name: string; role: Role; expires_at: Date | null }>(
    `SELECT id, name, role, expires_at FROM api_keys
     WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
    [hashApiKey(key)],
  );
  const row = rows[0];
  return row
    ? { principal: { keyId: row.id, name: row.name, role: row.role }, expiresAt: row.expires_at }
    : undefined;
}

/** Counts keys that can still be used (first-run detection). */
export async function countLiveApiKeys(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())',
  );
  return rows[0]?.n ?? 0;
}

/**
 * Verifies presented keys with a short-lived cache in front of the database, so a busy client costs
 * one hash per request rather than a query. A verdict is kept for at most `ttlMs` and never past the
 * key's expiry. Revocation through this process clears the cache at once (`clear()`, which also
 * voids lookups still in flight, so an answer read before the revocation is not cached after it);
 * elsewhere (CLI, another replica) it takes effect within `ttlMs`.
 */
export function createKeyVerifier(pool: pg.Pool, ttlMs: number) {
  const cache = new Map<string, { principal: Principal | undefined; until: number }>();
  const lastUsedWritten = new Map<string, number>();
  const MAX = 10_000;
  // Bumped by clear(): a lookup that started under an older generation does not fill the cache.
  let generation = 0;
  return {
    async verify(key: string): Promise<Principal | undefined> {
      const now = Date.now();
      const hit = cache.get(key);
      if (hit) {
        if (hit.until > now) return hit.principal;
        cache.delete(key);
      }
      const started = generation;
      const found = await findApiKey(pool, key);
      const principal = found?.principal;
      if (ttlMs > 0 && started === generation) {
        if (cache.size >= MAX) cache.clear();
        // Unknown keys are cached too (briefly), so guessing does not turn into database load.
        const expires = found?.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
        cache.set(key, { principal, until: Math.min(now + ttlMs, expires) });
      }
      if (principal && (lastUsedWritten.get(principal.keyId) ?? 0) < now - 60_000) {
        lastUsedWritten.set(principal.keyId, now);
        pool
          .query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [principal.keyId])
          .catch(() => {});
      }
      return principal;
    },
    /** Forgets every cached verdict, and those of lookups in flight (after a revocation or a role change). */
    clear(): void {
      generation++;
      cache.clear();
    },
  };
}

/** The key verifier's interface. */
export type KeyVerifier = ReturnType<typeof createKeyVerifier>;
