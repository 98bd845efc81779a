import { isIP } from 'node:net';
import { createDeviceMatcher, type DeviceMatcher } from '@wardwatch/flow-schema';

// Rule semantics: what a policy rule (as stored in `policies.rules`, as the API accepts it) allows.
// A rule allows a flow entry (a peer, service port, protocol and who opened the conversation) when
// every field it names matches; a policy is an allowlist of rules.

/** Who a rule lets the device talk to. */
export type RulePeer =
  | { cidr: string }
  | { group: string }
  | { class: string }
  | { local: true }
  | { any: true };

/** A policy rule as stored and as the API takes it (absent fields match anything). */
export interface Rule {
  peer: RulePeer;
  /** IP protocol number. */
  protocol?: number;
  /** Service ports (empty or absent: any). */
  ports?: number[];
  /** `from-device`: the device opened the conversation; `to-device`: the peer did. */
  direction?: 'from-device' | 'to-device' | 'either';
  /** Ceiling on the entry's bytes per flow-time minute (judged where a rate is known: analytics). */
  maxBytesPerMinute?: number;
}

/** One communication of a device as judged: a peer (host address or prefix), service port, protocol, direction. */
export interface FlowEntry {
  /** The peer as a host address (`10.0.0.1`, `10.0.0.1/32`) or a peer group prefix (`10.0.0.0/24`). */
  peer: string;
  servicePort: number;
  protocol: number;
  /** `outbound`: the device opened the conversation. */
  direction: 'outbound' | 'inbound';
  /** Whether the peer is inside the monitored networks. */
  peerInternal: boolean;
}

/** What judging needs to know about the network: server groups and device classes. */
export interface EvaluationContext {
  /** Server group name -> CIDRs. */
  groups: ReadonlyMap<string, readonly string[]>;
  /** Host address -> effective device class (only peers that are devices). */
  classes: ReadonlyMap<string, string>;
}

/** A peer as a prefix: its network address, prefix length and family. */
interface Prefix {
  address: string;
  bits: number;
  family: 4 | 6;
}

/** Parses `addr/bits` or a bare address (a host prefix); undefined when it is neither (IPv6 zone ids refused). */
export function parsePrefix(s: string): Prefix | undefined {
  const slash = s.indexOf('/');
  const address = slash < 0 ? s : s.slice(0, slash);
  if (address.includes('%')) return undefined;
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { address, bits: max, family: family as 4 | 6 };
  const text = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(text)) return undefined;
  const bits = Number(text);
  return bits > max ? undefined : { address, bits, family: family as 4 | 6 };
}

/** The address of a host peer (`/32`, `/128` or a bare address), or undefined for a wider prefix. */
export function hostOf(peer: string): string | undefined {
  const p = parsePrefix(peer);
  return p && p.bits === (p.family === 4 ? 32 : 128) ? p.address : undefined;
}

/** Networks, each with a matcher answering "is this address inside". */
type Networks = Array<{ net: Prefix; matcher: DeviceMatcher }>;

function networks(cidrs: readonly string[]): Networks {
  return cidrs.map((c) => {
    const net = parsePrefix(c);
    if (!net) throw new Error(`${JSON.stringify(c)} is not a CIDR`);
    return { net, matcher: createDeviceMatcher([`${net.address}/${net.bits}`]) };
  });
}

/** True when every address of prefix `p` lies inside one of the networks (a wider prefix is not inside). */
function within(p: Prefix, n: Networks): boolean {
  for (const { net, matcher } of n) {
    if (net.family === p.family && net.bits <= p.bits && matcher.isDevice(p.address)) return true;
  }
  return false;
}

/** A rule compiled for judging (group names resolved, CIDRs parsed). */
export interface CompiledRule {
  rule: Rule;
  /** Whether the peer of an entry matches (ports, protocol and direction checked apart). */
  peer: (p: Prefix | undefined, e: FlowEntry, ctx: EvaluationContext) => boolean;
  ports: ReadonlySet<number> | undefined;
}

/**
 * Compiles a rule against the server groups; throws an Error naming the problem when it can match
 * nothing as written (an unknown server group, a bad CIDR, no peer).
 */
export function compileRule(rule: Rule, groups: ReadonlyMap<string, readonly string[]>): CompiledRule {
  const peer = rule.peer as Partial<Record<string, unknown>> | undefined;
  let match: CompiledRule['peer'];
  if (peer && typeof peer.cidr === 'string') {
    const n = networks([peer.cidr]);
    match = (p) => p !== undefined && within(p, n);
  } else if (peer && typeof peer.group === 'string') {
    const cidrs = groups.get(peer.group);
    if (!cidrs) throw new Error('unknown server group');
    const n = networks(cidrs);
    match = (p) => p !== undefined && within(p, n);
  } else if (peer && typeof peer.class === 'string') {
    const name = peer.class;
    match = (p, _e, ctx) =>
      p !== undefined && p.bits === (p.family === 4 ? 32 : 128) && ctx.classes.get(p.address) === name;
  } else if (peer?.local === true) match = (_p, e) => e.peerInternal;
  else if (peer?.any === true) match = () => true;
  else throw new Error('no peer');
  return { rule, peer: match, ports: rule.ports && rule.ports.length > 0 ? new Set(rule.ports) : undefined };
}

/** True when a compiled rule allows an entry (its peer already parsed as `p`). */
export function compiledRuleAllows(
  c: CompiledRule,
  p: Prefix | undefined,
  e: FlowEntry,
  ctx: EvaluationContext,
): boolean {
  const r = c.rule;
  const dir = r.direction ?? 'either';
  if (dir === 'from-device' && e.direction !== 'outbound') return false;
  if (dir === 'to-device' && e.direction !== 'inbound') return false;
  if (r.protocol !== undefined && r.protocol !== e.protocol) return false;
  if (c.ports && !c.ports.has(e.servicePort)) return false;
  return c.peer(p, e, ctx);
}

/** True when a rule allows a flow entry (a rule that can match nothing allows nothing). */
export function ruleAllows(rule: Rule, e: FlowEntry, ctx: EvaluationContext): boolean {
  let c: CompiledRule;
  try {
    c = compileRule(rule, ctx.groups);
  } catch {
    return false;
  }
  return compiledRuleAllows(c, parsePrefix(e.peer), e, ctx);
}
