import { withTransaction } from '@wardwatch/storage';
import type pg from 'pg';
import { type AuditActor, auditAs } from './audit.ts';
import { type QuarantineRecord, quarantineDevice } from './enforcement.ts';
import { conflict, notFound } from './errors.ts';
import { advanceOutbox, outboxPosition, readOutbox } from './outbox/cursor.ts';
import { CLASS_OF_PARAM, policyInForceSql } from './policy-model.ts';

// The policy service's side of automatic enforcement. Analytics only raises `enforcement.requested`
// (the device, the policy it judged against, the violating flows and the exporter that reported them);
// this module decides, and every decision is recorded in `enforcement_decisions`:
//   untrusted   the evidence came from an exporter that is not trusted: the alert stands, nothing more
//   dry-run     the policy is in dry run: what would have happened is recorded, nothing is done
//   requested   a life-critical device, or the circuit breaker is open: a person approves or rejects
//   quarantined an automatic quarantine with an expiry, audited as `analytics`, raising device.quarantined

/** How automatic enforcement is bounded. */
export interface EnforcementOptions {
  /** Expiry of every automatic quarantine, milliseconds. */
  autoQuarantineExpiryMs: number;
  /** At most this many automatic quarantines in any hour, site-wide; beyond it, requests only. */
  maxAutoQuarantinesPerHour: number;
  /** CIDRs of exporters trusted without an explicit decision (collector.exporterAllowlist). */
  trustedCidrs: readonly string[];
}

/** What analytics asks for (payload of an `enforcement.requested` event). */
export interface EnforcementRequest {
  deviceIp: string;
  policyId: number;
  reason: string;
  /** The exporter(s) that reported the violating flows. */
  exporters: string[];
  /** Analytics' signatures flag the device's class life-critical (a custom signature file may add classes). */
  lifeCriticalClass?: boolean;
  evidence: Record<string, unknown>;
}

/** What the enforcer did with one request. */
export type Decision =
  | 'quarantined'
  | 'requested'
  | 'dry-run'
  | 'untrusted'
  | 'already'
  | 'no-device'
  | 'no-policy'
  | 'not-quarantine'
  | 'invalid';

/** SQL: the trust state of the exporter at `addr` (an explicit decision, else the allowlist, else pending). */
export function trustStateSql(addr: string, cidrs: string): string {
  return `COALESCE((SELECT state FROM exporter_trust WHERE address = ${addr}),
    CASE WHEN ${addr} <<= ANY(${cidrs}) THEN 'trusted' ELSE 'pending' END)`;
}

/** A quarantine waiting for a person. */
export interface QuarantineRequestRecord {
  id: number;
  deviceIp: string;
  policyId: number | null;
  reason: string;
  why: string;
  evidence: unknown;
  status: string;
  createdAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  decisionNote: string | null;
  quarantineId: number | null;
}

export const REQUEST_COLUMNS = `id, host(device_ip) AS device_ip, policy_id, reason, why, evidence, status, created_at,
  decided_at, decided_by, decision_note, quarantine_id`;

/** The API shape of a quarantine_requests row. */
export function toRequest(r: {
  id: string | number;
  device_ip: string;
  policy_id: string | number | null;
  reason: string;
  why: string;
  evidence: unknown;
  status: string;
  created_at: Date;
  decided_at: Date | null;
  decided_by: string | null;
  decision_note: string | null;
  quarantine_id: string | number | null;
}): QuarantineRequestRecord {
  return {
    id: Number(r.id),
    deviceIp: r.device_ip,
    policyId: r.policy_id === null ? null : Number(r.policy_id),
    reason: r.reason,
    why: r.why,
    evidence: r.evidence,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    decidedAt: r.decided_at?.toISOString() ?? null,
    decidedBy: r.decided_by,
    decisionNote: r.decision_note,
    quarantineId: r.quarantine_id === null ? null : Number(r.quarantine_id),
  };
}

/**
 * Opens a request for a person (one pending per device), with its `quarantine.requested` event and a
 * `quarantine_requested` alert so the SOC sees it where it looks.
 */
