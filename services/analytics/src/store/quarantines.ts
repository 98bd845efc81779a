import type { QuarantineRequest } from '../detect.ts';
import type { Statement } from './statements.ts';

/**
 * The automatic quarantine as analytics writes it today, in the batch's transaction: the devices flag and
 * the open `quarantines` row. Kept in this one function so that it can be replaced by a request to the
 * policy service (which owns quarantine) without touching the rest of the plan.
 */
export function planQuarantines(out: Statement[], q: QuarantineRequest[]): void {
  if (q.length === 0) return;
  out.push({
    text: `UPDATE devices SET quarantined = true, updated_at = now() WHERE ip = ANY($1::inet[])`,
    values: [q.map((x) => x.device)],
  });
  out.push({
    text: `INSERT INTO quarantines (device_ip, reason, source, policy_id, created_by)
     SELECT u.d, u.reason, 'policy', u.pid, 'analytics'
     FROM unnest($1::inet[], $2::text[], $3::bigint[]) AS u(d, reason, pid)
     ON CONFLICT (device_ip) WHERE released_at IS NULL DO NOTHING`,
    values: [q.map((x) => x.device), q.map((x) => x.reason), q.map((x) => x.policyId)],
  });
}
