import type { QuarantineRequest } from '../detect.ts';
import type { Statement } from './statements.ts';

/** The payload of an `enforcement.requested` event (see the policy service's enforcer). */
export function requestPayload(q: QuarantineRequest): string {
  return JSON.stringify({
    deviceIp: q.device,
    policyId: q.policyId,
    reason: q.reason,
    exporters: q.exporters,
    lifeCriticalClass: q.lifeCriticalClass,
    evidence: q.evidence,
  });
}

/**
 * Quarantine is the policy service's: analytics only raises a request in the outbox, in the batch's
 * transaction, and the policy service's enforcer decides (exporter trust, life-critical devices, the
 * circuit breaker, dry run) and quarantines (services/policy/src/enforcer.ts).
 */
export function planQuarantines(out: Statement[], q: QuarantineRequest[]): void {
  if (q.length === 0) return;
  out.push({
    text: `INSERT INTO events (type, payload) SELECT 'enforcement.requested', u.p::jsonb FROM unnest($1::text[]) AS u(p)`,
    values: [q.map(requestPayload)],
  });
}
