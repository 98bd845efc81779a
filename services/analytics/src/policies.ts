import { createDeviceMatcher, type DeviceMatcher } from '@wardwatch/flow-schema';
import type pg from 'pg';
import { INBOUND, OUTBOUND, type ProfileEntry } from './model/device-model.ts';

// Device policies (written by the policy service into `policies`, `policy_assignments`, `server_groups`)
// as the analytics worker evaluates them: an allowlist of rules per device, a device assignment
// winning over a class assignment.

/** A policy rule as stored (see migration 1764374500000). */
interface StoredRule {
  peer: { cidr?: string; class?: string; group?: string; local?: boolean; any?: boolean };
  protocol?: number;
  ports?: number[];
  direction?: 'from-device' | 'to-device' | 'either';
  maxBytesPerMinute?: number;
}

/** A rule compiled for evaluation. */
interface CompiledRule {
  text: string;
  peer: DeviceMatcher | { kind: 'class'; name: string } | { kind: 'local' } | { kind: 'any' } | undefined;
  protocol: number | undefined;
  ports: ReadonlySet<number> | undefined;
  direction: number | undefined;
  maxBytesPerMinute: number | undefined;
}

/** A policy compiled for evaluation. */
export interface CompiledPolicy {
  id: number;
  name: string;
  internalOnly: boolean;
  action: 'alert' | 'quarantine';
  rules: CompiledRule[];
  /** Rules that could not be compiled (an unknown server group, a bad CIDR): they match nothing. */
  invalid: string[];
}

/** One profile entry a policy does not allow. */
export interface Violation {
  peer: string;
  port: number;
  protocol: number;
  direction: string;
  bytes: number;
  reason: 'not-allowed' | 'over-rate';
}

/** The policies in force, as of the latest load. */
export interface PolicySet {
  /** The policy of a device: its own assignment, else its class's. */
  resolve(ip: string, deviceClass: string): CompiledPolicy | undefined;
  /** Number of enabled policies. */
  size(): number;
  /** Analyst class overrides, by device address. */
  overrides: ReadonlyMap<string, string>;
  /** A peer device's class (loaded only when some rule names a peer class). */
  peerClass(ip: string): string | undefined;
}

/** An empty policy set (before the first load). */
export const NO_POLICIES: PolicySet = {
  resolve: () => undefined,
  size: () => 0,
  overrides: new Map(),
  peerClass: () => undefined,
};

function compileRule(
  r: StoredRule,
  groups: Map<string, string[]>,
  invalid: string[],
): CompiledRule | undefined {
  const text = JSON.stringify(r);
  let peer: CompiledRule['peer'];
  try {
    if (r.peer?.cidr) peer = createDeviceMatcher([r.peer.cidr]);
    else if (r.peer?.group) {
      const cidrs = groups.get(r.peer.group);
      if (!cidrs) {
        invalid.push(`${text}: unknown server group`);
        return undefined;
      }
      peer = createDeviceMatcher(cidrs.length > 0 ? cidrs : ['255.255.255.255/32']);
    } else if (r.peer?.class) peer = { kind: 'class', name: r.peer.class };
    else if (r.peer?.local) peer = { kind: 'local' };
    else if (r.peer?.any) peer = { kind: 'any' };
    else {
      invalid.push(`${text}: no peer`);
      return undefined;
    }
  } catch (err) {
    invalid.push(`${text}: ${(err as Error).message}`);
    return undefined;
  }
  return {
    text,
    peer,
    protocol: r.protocol,
    ports: r.ports && r.ports.length > 0 ? new Set(r.ports) : undefined,
    direction: r.direction === 'from-device' ? OUTBOUND : r.direction === 'to-device' ? INBOUND : undefined,
    maxBytesPerMinute: r.maxBytesPerMinute,
  };
}

function hostOf(peer: string): string {
  const i = peer.indexOf('/');
  return i < 0 ? peer : peer.slice(0, i);
}

