import { BlockList, isIP } from 'node:net';

/** Parses "addr/bits" into its parts, or undefined when it is not a CIDR. */
export function parseCidr(s: string): { address: string; bits: number; family: 4 | 6 } | undefined {
  // Node accepts IPv6 zone ids (fe80::1%eth0); they name an interface of one host, not a network, and
  // PostgreSQL's inet, analytics and firewalls refuse them.
  const m = /^([^/%]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const family = isIP(m[1]!);
  const bits = Number(m[2]);
  if (family === 0 || bits > (family === 4 ? 32 : 128)) return undefined;
  return { address: m[1]!, bits, family: family as 4 | 6 };
}

/** True for an address or a CIDR (without an IPv6 zone id). */
export function isAddressOrCidr(s: string): boolean {
  return (isIP(s) !== 0 && !s.includes('%')) || parseCidr(s) !== undefined;
}

/** A set of CIDRs answering "is this address inside". */
export function createCidrSet(cidrs: readonly string[]): { has(address: string): boolean } {
  const list = new BlockList();
  for (const c of cidrs) {
    const p = parseCidr(c);
    if (p) list.addSubnet(p.address, p.bits, p.family === 4 ? 'ipv4' : 'ipv6');
    else if (isIP(c)) list.addAddress(c, isIP(c) === 4 ? 'ipv4' : 'ipv6');
  }
  return {
    has(address: string) {
      const f = isIP(address);
      return f !== 0 && list.check(address, f === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/** True when every address of `inner` (a CIDR or address) is inside `outer`. */
export function cidrWithin(inner: string, outer: readonly string[]): boolean {
  const p =
    parseCidr(inner) ?? (isIP(inner) ? { address: inner, bits: isIP(inner) === 4 ? 32 : 128 } : undefined);
  if (!p) return false;
  return outer.some((o) => {
    const q = parseCidr(o);
    return q !== undefined && q.bits <= p.bits && createCidrSet([o]).has(p.address);
  });
}
