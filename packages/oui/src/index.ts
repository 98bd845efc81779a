// MAC address -> manufacturer, from the IEEE registry of assigned prefixes (MA-L 24 bits, MA-M 28, MA-S 36).
// The built-in registry is npm `oui-data` (the IEEE MA-L, MA-M and MA-S lists as JSON, refreshed from the IEEE
// by its maintainer); an operator may add the IEEE CSV files (`oui.csv`, `mam.csv`, `oui36.csv`, as the IEEE
// publishes them and Debian's `ieee-data` installs them), whose entries win over it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parse } from 'csv-parse/sync';

/**
 * What the address says about itself: `global` (universally administered: looked up), `local` (locally
 * administered: randomised by phones and laptops, or set by hand; not in the registry) or `multicast`.
 */
export type MacKind = 'global' | 'local' | 'multicast';

/** The registry's answer for one MAC. */
export interface MacVendor {
  /** The address, lower-case, colon-separated. */
  mac: string;
  kind: MacKind;
  /** The assigned prefix that matched (upper-case hex: 6, 7 or 9 digits), for a global address found. */
  prefix: string | undefined;
  /** The organisation the prefix is assigned to (undefined: not global, or not in the registry). */
  manufacturer: string | undefined;
}

/** A loaded registry. */
export interface OuiRegistry {
  /** Looks a MAC up (any of `aa:bb:cc:dd:ee:ff`, `aa-bb-...`, `aabb.ccdd.eeff`, `aabbccddeeff`); undefined if malformed. */
  lookup(mac: string): MacVendor | undefined;
  /** Prefixes held. */
  readonly size: number;
  /** Where the entries came from (package version, files). */
  readonly sources: readonly string[];
}

/** A registry file that cannot be read or parsed. */
export class OuiFileError extends Error {
  readonly code = 'OUI_FILE';
  readonly retriable = false;
  constructor(
    message: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OuiFileError';
  }
}

const HEX12 = /^[0-9a-f]{12}$/;

/** The 12 hex digits of a MAC in any usual spelling, lower-case (undefined when it is not one). */
export function normalizeMac(mac: string): string | undefined {
  const hex = mac.toLowerCase().replace(/[:.-]/g, '');
  return HEX12.test(hex) ? hex : undefined;
}

/** The kind of a MAC from its first octet's I/G (multicast) and U/L (locally administered) bits. */
export function macKind(hex12: string): MacKind {
  const first = Number.parseInt(hex12.slice(0, 2), 16);
  if (first & 0x01) return 'multicast';
  return first & 0x02 ? 'local' : 'global';
}

/** An organisation name as the registries spell it, trimmed (oui-data appends the address after a newline). */
function orgName(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.trim();
}

/**
 * Parses an IEEE registry CSV (`Registry,Assignment,Organization Name,Organization Address`): returns
 * [assignment (upper-case hex), organisation] pairs. Throws on a file that is not one.
 */
export function parseIeeeCsv(text: string, file = 'csv'): Array<[string, string]> {
  let rows: string[][];
  try {
    rows = parse(text, { relax_column_count: true, skip_empty_lines: true, bom: true });
  } catch (err) {
    throw new OuiFileError(`${file}: not a CSV file (${(err as Error).message})`, file, { cause: err });
  }
  const header = rows[0]?.map((h) => h.trim().toLowerCase());
  if (header?.[0] !== 'registry' || header[1] !== 'assignment')
    throw new OuiFileError(
      `${file}: not an IEEE registry CSV (expected the header "Registry,Assignment,Organization Name,...")`,
      file,
    );
  const out: Array<[string, string]> = [];
  for (const r of rows.slice(1)) {
    const assignment = (r[1] ?? '').trim().toUpperCase();
    const org = (r[2] ?? '').trim();
    if (/^[0-9A-F]{6}([0-9A-F]|[0-9A-F]{3})?$/.test(assignment) && org !== '') out.push([assignment, org]);
  }
  return out;
}

/**
 * Loads the registry: the built-in `oui-data` MA-L list, then each IEEE CSV file in `files` (later entries
 * win). Throws {@link OuiFileError} for a file that cannot be read or is not an IEEE registry CSV.
 */
export function createOuiRegistry(opts: { files?: readonly string[]; builtIn?: boolean } = {}): OuiRegistry {
  const byPrefix = new Map<string, string>();
  const sources: string[] = [];
  if (opts.builtIn !== false) {
    const require = createRequire(import.meta.url);
    const data = require('oui-data') as Record<string, string>;
    // The package exports only its data; its version is read beside it.
    const pkg = join(dirname(require.resolve('oui-data')), 'package.json');
    const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
    for (const prefix in data) byPrefix.set(prefix.toUpperCase(), orgName(data[prefix]!));
    sources.push(`oui-data ${version}`);
  }
  for (const file of opts.files ?? []) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new OuiFileError(`${file}: cannot read (${(err as Error).message})`, file, { cause: err });
    }
    const entries = parseIeeeCsv(text, file);
    for (const [prefix, org] of entries) byPrefix.set(prefix, org);
    sources.push(`${file} (${entries.length})`);
  }
  return {
    size: byPrefix.size,
    sources,
    lookup(mac: string): MacVendor | undefined {
      const hex = normalizeMac(mac);
      if (!hex) return undefined;
      const kind = macKind(hex);
      const view = hex.match(/../g)!.join(':');
      if (kind !== 'global') return { mac: view, kind, prefix: undefined, manufacturer: undefined };
      const up = hex.toUpperCase();
      // The longest assignment first: an MA-S (36 bits) or MA-M (28 bits) block lies inside an MA-L prefix
      // the IEEE Registration Authority holds.
      for (const len of [9, 7, 6]) {
        const org = byPrefix.get(up.slice(0, len));
        if (org !== undefined) return { mac: view, kind, prefix: up.slice(0, len), manufacturer: org };
      }
      return { mac: view, kind, prefix: undefined, manufacturer: undefined };
    },
  };
}
