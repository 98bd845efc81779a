import type { FlowRecord } from '@wardwatch/flow-schema';
import { type TemplateSpec, type TimeBase, templateOf, templatesFor } from './fields.ts';

/** Options of {@link createExportEncoder}. */
export interface ExportEncoderOptions {
  /** 9: NetFlow v9 (RFC 3954); 10: IPFIX (RFC 7011). */
  version: 9 | 10;
  /** v9 source id / IPFIX observation domain id. */
  observationDomain?: number;
  /** Largest datagram written, bytes (default 1400: fits a 1500-byte MTU with IP/UDP headers). */
  maxPacketBytes?: number;
  /** Templates are re-sent every this many packets (default 20), like a router's refresh timer. */
  templateRefreshPackets?: number;
  /** ... or when this long has passed since the last announcement, ms (default 30 000). */
  templateRefreshMs?: number;
  /** When the simulated exporter booted, Unix ms (v9 sysUptime base); default: 1 hour before the first packet. */
  bootMs?: number;
}

/** Stateful writer of one exporter's export packets: sequence numbers, template refresh, uptime. */
export interface ExportEncoder {
  readonly version: 9 | 10;
  /** Encodes records as one or more datagrams (templates included when due), in order. */
  encode(records: readonly FlowRecord[], nowMs: number): Uint8Array[];
  /** Forces the templates into the next packet (e.g. after the collector restarted). */
  announceTemplates(): void;
  /** Packets written so far. */
  packets(): number;
  /** Data records written so far. */
  records(): number;
}

const V9_HEADER = 20;
const IPFIX_HEADER = 16;
const SET_HEADER = 4;

function templateSetLength(version: 9 | 10, templates: readonly TemplateSpec[]): number {
  let n = SET_HEADER;
  for (const t of templates) {
    n += 4;
    for (const field of t.fields) n += field.pen !== 0 && version === 10 ? 8 : 4;
  }
  return n;
}

function writeTemplateSet(
  view: DataView,
  off: number,
  version: 9 | 10,
  templates: readonly TemplateSpec[],
): number {
  const start = off;
  // v9 template flowset id 0 (RFC 3954 §5.2); IPFIX template set id 2 (RFC 7011 §3.3.2).
  view.setUint16(off, version === 9 ? 0 : 2);
  off += SET_HEADER;
  for (const t of templates) {
    view.setUint16(off, t.id);
    view.setUint16(off + 2, t.fields.length);
    off += 4;
    for (const field of t.fields) {
      if (field.pen !== 0 && version === 10) {
        // Enterprise-specific element: high bit set, then the 4-byte enterprise number.
        view.setUint16(off, 0x8000 | field.id);
        view.setUint16(off + 2, field.len);
        view.setUint32(off + 4, field.pen);
        off += 8;
      } else {
        view.setUint16(off, field.id);
        view.setUint16(off + 2, field.len);
        off += 4;
      }
    }
  }
  view.setUint16(start + 2, off - start);
  return off;
}

/**
 * Creates the export-packet writer of one simulated exporter. NetFlow v9 packets carry
 *
 *   version(2)=9 count(2) sysUptime(4) unixSecs(4) sequence(4) sourceId(4)   (RFC 3954 §5.1)
 *
 * with `sequence` counting packets; IPFIX messages carry
 *
 *   version(2)=10 length(2) exportTime(4) sequence(4) observationDomainId(4)  (RFC 7011 §3.1)
 *
 * with `sequence` counting data records sent before this message. Four templates: 256 (IPv4) and 257
 * (IPv6) with MACs and VLANs, 258 (IPv4) and 259 (IPv6) without, for records that carry none.
 */
