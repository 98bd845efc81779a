// Addresses as the model sees them: special (neither device nor internet) and the peer group an
// address folds into once a profile is full.

/** Multicast, broadcast, unspecified and link-local addresses are neither devices nor the internet. */
export function isSpecial(addr: string): boolean {
  const c = addr.charCodeAt(0);
  if (addr.includes(':')) {
    const a = addr.toLowerCase();
    // Link-local is fe80::/10: a first group of four digits, fe80 to febf (fe8 alone is 0fe8).
    const c3 = a.charCodeAt(2);
    return (
      a === '::' ||
      a.startsWith('ff') ||
      (a.startsWith('fe') &&
        a.charCodeAt(3) !== 58 &&
        a.charCodeAt(4) === 58 &&
        (c3 === 56 || c3 === 57 || (c3 >= 97 && c3 <= 98)))
    );
  }
  const first = Number.parseInt(addr, 10);
  return (
    (first >= 224 && first <= 239) ||
    addr === '255.255.255.255' ||
    addr === '0.0.0.0' ||
    (c === 49 && addr.startsWith('169.254.'))
  );
}

/**
 * The /64 of an IPv6 address as PostgreSQL prints the cidr (RFC 5952: the zero run at the end is the
 * one compressed), so a reloaded profile finds the group's entries by the same text. The address may
 * itself be compressed (`fd00::5`) or end in an embedded IPv4 address (two groups).
 */
function ipv6Prefix64(addr: string): string {
  const dbl = addr.indexOf('::');
  const head = dbl < 0 ? addr : addr.slice(0, dbl);
  const groups = head === '' ? [] : head.split(':');
  if (dbl >= 0 && groups.length < 4) {
    const tail = addr.slice(dbl + 2);
    const parts = tail === '' ? [] : tail.split(':');
    const tailGroups = parts.length + (tail.includes('.') ? 1 : 0);
    for (let i = groups.length + tailGroups; i < 8; i++) groups.push('0');
    for (const p of parts) groups.push(p);
  }
  let last = -1;
  const hex: string[] = [];
  for (let i = 0; i < 4; i++) {
    const v = Number.parseInt(groups[i] ?? '0', 16) || 0;
    hex.push(v.toString(16));
    if (v !== 0) last = i;
  }
  return `${hex.slice(0, last + 1).join(':')}::/64`;
}

/** The peer group an address folds into once a profile holds its maximum of host peers. */
export function peerGroupOf(addr: string, internal: boolean): string {
  if (addr.includes(':')) return internal ? ipv6Prefix64(addr) : '::/0';
  if (!internal) return '0.0.0.0/0';
  const i = addr.lastIndexOf('.');
  return `${addr.slice(0, i)}.0/24`;
}
