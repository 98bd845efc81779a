// Test helpers: decode captured export datagrams with tshark's cflow dissector (softflowd itself is
// run by @wardwatch/testkit's runSoftflowd / softflowdExport).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodePcap, udpFrame } from '@wardwatch/hospital-sim';

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 256 * 1024 * 1024 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
}

/** A temporary directory removed by `cleanup()`. */
export function tempDir(): { dir: string; cleanup: () => void } {
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
 * Decodes export datagrams with tshark's cflow dissector: writes them as a pcap (127.0.0.1 ->
 * 127.0.0.1:port) and returns, per datagram, the records tshark shows.
 */
export async function tsharkDecode(datagrams: readonly Uint8Array[], port: number): Promise<TsharkPacket[]> {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'exports.pcap');
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
      `udp.port==${port},cflow`,
      '-T',
      'json',
      '--no-duplicate-keys',
      '-J',
      'cflow',
    ]);
    const packets = JSON.parse(out) as { _source: { layers: { cflow?: unknown } } }[];
    return packets.map((p) => records(p._source.layers.cflow));
  } finally {
    cleanup();
  }
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
