import { isIP } from 'node:net';

/** A network in CIDR notation, parsed. */
export interface Cidr {
  /** The address part as written (dotted-quad IPv4 or IPv6 text). */
  address: string;
  /** Prefix length: 0-32 for IPv4, 0-128 for IPv6. */
  bits: number;
  family: 4 | 6;
}

/**
 * Parses `addr/bits`, or returns undefined when `s` is not a CIDR. The one parser behind the device
 * matcher, the configuration's checks and the API. IPv4 only as four decimal parts without leading
 * zeros (`010.0.0.0` is octal to some parsers and decimal to others); no IPv6 zone id
 * (`fe80::1%eth0` names an interface of one host, not a network, and PostgreSQL's inet refuses it).
 */
export function parseCidr(s: string): Cidr | undefined {
  const m = /^([^/%]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const family = isIP(m[1]!);
  const bits = Number(m[2]);
  if (family === 0 || bits > (family === 4 ? 32 : 128)) return undefined;
  return { address: m[1]!, bits, family: family as 4 | 6 };
}
