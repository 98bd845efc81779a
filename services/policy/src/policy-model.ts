import {
  type CompiledPolicy,
  compilePolicy,
  type EvaluationContext,
  hostOf,
  judge as judgePolicy,
} from '@wardwatch/policy-engine';
import type pg from 'pg';
import type { ProfileEntry } from './model.ts';
import { cidrWithin, isAddressOrCidr } from './net.ts';
import type { PolicyInput, Rule } from './schemas.ts';

/** A stored policy as the API serves it. */
export interface PolicyRecord {
  id: number;
  name: string;
  description: string;
  rules: Rule[];
  internalOnly: boolean;
  action: 'alert' | 'quarantine';
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

interface PolicyRow {
  id: number;
  name: string;
  description: string;
  rules: Rule[];
  internal_only: boolean;
  action: 'alert' | 'quarantine';
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

export const POLICY_COLUMNS =
  'id, name, description, rules, internal_only, action, enabled, created_at, updated_at';

/** The API shape of a policies row. */
export function toPolicy(r: PolicyRow): PolicyRecord {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    rules: r.rules,
    internalOnly: r.internal_only,
    action: r.action,
    enabled: r.enabled,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/**
 * The one rule for the policy in force, as SQL every route and the enforcer use: the device's own
 * assignment if its policy is enabled, else its class's if enabled, else none. A disabled policy is
 * a draft: shown, never enforced (analytics loads only enabled policies, so it applies the same rule).
 * `ip` and `cls` are SQL expressions for the device's address and effective class (never input);
 * `select` picks columns of `pa` (policy_assignments) and `p` (policies). A scalar subquery.
 */
export function policyInForceSql(ip: string, cls: string, select: string): string {
  return `(SELECT ${select} FROM policy_assignments pa JOIN policies p ON p.id = pa.policy_id
     WHERE p.enabled AND (pa.device_ip = ${ip} OR pa.device_class = ${cls})
     ORDER BY pa.device_ip IS NULL LIMIT 1)`;
}

/** SQL: how an assignment reaches a device, `device` or `class` (columns of `pa`). */
export const VIA_SQL = "CASE WHEN pa.device_ip IS NULL THEN 'class' ELSE 'device' END";

/** SQL: the effective class of the device at `$1` (an address parameter). */
export const CLASS_OF_PARAM = '(SELECT COALESCE(class_override, class) FROM devices WHERE ip = $1::inet)';

/** The policy in force for a device (see {@link policyInForceSql}). */
export async function effectivePolicy(
  db: pg.Pool | pg.PoolClient,
  ip: string,
): Promise<(PolicyRecord & { via: 'device' | 'class' }) | undefined> {
  const { rows } = await db.query<PolicyRow & { via: 'device' | 'class' }>(
    `SELECT ${POLICY_COLUMNS}, via FROM ${policyInForceSql('$1::inet', CLASS_OF_PARAM, `p.*, ${VIA_SQL} AS via`)} f`,
    [ip],
  );
  const r = rows[0];
  return r ? { ...toPolicy(r), via: r.via } : undefined;
}

/** Disabled policies assigned to the device or its class: shown to the analyst, not in force. */
export async function disabledAssignments(
  db: pg.Pool | pg.PoolClient,
  ip: string,
): Promise<Array<{ via: 'device' | 'class'; id: number; name: string }>> {
  const { rows } = await db.query<{ via: 'device' | 'class'; id: number; name: string }>(
    `SELECT ${VIA_SQL} AS via, p.id, p.name FROM policy_assignments pa JOIN policies p ON p.id = pa.policy_id
     WHERE NOT p.enabled AND (pa.device_ip = $1::inet OR pa.device_class = ${CLASS_OF_PARAM})
     ORDER BY pa.device_ip IS NULL`,
    [ip],
  );
  return rows;
}

/** Semantic checks the JSON schema cannot express: CIDRs parse, named groups exist. */
export async function checkRules(db: pg.Pool | pg.PoolClient, rules: Rule[]): Promise<string[]> {
  const problems: string[] = [];
  const groups = new Set<string>();
  rules.forEach((r, i) => {
    if ('cidr' in r.peer && !isAddressOrCidr(r.peer.cidr))
      problems.push(`rules[${i}].peer.cidr: ${JSON.stringify(r.peer.cidr)} is not a CIDR`);
    if ('group' in r.peer) groups.add(r.peer.group);
    if (r.ports && r.ports.length > 0 && r.protocol !== 6 && r.protocol !== 17 && r.protocol !== 132)
      problems.push(`rules[${i}].ports: ports need protocol 6 (TCP), 17 (UDP) or 132 (SCTP)`);
  });
  if (groups.size > 0) {
    const { rows } = await db.query<{ name: string }>('SELECT name FROM server_groups WHERE name = ANY($1)', [
      [...groups],
    ]);
    const known = new Set(rows.map((r) => r.name));
    for (const g of groups) if (!known.has(g)) problems.push(`no server group ${JSON.stringify(g)}`);
  }
  return problems;
}

/** What evaluating rules needs to know about the network (server groups, device classes). */
export type { EvaluationContext } from '@wardwatch/policy-engine';

/** Loads the group and class knowledge needed to judge these profile entries. */
export async function loadEvaluationContext(
  db: pg.Pool,
  entries: ProfileEntry[],
): Promise<EvaluationContext> {
  const groups = new Map<string, string[]>();
  const g = await db.query<{ name: string; cidrs: string[] }>(
    'SELECT name, cidrs::text[] AS cidrs FROM server_groups',
  );
  for (const r of g.rows) groups.set(r.name, r.cidrs);
  const hosts = [...new Set(entries.map((e) => hostOf(e.peer)).filter((h): h is string => h !== undefined))];
  const classes = new Map<string, string>();
  if (hosts.length > 0) {
    const c = await db.query<{ ip: string; class: string }>(
      'SELECT host(ip) AS ip, COALESCE(class_override, class) AS class FROM devices WHERE ip = ANY($1::inet[])',
      [hosts],
    );
    for (const r of c.rows) classes.set(r.ip, r.class);
  }
  return { groups, classes };
}

/** Policies compiled per evaluation context (a request judges many entries against one policy). */
const compiled = new WeakMap<object, WeakMap<EvaluationContext, CompiledPolicy>>();

/** Judges one profile entry against a policy with the policy engine: allowed, or the reason it is not. */
export function judge(
  policy: Pick<PolicyRecord, 'rules' | 'internalOnly'>,
  e: ProfileEntry,
  ctx: EvaluationContext,
): { allowed: true } | { allowed: false; reason: 'external-peer' | 'no-rule' } {
  let byCtx = compiled.get(policy);
  if (!byCtx) {
    byCtx = new WeakMap();
    compiled.set(policy, byCtx);
  }
  let c = byCtx.get(ctx);
  if (!c) {
    c = compilePolicy({ id: 0, name: '', action: 'alert', ...policy }, ctx.groups);
    byCtx.set(ctx, c);
  }
  const verdict = judgePolicy(c, e, ctx);
  return verdict.allowed ? { allowed: true } : verdict;
}

/** More distinct internal peers than this on one service become "local networks" in a learned policy. */
const LOCAL_COLLAPSE = 4;

/**
 * Drafts an allowlist from observed communication: peers that are classified devices become class peers,
 * peers inside a server group become group peers, services with many internal peers become "local
 * networks", and the rest stay as the observed host or prefix. Ports are merged per peer and protocol.
 */
export function draftPolicy(
  name: string,
  entries: ProfileEntry[],
  ctx: EvaluationContext,
): Pick<PolicyInput, 'name' | 'description' | 'rules' | 'internalOnly' | 'action' | 'enabled'> {
  type Key = string;
  const internalPeersPerService = new Map<Key, Set<string>>();
  for (const e of entries) {
    if (!e.peerInternal) continue;
    const k = `${e.direction}|${e.protocol}|${e.servicePort}`;
    let s = internalPeersPerService.get(k);
    if (!s) {
      s = new Set();
      internalPeersPerService.set(k, s);
    }
    s.add(e.peer);
  }
  const rules = new Map<Key, Rule>();
  for (const e of entries) {
    const host = hostOf(e.peer);
    let peer: Rule['peer'];
    const cls = host ? ctx.classes.get(host) : undefined;
    const group = [...ctx.groups].find(([, cidrs]) => cidrWithin(e.peer, cidrs))?.[0];
    if (group) peer = { group };
    else if (
      e.peerInternal &&
      (internalPeersPerService.get(`${e.direction}|${e.protocol}|${e.servicePort}`)?.size ?? 0) >=
        LOCAL_COLLAPSE
    )
      peer = { local: true };
    else if (cls && cls !== 'unknown') peer = { class: cls };
    else peer = { cidr: e.peer };
    const direction = e.direction === 'outbound' ? 'from-device' : 'to-device';
    const k = `${JSON.stringify(peer)}|${e.protocol}|${direction}`;
    const rule = rules.get(k) ?? { peer, protocol: e.protocol, direction, ports: [] };
    const portful = e.protocol === 6 || e.protocol === 17 || e.protocol === 132;
    if (portful && !rule.ports!.includes(e.servicePort)) rule.ports!.push(e.servicePort);
    rules.set(k, rule);
  }
  const list = [...rules.values()].map((r) => {
    const ports = r.ports!.sort((a, b) => a - b);
    const out: Rule = { peer: r.peer, protocol: r.protocol!, direction: r.direction! };
    if (ports.length > 0) out.ports = ports.slice(0, 64);
    return out;
  });
  return {
    name,
    description: `Learned from ${entries.length} observed communication pattern(s)`,
    rules: list,
    internalOnly: entries.length > 0 && entries.every((e) => e.peerInternal),
    action: 'alert',
    enabled: false,
  };
}
