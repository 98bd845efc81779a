import type { Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { Where } from './query.ts';
import type { AuditRecord } from './schemas.ts';

/** One audited write: what happened to which target, with the state before and after. */
export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string;
  before?: unknown;
  after?: unknown;
}

/**
 * Records a write in the audit log; call it inside the transaction of the write itself so that the
 * log and the change commit (or roll back) together.
 */
export async function audit(db: pg.PoolClient | pg.Pool, req: FastifyRequest, e: AuditEntry): Promise<void> {
  const p = req.principal;
  await db.query(
    `INSERT INTO audit_log (actor_key_id, actor_name, actor_role, action, target_type, target_id, before, after,
       request_id, source_ip)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      p?.keyId ?? null,
      p?.name ?? 'system',
      p?.role ?? 'system',
      e.action,
      e.targetType,
      e.targetId,
      e.before === undefined ? null : JSON.stringify(e.before),
      e.after === undefined ? null : JSON.stringify(e.after),
      req.id,
      req.ip,
    ],
  );
}

/** Records an action taken by the service itself (expiry, policy enforcement). */
export async function auditSystem(db: pg.PoolClient | pg.Pool, actor: string, e: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (actor_name, actor_role, action, target_type, target_id, before, after)
     VALUES ($1, 'system', $2, $3, $4, $5, $6)`,
    [
      actor,
      e.action,
      e.targetType,
      e.targetId,
      e.before === undefined ? null : JSON.stringify(e.before),
      e.after === undefined ? null : JSON.stringify(e.after),
    ],
  );
}

/** Who an audited write is by: a request's caller, or the service or CLI named by a string. */
export type AuditActor = FastifyRequest | string;

/** Records a write by `actor`: {@link audit} for a request, {@link auditSystem} for a named actor. */
export function auditAs(db: pg.PoolClient | pg.Pool, actor: AuditActor, e: AuditEntry): Promise<void> {
  return typeof actor === 'string' ? auditSystem(db, actor, e) : audit(db, actor, e);
}

/**
 * Deletes audit entries older than `days` (at most 10,000 per call; the service calls it every ten
 * minutes when `api.auditRetentionDays` is set). Returns the number deleted.
 */
export async function pruneAudit(pool: pg.Pool, days: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM audit_log WHERE id IN (
       SELECT id FROM audit_log WHERE at < now() - make_interval(days => $1) ORDER BY at LIMIT 10000)`,
    [days],
  );
  return rowCount ?? 0;
}

/** One audit log entry as the API shows it. */
export type AuditView = Static<typeof AuditRecord>;

interface AuditRow {
  id: number;
  at: Date;
  actor_key_id: string | null;
  actor_name: string;
  actor_role: string;
  action: string;
  target_type: string;
  target_id: string;
  before: unknown;
  after: unknown;
  request_id: string | null;
  source_ip: string | null;
}

/** Reads up to `limit` audit entries matching `where`, newest first. */
export async function readAudit(db: pg.Pool, where: Where, limit: number): Promise<AuditView[]> {
  const { rows } = await db.query<AuditRow>(
    `SELECT id, at, actor_key_id, actor_name, actor_role, action, target_type, target_id, before, after, request_id, source_ip
     FROM audit_log ${where.sql()} ORDER BY id DESC LIMIT ${where.param(limit)}`,
    where.params,
  );
  return rows.map((r) => ({
    id: r.id,
    at: r.at.toISOString(),
    actorKeyId: r.actor_key_id,
    actorName: r.actor_name,
    actorRole: r.actor_role,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    before: r.before,
    after: r.after,
    requestId: r.request_id,
    sourceIp: r.source_ip,
  }));
}
