// `wardwatch decode <file.pcap|file.dat|->`: prints the flow records of a capture or of raw export
// payloads as JSON lines, the way `nfdump -r` or `tshark` are used to debug an exporter.
import { readFileSync } from 'node:fs';
import {
  createDecoderState,
  type DecodeResult,
  decodePacket,
  describeField,
  isCapture,
  type OptionsRecord,
  readCaptureDatagrams,
  splitExportPackets,
} from '@wardwatch/flow-decoder';
import type { FlowRecord } from '@wardwatch/flow-schema';

const USAGE = `usage: wardwatch decode [options] <file.pcap|file.pcapng|file.dat|->

Decodes NetFlow v5/v9, IPFIX and sFlow v5 export packets and prints one JSON object per flow
record (an sFlow flow sample is one record, its counters scaled by its sampling rate). A
.pcap/.pcapng is read for UDP datagrams; anything else is raw export payloads, possibly several
back to back (one sFlow datagram per raw file); '-' reads standard input.

  --port N         only UDP datagrams sent to port N (captures; default: any that look like exports)
  --exporter ADDR  exporter address for raw payloads (default 0.0.0.0)
  --options        also print options data records (sampler and interface tables) and sFlow
                   counter samples (interface counters)
  --no-hold        drop data that arrives before its template instead of holding it
  --scale          multiply NetFlow/IPFIX counters by the sampling interval (sFlow always is)
  --summary        print a summary of packets, records, errors and decoder stats to stderr
`;

interface Args {
  input: string;
  port: number | undefined;
  exporter: string;
  options: boolean;
  hold: boolean;
  scale: boolean;
  summary: boolean;
}

function parseArgs(args: string[]): Args | string {
  const out: Args = {
    input: '',
    port: undefined,
    exporter: '0.0.0.0',
    options: false,
    hold: true,
    scale: false,
    summary: false,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    switch (a) {
      case '--port': {
        const n = Number(args[++i]);
        if (!Number.isInteger(n) || n < 0 || n > 65535) return '--port needs a UDP port number';
        out.port = n;
        break;
      }
      case '--exporter':
        if (args[i + 1] === undefined) return '--exporter needs an address';
        out.exporter = args[++i]!;
        break;
      case '--options':
        out.options = true;
        break;
      case '--no-hold':
        out.hold = false;
        break;
      case '--scale':
        out.scale = true;
        break;
      case '--summary':
        out.summary = true;
        break;
      case '-h':
      case '--help':
        return '';
      default:
        if (a.startsWith('--')) return `unknown option ${a}`;
        if (out.input !== '') return 'only one input file';
        out.input = a;
    }
  }
  return out.input === '' ? 'an input file (or -) is required' : out;
}

/** One export packet with where and when it came from. */
interface Packet {
  exporter: string;
  receivedMs: number;
  payload: Uint8Array;
}

function looksLikeExport(p: Uint8Array): boolean {
  const v = p.length >= 2 ? (p[0]! << 8) | p[1]! : 0;
  // sFlow opens with a 32-bit version 5.
  return v === 5 || v === 9 || v === 10 || (v === 0 && p.length >= 4 && p[2] === 0 && p[3] === 5);
}

function packetsOf(buf: Uint8Array, args: Args): Packet[] {
  if (isCapture(buf)) {
    return readCaptureDatagrams(buf)
      .filter((d) => (args.port !== undefined ? d.dstPort === args.port : looksLikeExport(d.payload)))
      .map((d) => ({ exporter: d.src, receivedMs: d.tsMs, payload: d.payload }));
  }
  return splitExportPackets(buf).map((payload, i) => ({ exporter: args.exporter, receivedMs: i, payload }));
}

function iso(ms: number): string | null {
  return ms > 0 && ms < 8.64e15 ? new Date(ms).toISOString() : null;
}

function extraObject(
  fields: { id: number; pen: number; value: Uint8Array }[] | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields ?? []) {
    const d = describeField(f);
    out[d.name] = d.value;
  }
  return out;
}

