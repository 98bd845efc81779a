import ipaddr from 'ipaddr.js';
import { parseCidr } from './cidr.ts';

/** Decides which addresses are devices: those inside the monitored networks. */
export interface DeviceMatcher {
  /** True when `addr` (textual IPv4 or IPv6) lies inside a monitored network. */
  isDevice(addr: string): boolean;
}

/** Parses dotted-quad IPv4 into an unsigned 32-bit number, or -1 when `s` is not one. */
function ipv4ToInt(s: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      digits++;
      if (digits > 3) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return n * 256 + part;
}

/**
 * Builds a matcher over CIDRs (IPv4 and IPv6). IPv4 is checked with integer ranges (hot path: called
 * for both endpoints of every record); IPv6 through ipaddr.js. Throws on a string that `parseCidr`
 * rejects (the configuration checks with the same function, so a loaded config never does).
 */
export function createDeviceMatcher(cidrs: readonly string[]): DeviceMatcher {
  const v4: Array<[number, number]> = [];
  const v6: Array<[ipaddr.IPv6, number]> = [];
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (parsed === undefined) throw new Error(`not a CIDR: ${JSON.stringify(cidr)}`);
    let addr: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(parsed.address);
    let bits = parsed.bits;
    // An IPv4-mapped network (::ffff:a.b.c.d/96+) is that IPv4 network: IPv4 addresses, and mapped
    // ones (judged by their IPv4 address below), are only ever compared with the IPv4 ranges.
    if (addr.kind() === 'ipv6' && bits >= 96 && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
      addr = (addr as ipaddr.IPv6).toIPv4Address();
      bits -= 96;
    }
    if (addr.kind() === 'ipv4') {
      const base = ipv4ToInt(addr.toString());
      const size = 2 ** (32 - bits);
      const start = Math.floor(base / size) * size;
      v4.push([start, start + size - 1]);
    } else {
      v6.push([addr as ipaddr.IPv6, bits]);
    }
  }
  return {
    isDevice(addr: string): boolean {
      const n = ipv4ToInt(addr);
      if (n >= 0) {
        for (const [lo, hi] of v4) if (n >= lo && n <= hi) return true;
        return false;
      }
      if (!addr.includes(':') || !ipaddr.IPv6.isValid(addr)) return false;
      const a = ipaddr.IPv6.parse(addr);
      if (a.isIPv4MappedAddress()) return this.isDevice(a.toIPv4Address().toString());
      for (const [net, bits] of v6) if (a.match(net, bits)) return true;
      return false;
    },
  };
}
