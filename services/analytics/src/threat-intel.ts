import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { createDeviceMatcher, type DeviceMatcher } from '@wardwatch/flow-schema';

/** The outcome of (re)reading the threat-intelligence file. */
export type ThreatIntelLoad =
  | { status: 'unchanged' }
  | { status: 'loaded'; entries: number; invalid: string[] }
  | { status: 'failed'; error: string };

/** A threat-intelligence list of addresses and networks, re-read when its file changes. */
export interface ThreatIntel {
  /** True when `addr` is listed (exactly, or inside a listed network). */
  matches(addr: string): boolean;
  /** Number of entries in force. */
  size(): number;
  /** Re-reads the file when its modification time or size changed (or always with `force`). */
  reload(force?: boolean): ThreatIntelLoad;
}

function toCidr(entry: string): string | undefined {
  // A zone id (fe80::1%eth0) names a link of the feed's author, not an address.
  if (entry.includes('%')) return undefined;
  if (entry.includes('/')) {
    const [addr, bits] = entry.split('/');
    const v = isIP(addr!);
    const n = Number(bits);
    if (v === 0 || !/^\d{1,3}$/.test(bits!) || n > (v === 4 ? 32 : 128)) return undefined;
    return entry;
  }
  const v = isIP(entry);
  return v === 4 ? `${entry}/32` : v === 6 ? `${entry}/128` : undefined;
}

/**
 * A host as records spell it: IPv6 in the decoder's RFC 5952 text (lower case, longest zero run
 * compressed, no leading zeros), which the URL parser's IPv6 serialisation matches; feeds write
 * `2001:DB8::66` or `2001:db8:0:0:0:0:0:66` too.
 */
function canonicalHost(addr: string): string {
  return addr.includes(':') ? new URL(`http://[${addr}]/`).hostname.slice(1, -1) : addr;
}

/** Parses a list: one IP or CIDR a line, `#` starts a comment; returns the CIDRs and the bad lines. */
export function parseThreatIntel(text: string): { cidrs: string[]; invalid: string[] } {
  const cidrs: string[] = [];
  const invalid: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    // Feeds often carry a second column (a label or score): the first field is the address.
    const entry = line.split(/[\s,;]+/)[0]!;
    const cidr = toCidr(entry);
    if (cidr) cidrs.push(cidr);
    else invalid.push(line);
  }
  return { cidrs, invalid };
}

/** Creates a threat-intel list over `path` (or an empty one when no file is configured). */
export function createThreatIntel(path: string | undefined): ThreatIntel {
  // Host entries in a set (feeds are mostly hosts: one lookup a record); networks through the matcher.
  let hosts = new Set<string>();
  let matcher: DeviceMatcher | undefined;
  let entries = 0;
  let stamp = '';
  return {
    matches: (addr) => hosts.has(addr) || matcher?.isDevice(addr) === true,
    size: () => entries,
    reload(force = false): ThreatIntelLoad {
      if (!path) return { status: 'unchanged' };
      try {
        const st = statSync(path);
        const next = `${st.mtimeMs}:${st.size}`;
        if (!force && next === stamp) return { status: 'unchanged' };
        const { cidrs, invalid } = parseThreatIntel(readFileSync(path, 'utf8'));
        const isHost = (c: string) => c.endsWith('/32') || c.endsWith('/128');
        const nets = cidrs.filter((c) => !isHost(c));
        hosts = new Set(cidrs.filter(isHost).map((c) => canonicalHost(c.slice(0, c.indexOf('/')))));
        matcher = nets.length > 0 ? createDeviceMatcher(nets) : undefined;
        entries = cidrs.length;
        stamp = next;
        return { status: 'loaded', entries, invalid };
      } catch (err) {
        // Keep the list in force: a feed being rewritten must not switch detection off.
        return { status: 'failed', error: (err as Error).message };
      }
    },
  };
}