/** The JSON line for a flow record: exporter, domain, template and sampling first. */
function flowLine(r: FlowRecord, packet: number): string {
  const { exporter, observationDomain, version, templateId, samplingRate, extra, ...rest } = r;
  return JSON.stringify({
    exporter,
    version,
    domain: observationDomain,
    templateId,
    samplingRate,
    packet,
    start: iso(r.startMs),
    end: iso(r.endMs),
    ...rest,
    extra: extraObject(extra),
  });
}

function optionsLine(o: OptionsRecord, packet: number): string {
  const scope: Record<string, unknown> = {};
  const fields: Record<string, unknown> = {};
  for (const f of o.fields) {
    // NetFlow v9 scope ids are scope types, not element ids.
    if (f.scope && o.version === 9) {
      const names = ['', 'system', 'interface', 'lineCard', 'cache', 'template'];
      scope[names[f.id] ?? `scope${f.id}`] = Buffer.from(f.value).toString('hex');
      continue;
    }
    const d = describeField(f);
    (f.scope ? scope : fields)[d.name] = d.value;
  }
  return JSON.stringify({
    options: true,
    exporter: o.exporter,
    version: o.version,
    domain: o.observationDomain,
    templateId: o.templateId,
    packet,
    scope,
    fields,
  });
}

/** A stdout writer that batches lines and stops quietly when the reader goes away (`| head`). */
function createOutput(): { line: (s: string) => void; end: () => Promise<void>; closed: () => boolean } {
  let buf: string[] = [];
  let size = 0;
  let closed = false;
  process.stdout.on('error', () => {
    closed = true;
  });
  const flush = () => {
    if (buf.length > 0 && !closed) process.stdout.write(`${buf.join('\n')}\n`);
    buf = [];
    size = 0;
  };
  return {
    line(s) {
      buf.push(s);
      size += s.length;
      if (size > 1 << 16) flush();
    },
    async end() {
      flush();
      if (!closed) await new Promise<void>((r) => process.stdout.write('', () => r()));
    },
    closed: () => closed,
  };
}

async function readInput(input: string): Promise<Uint8Array> {
  if (input !== '-') return new Uint8Array(readFileSync(input));
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

/** Implements `wardwatch decode`; returns the process exit code. */
export async function decodeCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    if (args !== '') console.error(`wardwatch decode: ${args}\n`);
    console.error(USAGE);
    return args === '' ? 0 : 2;
  }
  let buf: Uint8Array;
  try {
    buf = await readInput(args.input);
  } catch (err) {
    console.error(
      `wardwatch decode: cannot read ${args.input}: ${err instanceof Error ? err.message : String(err)}`,
    );
    return 1;
  }
  let packets: Packet[];
  try {
    packets = packetsOf(buf, args);
  } catch (err) {
    console.error(`wardwatch decode: ${args.input}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const state = createDecoderState({ scaleCounters: args.scale, ...(args.hold ? {} : { maxHeldSets: 0 }) });
  const out = createOutput();
  const totals = { packets: 0, records: 0, options: 0, errors: 0 };
  const stats: Record<string, number> = {};
  packets.forEach((p, i) => {
    if (out.closed()) return;
    const r: DecodeResult = decodePacket(p.payload, state, {
      exporter: p.exporter,
      receivedMs: p.receivedMs,
    });
    totals.packets++;
    for (const rec of r.records) out.line(flowLine(rec, i));
    if (args.options) for (const o of r.options) out.line(optionsLine(o, i));
    if (args.options && r.counters !== undefined)
      for (const c of r.counters) out.line(JSON.stringify({ counters: true, packet: i, ...c }));
    totals.records += r.records.length;
    totals.options += r.options.length;
    for (const [k, v] of Object.entries(r.stats)) if (typeof v === 'number') stats[k] = (stats[k] ?? 0) + v;
    if (!r.ok) {
      totals.errors++;
      console.error(
        JSON.stringify({
          packet: i,
          exporter: p.exporter,
          version: r.version,
          error: r.error.code,
          message: r.error.message,
          offset: r.error.offset,
        }),
      );
    }
  });
  await out.end();
  const waiting = state.held.length;
  if (waiting > 0) console.error(`wardwatch decode: ${waiting} data set(s) never saw their template`);
  if (args.summary) console.error(JSON.stringify({ ...totals, stillHeld: waiting, stats }));
  return 0;
}
