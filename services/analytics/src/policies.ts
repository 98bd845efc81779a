import {
  type CompiledPolicy,
  compilePolicy,
  type EvaluationContext,
  evaluateFlow,
  type FlowEntry,
  policyInForce,
  type Rule,
  type Violation,
} from '@wardwatch/policy-engine';
import type pg from 'pg';
import { OUTBOUND, type ProfileEntry } from './model/device-model.ts';

// Device policies (written by the policy service into `policies`, `policy_assignments`, `server_groups`)
// as the analytics worker loads them; what they allow is the policy engine's (@wardwatch/policy-engine).

export type { CompiledPolicy, Violation } from '@wardwatch/policy-engine';

/** The policies in force, as of the latest load. */
export interface PolicySet {
  /** The policy in force for a device: its own assignment, else its class's. */
  resolve(ip: string, deviceClass: string): CompiledPolicy | undefined;
  /** Number of enabled policies. */
  size(): number;
  /** Analyst class overrides, by device address. */
  overrides: ReadonlyMap<string, string>;
  /** Server groups, and device classes (loaded only when some rule names a peer class). */
  context: EvaluationContext;
}

/** An empty policy set (before the first load). */
export const NO_POLICIES: PolicySet = {
  resolve: () => undefined,
  size: () => 0,
  overrides: new Map(),
  context: { groups: new Map(), classes: new Map() },
};

/**
 * Loads the enabled policies, their assignments, the server groups and (only when a rule names a peer
 * class) the classes of all devices; also the analysts' class overrides. Read outside any write
 * transaction: policies change rarely and a reload every few seconds is enough.
 */
export async function loadPolicies(pool: pg.Pool): Promise<PolicySet> {
  const [pol, asg, grp, ovr] = await Promise.all([
    pool.query<{ id: number; name: string; rules: Rule[]; internal_only: boolean; action: string }>(
      'SELECT id, name, rules, internal_only, action FROM policies WHERE enabled',
    ),
    pool.query<{ policy_id: number; device_ip: string | null; device_class: string | null }>(
      'SELECT policy_id, host(device_ip) AS device_ip, device_class FROM policy_assignments',
    ),
    pool.query<{ name: string; cidrs: string[] }>('SELECT name, cidrs::text[] AS cidrs FROM server_groups'),
    pool.query<{ ip: string; class_override: string }>(
      'SELECT host(ip) AS ip, class_override FROM devices WHERE class_override IS NOT NULL',
    ),
  ]);
  const groups = new Map(grp.rows.map((g) => [g.name, g.cidrs]));
  const policies = pol.rows.map((p) => ({
    ...compilePolicy(
      {
        id: Number(p.id),
        name: p.name,
        rules: p.rules,
        internalOnly: p.internal_only,
        action: p.action === 'quarantine' ? 'quarantine' : 'alert',
      },
      groups,
    ),
    enabled: true,
  }));
  const inForce = policyInForce(
    policies,
    asg.rows.map((a) => ({ policyId: a.policy_id, deviceIp: a.device_ip, deviceClass: a.device_class })),
  );
  const needClasses = policies.some((p) => p.rules.some((r) => 'class' in r.rule.peer));
  const classes = new Map<string, string>();
  if (needClasses) {
    const res = await pool.query<{ ip: string; cls: string }>(
      'SELECT host(ip) AS ip, COALESCE(class_override, class) AS cls FROM devices',
    );
    for (const r of res.rows) classes.set(r.ip, r.cls);
  }
  return {
    resolve: inForce.resolve,
    size: inForce.size,
    overrides: new Map(ovr.rows.map((r) => [r.ip, r.class_override])),
    context: { groups, classes },
  };
}

/** The profile entry being judged, as the policy engine reads it (one object, reused). */
const judged: FlowEntry = {
  peer: '',
  servicePort: 0,
  protocol: 0,
  direction: 'outbound',
  peerInternal: false,
};

/**
 * The profile entries changed since the last commit that a policy does not allow (no rule matches), and
 * those whose newest flow-time minute carries more than the matching rule's `maxBytesPerMinute`.
 */
export function evaluatePolicy(
  set: PolicySet,
  policy: CompiledPolicy,
  entries: Iterable<ProfileEntry>,
): Violation[] {
  const out: Violation[] = [];
  for (const e of entries) {
    if (!e.dirty || e.flows === 0) continue;
    judged.peer = e.peer;
    judged.servicePort = e.port;
    judged.protocol = e.proto;
    judged.direction = e.dir === OUTBOUND ? 'outbound' : 'inbound';
    judged.peerInternal = e.internal;
    const v = evaluateFlow(
      policy,
      judged,
      { bytes: e.bytesOut + e.bytesIn, bytesPerMinute: e.rateBytes },
      set.context,
    );
    if (v) out.push(v);
  }
  return out;
}