async function openRequest(
  client: pg.PoolClient,
  r: { ip: string; policyId: number; reason: string; why: string; evidence: unknown },
): Promise<QuarantineRequestRecord | undefined> {
  const { rows } = await client.query(
    `INSERT INTO quarantine_requests (device_ip, policy_id, reason, why, evidence)
     VALUES ($1::inet, $2, $3, $4, $5) ON CONFLICT (device_ip) WHERE status = 'pending' DO NOTHING
     RETURNING ${REQUEST_COLUMNS}`,
    [r.ip, r.policyId, r.reason, r.why, JSON.stringify(r.evidence)],
  );
  if (!rows[0]) return undefined;
  const request = toRequest(rows[0]);
  await client.query("INSERT INTO events (type, payload) VALUES ('quarantine.requested', $1)", [
    JSON.stringify({ deviceIp: r.ip, request }),
  ]);
  const title =
    r.why === 'life-critical'
      ? `Quarantine of life-critical device ${r.ip} awaits a person's decision (${r.reason})`
      : `Automatic quarantine held back (circuit breaker open): quarantine of ${r.ip} awaits a decision`;
  await client.query(
    `INSERT INTO alerts AS a (device_ip, kind, severity, title, evidence, first_seen, last_seen)
     VALUES ($1::inet, 'quarantine_requested', 'critical', $2, $3, now(), now())
     ON CONFLICT (device_ip, kind) WHERE status <> 'resolved' DO UPDATE SET
       title = EXCLUDED.title, evidence = EXCLUDED.evidence, last_seen = now(),
       occurrences = a.occurrences + 1, updated_at = now()`,
    [r.ip, title, JSON.stringify({ requestId: request.id, why: r.why, policyId: r.policyId })],
  );
  return request;
}

