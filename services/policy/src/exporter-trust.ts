import { withTransaction } from '@wardwatch/storage';
import type pg from 'pg';
import { type AuditActor, auditAs } from './audit.ts';

// Exporter trust, owned by the policy service (table exporter_trust). An exporter is trusted when an
// admin said so or its address is inside collector.exporterAllowlist; a newly seen one is pending (its
// flows build the inventory and raise alerts, but are no evidence for automatic enforcement); a blocked
// one's packets are dropped by the collectors.

/** An exporter's trust state. */
export type TrustState = 'trusted' | 'pending' | 'blocked';

/** One exporter's trust as the API serves it. */
export interface ExporterTrust {
  address: string;
  state: TrustState;
  source: string;
  firstSeen: string;
  changedAt: string;
  changedBy: string;
}

interface TrustRow {
  address: string;
  state: TrustState;
  source: string;
  first_seen: Date;
  changed_at: Date;
  changed_by: string;
}

const COLUMNS = 'host(address) AS address, state, source, first_seen, changed_at, changed_by';

function toTrust(r: TrustRow): ExporterTrust {
  return {
    address: r.address,
    state: r.state,
    source: r.source,
    firstSeen: r.first_seen.toISOString(),
    changedAt: r.changed_at.toISOString(),
    changedBy: r.changed_by,
  };
}

/**
 * Records exporters seen for the first time: trusted when inside the allowlist, pending otherwise, each
 * with an `exporter.new` event (webhooks, SIEM). Returns the new ones.
 */
export async function noteExporters(
  pool: pg.Pool,
  addresses: readonly string[],
  trustedCidrs: readonly string[],
): Promise<ExporterTrust[]> {
  if (addresses.length === 0) return [];
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<TrustRow>(
      `INSERT INTO exporter_trust (address, state, source)
       SELECT a, CASE WHEN a <<= ANY($2::cidr[]) THEN 'trusted' ELSE 'pending' END,
              CASE WHEN a <<= ANY($2::cidr[]) THEN 'allowlist' ELSE 'seen' END
       FROM unnest($1::inet[]) AS a
       ON CONFLICT (address) DO NOTHING RETURNING ${COLUMNS}`,
      [addresses, trustedCidrs],
    );
    const added = rows.map(toTrust);
    for (const t of added)
      await client.query("INSERT INTO events (type, payload) VALUES ('exporter.new', $1)", [
        JSON.stringify({ exporter: t }),
      ]);
    return added;
  });
}

/** Every exporter's trust (an explicit row, or pending when never seen by the registry). */
export async function listTrust(pool: pg.Pool): Promise<ExporterTrust[]> {
  const { rows } = await pool.query<TrustRow>(
    `SELECT ${COLUMNS} FROM exporter_trust ORDER BY address LIMIT 10000`,
  );
  return rows.map(toTrust);
}

/** Sets an exporter's trust (audited); an exporter not seen yet is recorded with it. */
export async function setTrust(
  pool: pg.Pool,
  address: string,
  state: TrustState,
  actor: AuditActor,
): Promise<ExporterTrust> {
  const by = typeof actor === 'string' ? actor : (actor.principal?.name ?? 'unknown');
  return withTransaction(pool, async (client) => {
    const before = await client.query<TrustRow>(
      `SELECT ${COLUMNS} FROM exporter_trust WHERE address = $1::inet FOR UPDATE`,
      [address],
    );
    const { rows } = await client.query<TrustRow>(
      `INSERT INTO exporter_trust (address, state, source, changed_by) VALUES ($1::inet, $2, 'api', $3)
       ON CONFLICT (address) DO UPDATE SET state = EXCLUDED.state, source = 'api', changed_at = now(),
         changed_by = EXCLUDED.changed_by
       RETURNING ${COLUMNS}`,
      [address, state, by],
    );
    const after = toTrust(rows[0]!);
    await auditAs(client, actor, {
      action: `exporter.${state === 'trusted' ? 'trust' : state === 'blocked' ? 'block' : 'pending'}`,
      targetType: 'exporter',
      targetId: address,
      before: before.rows[0] ? toTrust(before.rows[0]) : null,
      after,
    });
    await client.query("INSERT INTO events (type, payload) VALUES ('exporter.trust_changed', $1)", [
      JSON.stringify({ exporter: after, previous: before.rows[0]?.state ?? null }),
    ]);
    return after;
  });
}
