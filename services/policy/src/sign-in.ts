// Failed sign-ins per source address, with a lockout that a flood of addresses cannot flush. The table
// is bounded: when full, expired entries go first, then the oldest address that is not locked out; an
// address that is locked out is never evicted to make room (a flood of fresh addresses used to clear
// the whole table, lifting every lockout). IPv6 addresses count per /64, the block one host holds.
import { isIPv6 } from 'node:net';

/** Options of {@link createSignInGuard}. */
export interface SignInGuardOptions {
  /** Failures within `windowMs` that lock an address out for the rest of the window. */
  threshold: number;
  windowMs: number;
  /** Addresses tracked at most. */
  maxTracked: number;
}

/** Failed sign-ins and lockouts per source address. */
export interface SignInGuard {
  /** Whether `address` is locked out now. */
  lockedOut(address: string, now: number): boolean;
  /** Counts a failure from `address`; returns its failures in the current window. */
  fail(address: string, now: number): number;
  /** Addresses tracked now (for tests and metrics). */
  size(): number;
}

/** The key an address is counted under: IPv4 (and IPv4-mapped) as is, IPv6 by its /64. */
export function addressKey(address: string): string {
  const a = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  if (!isIPv6(a)) return a;
  // Expand `::` to the full 8 groups, keep the first 4.
  const [head = '', tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = a.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = a.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, '').toLowerCase())
    .join(':')}::/64`;
}

/** Creates the failed sign-in table. */
export function createSignInGuard(opts: SignInGuardOptions): SignInGuard {
  // Insertion-ordered: an address that gets locked out is moved to the end, so the eviction scan from
  // the start meets addresses that are not locked out first.
  const entries = new Map<string, { n: number; until: number }>();
  let lastSweep = 0;

  function makeRoom(now: number): boolean {
    // A full sweep of expired entries at most once a second (a flood makes room on every failure).
    if (now - lastSweep >= 1000) {
      lastSweep = now;
      for (const [k, e] of entries) if (e.until <= now) entries.delete(k);
      if (entries.size < opts.maxTracked) return true;
    }
    for (const [k, e] of entries) {
      if (e.n < opts.threshold || e.until <= now) {
        entries.delete(k);
        return true;
      }
    }
    // Every tracked address is locked out: the newcomer is not tracked until one expires (it is still
    // refused by the per-address rate limit, and counted in the metrics).
    return false;
  }

  return {
    lockedOut(address, now) {
      const e = entries.get(addressKey(address));
      return e !== undefined && e.until > now && e.n >= opts.threshold;
    },
    fail(address, now) {
      const k = addressKey(address);
      let e = entries.get(k);
      if (!e || e.until <= now) {
        if (e) entries.delete(k);
        if (entries.size >= opts.maxTracked && !makeRoom(now)) return 1;
        e = { n: 0, until: now + opts.windowMs };
        entries.set(k, e);
      }
      e.n++;
      if (e.n === opts.threshold) {
        entries.delete(k);
        entries.set(k, e);
      }
      return e.n;
    },
    size: () => entries.size,
  };
}
