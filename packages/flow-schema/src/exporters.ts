/** One interface of an sFlow agent, from its latest counter sample (counters are the agent's own, cumulative). */
export interface InterfaceHealth {
  ifIndex: number;
  /** Bits per second. */
  speed: number;
  adminUp: boolean;
  operUp: boolean;
  inOctets: number;
  outOctets: number;
  inErrors: number;
  outErrors: number;
  inDiscards: number;
  outDiscards: number;
  /** dot3StatsFCSErrors (0 when the agent sends no Ethernet counters). */
  fcsErrors: number;
  /** When the counter sample arrived, Unix milliseconds. */
  lastSeenMs: number;
}

/**
 * The value of an `exporters-v1` message: one exporter's (address and observation domain) health as
 * one collector sees it, published periodically as UTF-8 JSON under the key {@link exporterKey}.
 * Counters are cumulative since `firstSeenMs` at that collector, so a reader takes the latest value
 * per key (and per `collector` when several collectors share exporters).
 */
export interface ExporterStatus {
  format: 'wardwatch-exporter';
  formatVersion: 1;
  /** Exporter address (the packets' source address). */
  exporter: string;
  /** NetFlow v9 source id / IPFIX observation domain; v5: engine_type << 8 | engine_id. */
  observationDomain: number;
  /** Export version of the latest packet (5, 9, 10; another number for an unsupported one). */
  version: number;
  /** Collector instance that observed it (host name and process). */
  collector: string;
  /** `udp` and/or `tcp`. */
  transports: string[];
  packets: number;
  /** Flow records decoded. */
  records: number;
  /** Packets that could not be decoded (wholly or partly). */
  decodeErrors: number;
  /** Data and options templates this exporter holds now. */
  templates: number;
  /** Units lost per the exporter's sequence numbers, in `sequenceUnit`. */
  sequenceLost: number;
  /** What `sequenceLost` counts: v5 `flows`, v9 `packets`, IPFIX `records`. */
  sequenceUnit: string;
  sequenceResets: number;
  /** Sampling interval of the latest record (1 = unsampled). */
  samplingRate: number;
  /** Records per second over the last report interval. */
  recordsPerSecond: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** When this status was published. */
  reportedMs: number;
  /** sFlow: datagrams lost per the agent's (and sub-agent's) datagram sequence numbers. */
  datagramsLost?: number;
  /** sFlow: interface health from counter samples, by ifIndex (at most 1024 per agent and sub-agent). */
  interfaces?: InterfaceHealth[];
}

const NUMBER_FIELDS = [
  'observationDomain',
  'version',
  'packets',
  'records',
  'decodeErrors',
  'templates',
  'sequenceLost',
  'sequenceResets',
  'samplingRate',
  'recordsPerSecond',
  'firstSeenMs',
  'lastSeenMs',
  'reportedMs',
] as const;

/** The key of an exporter's status on `exporters-v1`: `address|observationDomain`. */
export function exporterKey(exporter: string, observationDomain: number): string {
  return `${exporter}|${observationDomain}`;
}

/** Encodes an exporter status as the UTF-8 JSON value of an `exporters-v1` message. */
export function encodeExporterStatus(s: ExporterStatus): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(s));
}

/** Decodes and validates an `exporters-v1` value; returns undefined when it is not one. */
export function decodeExporterStatus(bytes: Uint8Array): ExporterStatus | undefined {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.format !== 'wardwatch-exporter' || o.formatVersion !== 1) return undefined;
  if (
    typeof o.exporter !== 'string' ||
    typeof o.collector !== 'string' ||
    typeof o.sequenceUnit !== 'string'
  ) {
    return undefined;
  }
  for (const f of NUMBER_FIELDS) if (typeof o[f] !== 'number' || !Number.isFinite(o[f])) return undefined;
  if (!Array.isArray(o.transports) || !o.transports.every((x) => typeof x === 'string')) return undefined;
  return o as unknown as ExporterStatus;
}