export function createExportEncoder(opts: ExportEncoderOptions): ExportEncoder {
  const version = opts.version;
  if (version !== 9 && version !== 10) throw new RangeError(`export version must be 9 or 10, got ${version}`);
  const domain = opts.observationDomain ?? 0;
  const maxBytes = opts.maxPacketBytes ?? 1400;
  const refreshPackets = opts.templateRefreshPackets ?? 20;
  const refreshMs = opts.templateRefreshMs ?? 30_000;
  const set = templatesFor(version);
  const templates = [set.v4l2, set.v6l2, set.v4, set.v6];
  const longest = Math.max(...templates.map((t) => t.recordLength));
  const tmplLength = templateSetLength(version, templates);
  const headerLength = version === 9 ? V9_HEADER : IPFIX_HEADER;
  if (maxBytes < headerLength + tmplLength || maxBytes < headerLength + SET_HEADER + longest) {
    throw new RangeError(`maxPacketBytes ${maxBytes} cannot hold the templates or one record`);
  }
  const time: TimeBase = { bootMs: opts.bootMs ?? Number.NaN };
  let packetCount = 0;
  let recordCount = 0;
  let packetsSinceTemplates = Number.POSITIVE_INFINITY;
  let lastTemplatesMs = Number.NEGATIVE_INFINITY;

  function encode(records: readonly FlowRecord[], nowMs: number): Uint8Array[] {
    if (Number.isNaN(time.bootMs)) time.bootMs = nowMs - 3_600_000;
    const out: Uint8Array[] = [];
    let i = 0;
    while (i < records.length || (out.length === 0 && records.length === 0 && templatesDue(nowMs))) {
      const buf = new Uint8Array(maxBytes);
      const view = new DataView(buf.buffer);
      let off = headerLength;
      let count = 0;
      const firstRecord = recordCount;
      if (templatesDue(nowMs)) {
        off = writeTemplateSet(view, off, version, templates);
        count += templates.length;
        packetsSinceTemplates = 0;
        lastTemplatesMs = nowMs;
      }
      // Data sets: one per run of records sharing a template, while they fit.
      while (i < records.length) {
        const t = templateOf(set, records[i]!);
        if (off + SET_HEADER + t.recordLength > maxBytes) break;
        const setStart = off;
        view.setUint16(off, t.id);
        off += SET_HEADER;
        while (i < records.length && off + t.recordLength <= maxBytes) {
          const r = records[i]!;
          if (templateOf(set, r) !== t) break;
          for (const field of t.fields) {
            field.write(view, buf, off, r, time);
            off += field.len;
          }
          i++;
          count++;
          recordCount++;
        }
        // v9 flowsets are padded to a 4-byte boundary (RFC 3954 §5.3); IPFIX padding is optional.
        if (version === 9) while ((off - setStart) % 4 !== 0 && off < maxBytes) buf[off++] = 0;
        view.setUint16(setStart + 2, off - setStart);
      }
      if (version === 9) {
        view.setUint16(0, 9);
        view.setUint16(2, count);
        view.setUint32(4, ((nowMs - time.bootMs) % 0x100000000) >>> 0);
        view.setUint32(8, Math.floor(nowMs / 1000) >>> 0);
        view.setUint32(12, packetCount >>> 0);
        view.setUint32(16, domain >>> 0);
      } else {
        view.setUint16(0, 10);
        view.setUint16(2, off);
        view.setUint32(4, Math.floor(nowMs / 1000) >>> 0);
        view.setUint32(8, (firstRecord % 0x100000000) >>> 0);
        view.setUint32(12, domain >>> 0);
      }
      packetCount++;
      packetsSinceTemplates++;
      out.push(buf.subarray(0, off));
    }
    return out;
  }

  function templatesDue(nowMs: number): boolean {
    return packetsSinceTemplates >= refreshPackets || nowMs - lastTemplatesMs >= refreshMs;
  }

  return {
    version,
    encode,
    announceTemplates() {
      packetsSinceTemplates = Number.POSITIVE_INFINITY;
    },
    packets: () => packetCount,
    records: () => recordCount,
  };
}