/**
 * Loads the enabled policies, their assignments, the server groups and (only when a rule names a peer
 * class) the classes of all devices; also the analysts' class overrides. Read outside any write
 * transaction: policies change rarely and a reload every few seconds is enough.
 */
export async function loadPolicies(pool: pg.Pool): Promise<PolicySet> {
  const [pol, asg, grp, ovr] = await Promise.all([
    pool.query<{ id: number; name: string; rules: StoredRule[]; internal_only: boolean; action: string }>(
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
  const policies = new Map<number, CompiledPolicy>();
  let needClasses = false;
  for (const p of pol.rows) {
    const invalid: string[] = [];
    const rules: CompiledRule[] = [];
    for (const r of Array.isArray(p.rules) ? p.rules : []) {
      const c = compileRule(r, groups, invalid);
      if (c) rules.push(c);
      if (c?.peer && 'kind' in c.peer && c.peer.kind === 'class') needClasses = true;
    }
    policies.set(Number(p.id), {
      id: Number(p.id),
      name: p.name,
      internalOnly: p.internal_only,
      action: p.action === 'quarantine' ? 'quarantine' : 'alert',
      rules,
      invalid,
    });
  }
  const byDevice = new Map<string, CompiledPolicy>();
  const byClass = new Map<string, CompiledPolicy>();
  for (const a of asg.rows) {
    const p = policies.get(Number(a.policy_id));
    if (!p) continue;
    if (a.device_ip) byDevice.set(a.device_ip, p);
    else if (a.device_class) byClass.set(a.device_class, p);
  }
  const classes = new Map<string, string>();
  if (needClasses) {
    const res = await pool.query<{ ip: string; cls: string }>(
      'SELECT host(ip) AS ip, COALESCE(class_override, class) AS cls FROM devices',
    );
    for (const r of res.rows) classes.set(r.ip, r.cls);
  }
  const overrides = new Map(ovr.rows.map((r) => [r.ip, r.class_override]));
  return {
    resolve: (ip, deviceClass) => byDevice.get(ip) ?? byClass.get(deviceClass),
    size: () => policies.size,
    overrides,
    peerClass: (ip) => classes.get(ip),
  };
}

function ruleAllows(
  rule: CompiledRule,
  e: ProfileEntry,
  isInternal: (addr: string) => boolean,
  set: PolicySet,
): boolean {
  if (rule.protocol !== undefined && rule.protocol !== e.proto) return false;
  if (rule.ports && !rule.ports.has(e.port)) return false;
  if (rule.direction !== undefined && rule.direction !== e.dir) return false;
  const p = rule.peer;
  if (!p) return false;
  const host = hostOf(e.peer);
  if ('isDevice' in p) return p.isDevice(host);
  if (p.kind === 'any') return true;
  if (p.kind === 'local') return e.internal && isInternal(host);
  return set.peerClass(host) === p.name;
}

/**
 * The profile entries changed since the last commit that a policy does not allow (no rule matches), and
 * those whose newest flow-time minute carries more than the matching rule's `maxBytesPerMinute`.
 */
export function evaluatePolicy(
  set: PolicySet,
  policy: CompiledPolicy,
  entries: Iterable<ProfileEntry>,
  isInternal: (addr: string) => boolean,
): Violation[] {
  const out: Violation[] = [];
  for (const e of entries) {
    if (!e.dirty || e.flows === 0) continue;
    const bytes = e.bytesOut + e.bytesIn;
    const rule = policy.rules.find((r) => ruleAllows(r, e, isInternal, set));
    const direction = e.dir === OUTBOUND ? 'from-device' : 'to-device';
    if (!rule) {
      out.push({ peer: e.peer, port: e.port, protocol: e.proto, direction, bytes, reason: 'not-allowed' });
      continue;
    }
    if (rule.maxBytesPerMinute !== undefined && e.rateBytes > rule.maxBytesPerMinute) {
      out.push({
        peer: e.peer,
        port: e.port,
        protocol: e.proto,
        direction,
        bytes: Math.round(e.rateBytes),
        reason: 'over-rate',
      });
    }
  }
  return out;
}
