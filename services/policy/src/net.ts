import { BlockList, isIP } from 'node:net';
import { parseCidr } from '@wardwatch/flow-schema';

// The one CIDR parser (flow-schema's, also behind the device matcher and the configuration's checks).
export { parseCidr };

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

/**
 * The colon form (`00:1a:2b`) of a search text that is a MAC address or prefix as switches and asset
 * lists write it: hyphens (`00-1A-2B-3C-4D-5E`, Windows, IEEE), Cisco dots (`001a.2b3c.4d5e`) or bare
 * hex (`001A2B3C4D5E`, at least an OUI's 6 digits, so short words are not read as MACs); colon text
 * (`00:1a`) as given. Undefined when the text is not one of those.
 */
export function macSearchForm(text: string): string | undefined {
  const t = text.trim().toLowerCase();
  let hex: string;
  if (/^(?:[0-9a-f]{2}[-:]){1,5}[0-9a-f]{0,2}$/.test(t) && !(t.includes('-') && t.includes(':')))
    hex = t.replace(/[-:]/g, '');
  else if (/^(?:[0-9a-f]{4}\.){1,2}[0-9a-f]{0,4}$/.test(t)) hex = t.replace(/\./g, '');
  else if (/^[0-9a-f]{6,12}$/.test(t)) hex = t;
  else return undefined;
  return hex.match(/.{1,2}/g)!.join(':');
}
