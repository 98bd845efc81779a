import { withTransaction } from '@wardwatch/storage';
import type pg from 'pg';
import { type AuditActor, auditAs, auditSystem } from './audit.ts';
import { conflict, notFound } from './errors.ts';
import { PASSED_BY_EVERY_READER } from './outbox/cursor.ts';

/** A quarantine record as the API serves it. */
export interface QuarantineRecord {
  id: number;
  deviceIp: string;
  reason: string;
  source: string;
  policyId: number | null;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  releasedAt: string | null;
  releasedBy: string | null;
  releaseReason: string | null;
}

export const QUARANTINE_COLUMNS = `id, host(device_ip) AS device_ip, reason, source, policy_id, created_by, created_at,
  expires_at, released_at, released_by, release_reason`;

interface QuarantineRow {
  id: number;
  device_ip: string;
  reason: string;
  source: string;
  policy_id: number | null;
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  released_at: Date | null;
  released_by: string | null;
  release_reason: string | null;
}

/** The API shape of a quarantines row. */
export function toQuarantine(r: QuarantineRow): QuarantineRecord {
  return {
    id: r.id,
    deviceIp: r.device_ip,
    reason: r.reason,
    source: r.source,
    policyId: r.policy_id,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    expiresAt: r.expires_at?.toISOString() ?? null,
    releasedAt: r.released_at?.toISOString() ?? null,
    releasedBy: r.released_by,
    releaseReason: r.release_reason,
  };
}

/** What a quarantine rests on: who asks, why, until when, and (for a policy's) the evidence. */
export interface QuarantineOrder {
  ip: string;
  reason: string;
  expiresAt: Date | null;
  source: 'manual' | 'policy';
  policyId?: number | null;
  /** The request (API, CLI key) or the named system actor (`analytics` for automatic quarantines). */
  actor: AuditActor;
  evidence?: unknown;
}

/**
 * The one quarantine path (API, CLI and automatic enforcement all call it), inside the caller's
 * transaction: the record, the inventory flag (which the feeds read), the `device.quarantined` event and
 * the audit row commit together. `already` decides what an active quarantine means.
 */
export async function quarantineDevice(
  client: pg.PoolClient,
  q: QuarantineOrder,
  already: 'conflict' | 'skip' = 'conflict',
): Promise<QuarantineRecord | undefined> {
  const dev = await client.query('SELECT 1 FROM devices WHERE ip = $1::inet FOR UPDATE', [q.ip]);
  if (!dev.rows[0]) throw notFound('DEVICE_NOT_FOUND', `no device ${q.ip}`);
  const active = await client.query(
    'SELECT id FROM quarantines WHERE device_ip = $1::inet AND released_at IS NULL',
    [q.ip],
  );
  if (active.rows[0]) {
    if (already === 'skip') return undefined;
    throw conflict('ALREADY_QUARANTINED', `${q.ip} is already quarantined (record ${active.rows[0].id})`);
  }
  const actorName = typeof q.actor === 'string' ? q.actor : (q.actor.principal?.name ?? 'unknown');
  const { rows } = await client.query<QuarantineRow>(
    `INSERT INTO quarantines (device_ip, reason, source, policy_id, created_by, expires_at, evidence)
     VALUES ($1::inet, $2, $3, $4, $5, $6, $7) RETURNING ${QUARANTINE_COLUMNS}`,
    [
      q.ip,
      q.reason,
      q.source,
      q.policyId ?? null,
      actorName,
      q.expiresAt,
      q.evidence === undefined ? null : JSON.stringify(q.evidence),
    ],
  );
  await client.query('UPDATE devices SET quarantined = true, updated_at = now() WHERE ip = $1::inet', [q.ip]);
  const record = toQuarantine(rows[0]!);
  await client.query("INSERT INTO events (type, payload) VALUES ('device.quarantined', $1)", [
    JSON.stringify({ deviceIp: q.ip, quarantine: record, evidence: q.evidence ?? null }),
  ]);
  await auditAs(client, q.actor, {
    action: 'device.quarantine',
    targetType: 'device',
    targetId: q.ip,
    before: null,
    after: q.evidence === undefined ? record : { ...record, evidence: q.evidence },
  });
  return record;
}

