import type pg from 'pg';
import { auditSystem } from './audit.ts';
import { conflict, notFound } from './errors.ts';
import { CLASS_OF_PARAM, policyInForceSql } from './policy-model.ts';

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

/**
 * Quarantines a device inside the caller's transaction: the record, the inventory flag and the
 * device.quarantined event commit together. `already` decides what an active quarantine means.
 */
export async function quarantineDevice(
  client: pg.PoolClient,
  q: {
    ip: string;
    reason: string;
    expiresAt: Date | null;
    source: 'manual' | 'policy';
    policyId?: number | null;
    actor: string;
  },
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
  const { rows } = await client.query<QuarantineRow>(
    `INSERT INTO quarantines (device_ip, reason, source, policy_id, created_by, expires_at)
     VALUES ($1::inet, $2, $3, $4, $5, $6) RETURNING ${QUARANTINE_COLUMNS}`,
    [q.ip, q.reason, q.source, q.policyId ?? null, q.actor, q.expiresAt],
  );
  await client.query('UPDATE devices SET quarantined = true, updated_at = now() WHERE ip = $1::inet', [q.ip]);
  const record = toQuarantine(rows[0]!);
  await client.query("INSERT INTO events (type, payload) VALUES ('device.quarantined', $1)", [
    JSON.stringify({ deviceIp: q.ip, quarantine: record }),
  ]);
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
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
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
      await client.query('COMMIT');
      n++;
    } catch {
      await client.query('ROLLBACK').catch(() => {});
    } finally {
      client.release();
    }
  }
  return n;
}

/**
 * Acts on policy.violated events: when the device's policy says `quarantine`, the device is
 * quarantined (source "policy"). Reads the outbox from its own cursor, a few seconds behind the head
 * so that events of transactions still in flight are not skipped.
 */
export async function enforcePolicyViolations(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  let n = 0;
  try {
    await client.query('BEGIN');
    await client.query("INSERT INTO outbox_cursors (name) VALUES ('enforcer') ON CONFLICT DO NOTHING");
    const cur = await client.query<{ last_event_id: number }>(
      "SELECT last_event_id FROM outbox_cursors WHERE name = 'enforcer' FOR UPDATE",
    );
    const from = cur.rows[0]!.last_event_id;
    const head = await client.query<{ upto: number | null }>(
      "SELECT max(id) AS upto FROM events WHERE id > $1 AND created_at < now() - interval '2 seconds'",
      [from],
    );
    const upto = head.rows[0]?.upto ?? from;
    const { rows } = await client.query<{ id: number; ip: string; kind: string; alert_id: number }>(
      `SELECT id, payload->>'deviceIp' AS ip, payload->'alert'->>'kind' AS kind, (payload->'alert'->>'id')::bigint AS alert_id
       FROM events WHERE id > $1 AND id <= $2 AND type = 'policy.violated' ORDER BY id`,
      [from, upto],
    );
    for (const e of rows) {
      if (!e.ip) continue;
      const p = await client.query<{ id: number; name: string; action: string }>(
        `SELECT id, name, action FROM ${policyInForceSql('$1::inet', CLASS_OF_PARAM, 'p.id, p.name, p.action')} f`,
        [e.ip],
      );
      const policy = p.rows[0];
      if (policy?.action !== 'quarantine') continue;
      await client.query('SAVEPOINT q');
      try {
        const q = await quarantineDevice(
          client,
          {
            ip: e.ip,
            reason: `policy ${policy.name} violated (alert ${e.alert_id}: ${e.kind})`,
            expiresAt: null,
            source: 'policy',
            policyId: policy.id,
            actor: 'system:policy',
          },
          'skip',
        );
        if (q) {
          await auditSystem(client, 'system:policy', {
            action: 'device.quarantine',
            targetType: 'device',
            targetId: e.ip,
            after: q,
          });
          n++;
        }
        await client.query('RELEASE SAVEPOINT q');
      } catch {
        await client.query('ROLLBACK TO SAVEPOINT q');
      }
    }
    await client.query("UPDATE outbox_cursors SET last_event_id = $1 WHERE name = 'enforcer'", [upto]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
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
         AND e.id <= COALESCE((SELECT min(last_event_id) FROM outbox_cursors), 0)
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
       ORDER BY e.id LIMIT 10000)`,
    [days],
  );
  return rowCount ?? 0;
}