/** Decides one request inside the caller's transaction. */
async function decide(
  client: pg.PoolClient,
  eventId: number,
  req: EnforcementRequest,
  o: EnforcementOptions,
): Promise<{ decision: Decision; detail: Record<string, unknown> }> {
  const ip = req.deviceIp;
  const dev = await client.query<{ life_critical: boolean; quarantined: boolean }>(
    `SELECT COALESCE(d.life_critical, $2 OR EXISTS (SELECT 1 FROM life_critical_classes c
                                               WHERE c.class = COALESCE(d.class_override, d.class))) AS life_critical,
            d.quarantined
     FROM devices d WHERE d.ip = $1::inet FOR UPDATE`,
    [ip, req.lifeCriticalClass === true],
  );
  if (!dev.rows[0]) return { decision: 'no-device', detail: {} };
  // The policy in force now, not the one analytics had cached: a policy changed or disabled since
  // the flows were judged decides nothing.
  const p = await client.query<{ id: string; name: string; action: string; dry_run: boolean }>(
    `SELECT id, name, action, dry_run FROM ${policyInForceSql('$1::inet', CLASS_OF_PARAM, 'p.id, p.name, p.action, p.dry_run')} f`,
    [ip],
  );
  const policy = p.rows[0];
  if (!policy || Number(policy.id) !== Number(req.policyId)) return { decision: 'no-policy', detail: {} };
  if (policy.action !== 'quarantine') return { decision: 'not-quarantine', detail: {} };
  const exporters = req.exporters.length > 0 ? req.exporters : [''];
  const trust = await client.query<{ exporter: string; state: string }>(
    `SELECT e AS exporter, CASE WHEN e = '' THEN 'unknown' ELSE ${trustStateSql('e::inet', '$2::cidr[]')} END AS state
     FROM unnest($1::text[]) AS e`,
    [exporters, o.trustedCidrs],
  );
  const untrusted = trust.rows.filter((t) => t.state !== 'trusted');
  if (untrusted.length > 0) return { decision: 'untrusted', detail: { exporters: trust.rows } };
  if (dev.rows[0].quarantined) return { decision: 'already', detail: {} };
  const reason = `policy ${policy.name} violated (${req.reason})`;
  const evidence = { ...req.evidence, exporters: req.exporters, policyId: Number(policy.id), eventId };
  let why: string | undefined;
  if (dev.rows[0].life_critical) why = 'life-critical';
  else {
    // Serialises breaker checks site-wide (the transaction-scoped lock goes with the commit).
    await client.query("SELECT pg_advisory_xact_lock(hashtext('wardwatch.enforcement.breaker'))");
    const n = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM quarantines
       WHERE created_by = 'analytics' AND created_at > now() - interval '1 hour'`,
    );
    if ((n.rows[0]?.n ?? 0) >= o.maxAutoQuarantinesPerHour) why = 'breaker';
  }
  if (policy.dry_run)
    return { decision: 'dry-run', detail: { would: why ? 'request' : 'quarantine', why, reason } };
  if (why) {
    const r = await openRequest(client, { ip, policyId: Number(policy.id), reason, why, evidence });
    return { decision: 'requested', detail: { why, requestId: r?.id ?? null } };
  }
  const q = await quarantineDevice(
    client,
    {
      ip,
      reason,
      expiresAt: new Date(Date.now() + o.autoQuarantineExpiryMs),
      source: 'policy',
      policyId: Number(policy.id),
      actor: 'analytics',
      evidence,
    },
    'skip',
  );
  return q
    ? { decision: 'quarantined', detail: { quarantineId: q.id } }
    : { decision: 'already', detail: {} };
}

/**
 * One round of the enforcer: reads `enforcement.requested` events after its outbox position (commit
 * order, see outbox/cursor.ts) and decides each in the same transaction as its position, so a request is
 * decided exactly once. Returns the decisions taken.
 */
export async function enforceRequests(
  pool: pg.Pool,
  o: EnforcementOptions,
  limit = 200,
): Promise<Array<{ eventId: number; deviceIp: string; decision: Decision }>> {
  return withTransaction(pool, async (client) => {
    const from = await outboxPosition(client, 'enforcer', true);
    const events = await readOutbox<EnforcementRequest>(client, from, limit);
    const out: Array<{ eventId: number; deviceIp: string; decision: Decision }> = [];
    for (const e of events) {
      if (e.type !== 'enforcement.requested' || typeof e.payload.deviceIp !== 'string') continue;
      let outcome: { decision: Decision; detail: Record<string, unknown> };
      await client.query('SAVEPOINT request');
      try {
        outcome = await decide(client, e.id, e.payload, o);
        await client.query('RELEASE SAVEPOINT request');
      } catch (err) {
        // A request PostgreSQL refuses as data (a malformed address, say) is recorded and passed; any
        // other failure rolls the round back and it is tried again.
        const code = (err as { code?: string }).code ?? '';
        if (!code.startsWith('22')) throw err;
        await client.query('ROLLBACK TO SAVEPOINT request');
        outcome = { decision: 'invalid', detail: { error: (err as Error).message.slice(0, 200) } };
      }
      const { decision, detail } = outcome;
      await client.query(
        `INSERT INTO enforcement_decisions (event_id, device_ip, policy_id, outcome, detail)
         VALUES ($1, $2::inet, $3, $4, $5)`,
        [e.id, e.payload.deviceIp, e.payload.policyId ?? null, decision, JSON.stringify(detail)],
      );
      out.push({ eventId: e.id, deviceIp: e.payload.deviceIp, decision });
    }
    const last = events.at(-1);
    if (last) await advanceOutbox(client, 'enforcer', last.seq);
    return out;
  });
}

/**
 * A person's decision on a pending request, in one call: approving quarantines the device through the
 * one quarantine path (audited as that person); rejecting closes the request. Both are audited.
 */
export async function decideRequest(
  pool: pg.Pool,
  d: { id: number; approve: boolean; note: string; actor: AuditActor; expiresAt: Date | null },
): Promise<{ request: QuarantineRequestRecord; quarantine: QuarantineRecord | null }> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query(
      `SELECT ${REQUEST_COLUMNS} FROM quarantine_requests WHERE id = $1 FOR UPDATE`,
      [d.id],
    );
    if (!rows[0]) throw notFound('REQUEST_NOT_FOUND', `no quarantine request ${d.id}`);
    const before = toRequest(rows[0]);
    if (before.status !== 'pending')
      throw conflict('REQUEST_DECIDED', `request ${d.id} is already ${before.status}`);
    const actorName = typeof d.actor === 'string' ? d.actor : (d.actor.principal?.name ?? 'unknown');
    let quarantine: QuarantineRecord | null = null;
    if (d.approve) {
      quarantine =
        (await quarantineDevice(client, {
          ip: before.deviceIp,
          reason: `${before.reason}; approved by ${actorName}: ${d.note}`,
          expiresAt: d.expiresAt,
          source: 'policy',
          policyId: before.policyId,
          actor: d.actor,
          evidence: { request: before.id, ...(before.evidence as object) },
        })) ?? null;
    }
    const upd = await client.query(
      `UPDATE quarantine_requests SET status = $2, decided_at = now(), decided_by = $3, decision_note = $4,
         quarantine_id = $5 WHERE id = $1 RETURNING ${REQUEST_COLUMNS}`,
      [d.id, d.approve ? 'approved' : 'rejected', actorName, d.note, quarantine?.id ?? null],
    );
    const request = toRequest(upd.rows[0]);
    await client.query(
      `UPDATE alerts SET status = 'resolved', resolution = $2, updated_at = now()
       WHERE device_ip = $1::inet AND kind = 'quarantine_requested' AND status <> 'resolved'`,
      [before.deviceIp, d.approve ? 'quarantine approved' : 'quarantine rejected'],
    );
    await auditAs(client, d.actor, {
      action: d.approve ? 'quarantine-request.approve' : 'quarantine-request.reject',
      targetType: 'quarantine-request',
      targetId: String(d.id),
      before,
      after: request,
    });
    return { request, quarantine };
  });
}