/** Releases a device's active quarantine inside the caller's transaction; emits device.released. */
export async function releaseDevice(
  client: pg.PoolClient,
  r: { ip: string; reason: string; actor: string },
): Promise<{ before: QuarantineRecord; after: QuarantineRecord }> {
  const dev = await client.query('SELECT 1 FROM devices WHERE ip = $1::inet FOR UPDATE', [r.ip]);
  if (!dev.rows[0]) throw notFound('DEVICE_NOT_FOUND', `no device ${r.ip}`);
  const { rows } = await client.query<QuarantineRow>(
    `SELECT ${QUARANTINE_COLUMNS} FROM quarantines WHERE device_ip = $1::inet AND released_at IS NULL FOR UPDATE`,
    [r.ip],
  );
  if (!rows[0]) throw conflict('NOT_QUARANTINED', `${r.ip} is not quarantined`);
  const upd = await client.query<QuarantineRow>(
    `UPDATE quarantines SET released_at = now(), released_by = $2, release_reason = $3 WHERE id = $1
     RETURNING ${QUARANTINE_COLUMNS}`,
    [rows[0].id, r.actor, r.reason],
  );
  await client.query('UPDATE devices SET quarantined = false, updated_at = now() WHERE ip = $1::inet', [
    r.ip,
  ]);
  const after = toQuarantine(upd.rows[0]!);
  await client.query("INSERT INTO events (type, payload) VALUES ('device.released', $1)", [
    JSON.stringify({ deviceIp: r.ip, quarantine: after }),
  ]);
  return { before: toQuarantine(rows[0]), after };
}

/** Releases every quarantine whose expiry has passed; returns how many. */
export async function releaseExpired(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ ip: string }>(
    `SELECT host(device_ip) AS ip FROM quarantines
     WHERE released_at IS NULL AND expires_at IS NOT NULL AND expires_at <= now() LIMIT 100`,
  );
  let n = 0;
  for (const { ip } of rows) {
    // One transaction per device, re-checked under its lock (a person may have released it meanwhile);
    // a real failure is thrown, not dropped.
    const released = await withTransaction(pool, async (client) => {
      const open = await client.query(
        `SELECT 1 FROM quarantines WHERE device_ip = $1::inet AND released_at IS NULL
           AND expires_at IS NOT NULL AND expires_at <= now() FOR UPDATE`,
        [ip],
      );
      if (!open.rows[0]) return false;
      const { before, after } = await releaseDevice(client, {
        ip,
        reason: 'expired',
        actor: 'system:expiry',
      });
      await auditSystem(client, 'system:expiry', {
        action: 'device.release',
        targetType: 'device',
        targetId: ip,
        before,
        after,
      });
      return true;
    });
    if (released) n++;
  }
  return n;
}

/**
 * Deletes outbox events older than `days` whose deliveries are all settled and that every outbox
 * reader has passed (their delivery log goes with them); at most 10 000 a call, to keep it short.
 */
export async function pruneEvents(pool: pg.Pool, days: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM events WHERE id IN (
       SELECT e.id FROM events e
       WHERE e.created_at < now() - make_interval(days => $1)
         AND ${PASSED_BY_EVERY_READER}
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
       ORDER BY e.id LIMIT 10000)`,
    [days],
  );
  return rowCount ?? 0;
}

/**
 * Quarantines a device in its own transaction through {@link quarantineDevice} (for callers without a
 * transaction, such as the CLI); `actor` names who asks in the audit log.
 */
export function quarantineAs(pool: pg.Pool, q: QuarantineOrder): Promise<QuarantineRecord | undefined> {
  return withTransaction(pool, (client) => quarantineDevice(client, q));
}

/** Releases a device in its own transaction, audited as `actor` (the CLI's path; the API's is the same). */
export function releaseAs(
  pool: pg.Pool,
  r: { ip: string; reason: string; actor: string },
): Promise<QuarantineRecord> {
  return withTransaction(pool, async (client) => {
    const { before, after } = await releaseDevice(client, r);
    await auditSystem(client, r.actor, {
      action: 'device.release',
      targetType: 'device',
      targetId: r.ip,
      before,
      after,
    });
    return after;
  });
}
