import {
  type CompiledRule,
  compiledRuleAllows,
  compileRule,
  type EvaluationContext,
  type FlowEntry,
  parsePrefix,
  type Rule,
} from './rules.ts';

// A policy (an allowlist of rules, internal-only or not, alerting or quarantining), the policy in force
// for a device, and the judgement of a flow entry against it.

/** A policy as both services hold it. */
export interface PolicyDefinition {
  id: number;
  name: string;
  rules: Rule[];
  /** Any external peer violates the policy, whatever the rules say. */
  internalOnly: boolean;
  action: 'alert' | 'quarantine';
  /** A disabled policy is a draft: shown, never in force. */
  enabled: boolean;
}

/** A policy compiled for judging against one set of server groups. */
export interface CompiledPolicy {
  id: number;
  name: string;
  internalOnly: boolean;
  action: 'alert' | 'quarantine';
  rules: CompiledRule[];
  /** Rules that can match nothing as written (an unknown server group, a bad CIDR, no peer): why. */
  invalid: string[];
}

/** Compiles a policy's rules against the server groups (a rule that cannot compile allows nothing). */
export function compilePolicy(
  p: Pick<PolicyDefinition, 'id' | 'name' | 'rules' | 'internalOnly' | 'action'>,
  groups: ReadonlyMap<string, readonly string[]>,
): CompiledPolicy {
  const rules: CompiledRule[] = [];
  const invalid: string[] = [];
  for (const r of Array.isArray(p.rules) ? p.rules : []) {
    try {
      rules.push(compileRule(r, groups));
    } catch (err) {
      invalid.push(`${JSON.stringify(r)}: ${(err as Error).message}`);
    }
  }
  return { id: p.id, name: p.name, internalOnly: p.internalOnly, action: p.action, rules, invalid };
}

/** The first rule of the policy that allows the entry (internal-only not considered), if any. */
export function allowingRule(
  policy: CompiledPolicy,
  e: FlowEntry,
  ctx: EvaluationContext,
): CompiledRule | undefined {
  const p = parsePrefix(e.peer);
  for (const r of policy.rules) if (compiledRuleAllows(r, p, e, ctx)) return r;
  return undefined;
}

/** What a policy says about one flow entry. */
export type Judgement =
  | { allowed: true; rule: Rule }
  | { allowed: false; reason: 'external-peer' | 'no-rule' };

/** Judges one flow entry against a policy: an internal-only policy refuses external peers, else a rule must allow it. */
export function judge(policy: CompiledPolicy, e: FlowEntry, ctx: EvaluationContext): Judgement {
  if (policy.internalOnly && !e.peerInternal) return { allowed: false, reason: 'external-peer' };
  const r = allowingRule(policy, e, ctx);
  return r ? { allowed: true, rule: r.rule } : { allowed: false, reason: 'no-rule' };
}

/** True when `bytesPerMinute` exceeds the rule's ceiling (a rule without one has none). */
export function overRate(rule: Rule, bytesPerMinute: number): boolean {
  return rule.maxBytesPerMinute !== undefined && bytesPerMinute > rule.maxBytesPerMinute;
}

/** A policy's assignment: to one device (address) or to a device class. */
export interface PolicyAssignment {
  policyId: number;
  deviceIp: string | null;
  deviceClass: string | null;
}

/** The policy in force for each device, by the one rule of {@link policyInForce}. */
export interface PolicyIndex<P> {
  /** The policy in force for a device with this address and effective class. */
  resolve(ip: string, deviceClass: string): P | undefined;
  /** Number of enabled policies. */
  size(): number;
}

/**
 * Indexes policies and their assignments by the one rule for the policy in force: the device's own
 * assignment if its policy is enabled, else its class's if enabled, else none. A disabled policy is a
 * draft: shown, never in force.
 */
export function policyInForce<P extends { id: number; enabled: boolean }>(
  policies: Iterable<P>,
  assignments: Iterable<PolicyAssignment>,
): PolicyIndex<P> {
  const enabled = new Map<number, P>();
  for (const p of policies) if (p.enabled) enabled.set(Number(p.id), p);
  const byDevice = new Map<string, P>();
  const byClass = new Map<string, P>();
  for (const a of assignments) {
    const p = enabled.get(Number(a.policyId));
    if (!p) continue;
    if (a.deviceIp) byDevice.set(a.deviceIp, p);
    else if (a.deviceClass) byClass.set(a.deviceClass, p);
  }
  return {
    resolve: (ip, deviceClass) => byDevice.get(ip) ?? byClass.get(deviceClass),
    size: () => enabled.size,
  };
}

/** One flow entry a policy does not allow, or allows at a lower rate. */
export interface Violation {
  peer: string;
  port: number;
  protocol: number;
  direction: 'from-device' | 'to-device';
  /** The entry's bytes (`not-allowed`) or bytes in its newest minute (`over-rate`). */
  bytes: number;
  reason: 'not-allowed' | 'over-rate';
}

/**
 * Evaluates one flow entry with its traffic against a policy's rules: `not-allowed` when no rule allows
 * it, `over-rate` when the allowing rule's `maxBytesPerMinute` is exceeded, else undefined. Internal-only
 * is not judged here (see {@link judge}): analytics reports a device of such a policy reaching the
 * internet as its own `external_contact` alert.
 */
export function evaluateFlow(
  policy: CompiledPolicy,
  e: FlowEntry,
  traffic: { bytes: number; bytesPerMinute: number },
  ctx: EvaluationContext,
): Violation | undefined {
  const rule = allowingRule(policy, e, ctx);
  const base = {
    peer: e.peer,
    port: e.servicePort,
    protocol: e.protocol,
    direction: e.direction === 'outbound' ? ('from-device' as const) : ('to-device' as const),
  };
  if (!rule) return { ...base, bytes: traffic.bytes, reason: 'not-allowed' };
  if (overRate(rule.rule, traffic.bytesPerMinute))
    return { ...base, bytes: Math.round(traffic.bytesPerMinute), reason: 'over-rate' };
  return undefined;
}
