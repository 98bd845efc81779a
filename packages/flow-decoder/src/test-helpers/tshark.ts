// Test helpers: decode captured export datagrams with tshark's cflow and sflow dissectors (the exporters
// themselves, softflowd and pmacctd's sfprobe, are run by @wardwatch/testkit).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodePcap, udpFrame } from '@wardwatch/hospital-sim';

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 512 * 1024 * 1024 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
}

/** A temporary directory removed by `cleanup()`. */
function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ww-decoder-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One field of tshark's JSON: a string, or an array when a packet repeats it. */
export type TsharkValue = string | string[];

/** tshark's view of one export datagram: its flow records and options records, flattened. */
export interface TsharkPacket {
  flows: Record<string, TsharkValue>[];
  options: Record<string, TsharkValue>[];
}

/**
 * Writes datagrams as a pcap (127.0.0.1 -> 127.0.0.1:port, 1 ms apart) and returns tshark's JSON of it
 * with `dissector` decoding that port: one entry per datagram.
 */
async function tsharkJson(
  datagrams: readonly Uint8Array[],
  port: number,
  dissector: string,
): Promise<unknown[]> {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, `${dissector}.pcap`);
    const base = Date.UTC(2030, 0, 1);
    writeFileSync(
      file,
      encodePcap(
        datagrams.map((d, i) => ({
          tsMs: base + i,
          data: udpFrame('127.0.0.1', '127.0.0.1', 40000, port, d),
        })),
      ),
    );
    const out = await run('tshark', [
      '-n',
      '-r',
      file,
      '-d',
      `udp.port==${port},${dissector}`,
      '-T',
      'json',
      '--no-duplicate-keys',
      '-J',
      dissector,
    ]);
    return JSON.parse(out) as unknown[];
  } finally {
    cleanup();
  }
}

/** Decodes export datagrams with tshark's cflow dissector and returns, per datagram, the records tshark shows. */
export async function tsharkDecode(datagrams: readonly Uint8Array[], port: number): Promise<TsharkPacket[]> {
  const packets = (await tsharkJson(datagrams, port, 'cflow')) as {
    _source: { layers: { cflow?: unknown } };
  }[];
  return packets.map((p) => records(p._source.layers.cflow));
}

// tshark nests each record as a "Flow N" object inside "Set" objects, with sub-trees such as
// `cflow.timedelta_tree`; flatten each record with its sub-trees.
function records(layer: unknown): TsharkPacket {
  const out: TsharkPacket = { flows: [], options: [] };
  const flatten = (o: Record<string, unknown>, into: Record<string, TsharkValue>) => {
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'string' || Array.isArray(v)) into[k] = v as TsharkValue;
      else if (k.endsWith('_tree') && v !== null && typeof v === 'object')
        flatten(v as Record<string, unknown>, into);
    }
  };
  const visit = (o: unknown, name: string) => {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return;
    if (name.startsWith('Flow ') || name.startsWith('pdu ')) {
      const rec: Record<string, TsharkValue> = {};
      flatten(o as Record<string, unknown>, rec);
      if ('cflow.srcaddr' in rec || 'cflow.srcaddrv6' in rec || 'cflow.protocol' in rec) out.flows.push(rec);
      else out.options.push(rec);
      return;
    }
    for (const [k, v] of Object.entries(o)) if (!k.endsWith('_tree')) visit(v, k);
  };
  visit(layer, '');
  return out;
}

/** tshark's view of one flow sample: the sample's own fields and those of the dissected header. */
export interface TsharkSample {
  /** Datagram index. */
  datagram: number;
  agent: string;
  subAgentId: string;
  fields: Map<string, string[]>;
}

/**
 * Decodes sFlow datagrams with tshark's sflow dissector and returns every flow sample and counter
 * sample, in datagram order, each with all the fields of its subtree flattened (repeated names keep
 * every value in order, so a QinQ header gives two `vlan.id`).
 */
export async function tsharkSflow(
  datagrams: readonly Uint8Array[],
  port: number,
): Promise<{ flows: TsharkSample[]; counters: TsharkSample[] }> {
  const packets = (await tsharkJson(datagrams, port, 'sflow')) as {
    _source: { layers: { sflow?: Record<string, unknown> } };
  }[];
  const flows: TsharkSample[] = [];
  const counters: TsharkSample[] = [];
  packets.forEach((p, datagram) => {
    const layer = p._source.layers.sflow ?? {};
    const agent = String(layer['sflow_245.agent'] ?? layer['sflow_245.agentv6'] ?? '');
    const subAgentId = String(layer['sflow_245.sub_agent_id'] ?? '');
    for (const [k, v] of Object.entries(layer)) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) continue;
      const fields = new Map<string, string[]>();
      flatten(v, fields);
      const sample = { datagram, agent, subAgentId, fields };
      if (/flow sample/i.test(k)) flows.push(sample);
      else if (/counters? sample/i.test(k)) counters.push(sample);
    }
  });
  return { flows, counters };
}

function flatten(o: unknown, into: Map<string, string[]>): void {
  if (o === null || typeof o !== 'object') return;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (typeof v === 'string') {
      const list = into.get(k);
      if (list) list.push(v);
      else into.set(k, [v]);
    } else if (Array.isArray(v)) {
      for (const x of v) {
        if (typeof x === 'string') {
          const list = into.get(k);
          if (list) list.push(x);
          else into.set(k, [x]);
        } else flatten(x, into);
      }
    } else flatten(v, into);
  }
}
