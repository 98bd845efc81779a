// Test helpers: run softflowd over a pcap and collect its export datagrams on a loopback socket;
// decode captured datagrams with tshark's cflow dissector.
import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Frame, udpFrame, writePcap } from './pcap-writer.ts';

/** True when an executable is on PATH. */
export function haveTool(name: string): boolean {
  const dirs = (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => existsSync(path.join(d, name)));
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 256 * 1024 * 1024 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
}

/** A sleep whose timer does not keep the process alive. */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/** A temporary directory removed by `cleanup()`. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ww-decoder-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs `softflowd -r` over `frames` and returns the export datagrams it sends to a socket on
 * 127.0.0.1. softflowd 1.1.0 in -r mode waits on its control socket between steps, so we poke it
 * with `softflowctl statistics` until every packet is processed, then `shutdown` flushes all flows.
 */
export async function softflowdExport(
  frames: readonly Frame[],
  version: '5' | '9' | '10',
  extraArgs: string[] = [],
): Promise<{ datagrams: Buffer[]; port: number }> {
  const { dir, cleanup } = tempDir();
  const sock = createSocket({ type: 'udp4', recvBufferSize: 16 * 1024 * 1024 });
  const datagrams: Buffer[] = [];
  sock.on('message', (m) => datagrams.push(m));
  try {
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    const pcap = path.join(dir, 'traffic.pcap');
    const ctl = path.join(dir, 'ctl');
    writeFileSync(pcap, writePcap(frames));
    const args = [
      '-d',
      '-r',
      pcap,
      '-n',
      `127.0.0.1:${port}`,
      '-v',
      version,
      '-p',
      path.join(dir, 'pid'),
      '-c',
      ctl,
    ];
    // With stdin at /dev/null softflowd reads the whole file, flushes every flow and exits; with a
    // terminal on stdin it waits on its control socket instead, so poke it there if it lingers.
    const child = spawn('softflowd', [...args, ...extraArgs], { stdio: 'ignore' });
    let done = false;
    const exited = new Promise<void>((r) =>
      child.on('exit', () => {
        done = true;
        r();
      }),
    );
    const deadline = Date.now() + 30_000;
    await Promise.race([exited, sleep(2_000)]);
    while (!done && Date.now() < deadline) {
      const stats = existsSync(ctl)
        ? await run('softflowctl', ['-c', ctl, 'statistics']).catch(() => '')
        : '';
      const processed = Number(/Packets processed: (\d+)/.exec(stats)?.[1] ?? -1);
      if (processed >= frames.length) {
        await run('softflowctl', ['-c', ctl, 'shutdown']).catch(() => '');
        await Promise.race([exited, sleep(5_000)]);
        break;
      }
      await sleep(20);
    }
    if (!done) child.kill();
    // Let the last datagrams arrive.
    let n = -1;
    while (n !== datagrams.length) {
      n = datagrams.length;
      await sleep(100);
    }
    return { datagrams, port };
  } finally {
    sock.close();
    cleanup();
  }
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
      writePcap(
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
