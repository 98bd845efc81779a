// Test helpers: turn frames into real sFlow v5 with pmacct's pmacctd (sfprobe plugin), and decode
// sFlow datagrams with tshark's sflow dissector.
import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Frame, udpFrame, writePcap } from './pcap-writer.ts';
import { tempDir } from './softflowd.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/** Options of {@link sfprobeExport}. */
export interface SfprobeOptions {
  /** 1 in N packets sampled. */
  rate: number;
  agent?: string;
  subAgentId?: number;
  /** ifIndex reported for the sampled interface (with `direction`). */
  ifIndex?: number;
  direction?: 'in' | 'out';
}

/**
 * Runs `pmacctd` with the sfprobe plugin over `frames` (written as a pcap) and returns the sFlow
 * datagrams it sends to a socket on 127.0.0.1. pmacctd reads the file, exports and exits.
 */
export async function sfprobeExport(
  frames: readonly Frame[],
  opts: SfprobeOptions,
): Promise<{ datagrams: Buffer[]; port: number }> {
  const { dir, cleanup } = tempDir();
  const sock = createSocket({ type: 'udp4', recvBufferSize: 16 * 1024 * 1024 });
  const datagrams: Buffer[] = [];
  sock.on('message', (m) => datagrams.push(m));
  try {
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    const pcap = path.join(dir, 'traffic.pcap');
    writeFileSync(pcap, writePcap(frames));
    const conf = path.join(dir, 'pmacctd.conf');
    const lines = [
      'daemonize: false',
      'plugins: sfprobe[ww]',
      `pcap_savefile: ${pcap}`,
      `sfprobe_receiver: 127.0.0.1:${port}`,
      `sfprobe_agentip: ${opts.agent ?? '192.0.2.10'}`,
      `sfprobe_agentsubid: ${opts.subAgentId ?? 0}`,
      // Per plugin: pmacctd refuses a global sfprobe_ifindex, and knows no `sfprobe_sampling_rate`.
      `sampling_rate[ww]: ${opts.rate}`,
    ];
    if (opts.ifIndex !== undefined) lines.push(`sfprobe_ifindex[ww]: ${opts.ifIndex}`);
    if (opts.direction !== undefined) lines.push(`sfprobe_direction[ww]: ${opts.direction}`);
    writeFileSync(conf, `${lines.join('\n')}\n`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn('pmacctd', ['-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        // At the end of the file the core sometimes exits before its plugin ("connection lost"):
        // what was exported is on the socket either way, and the caller checks it.
        if (code === 0 || (code === 1 && stderr.includes('connection lost'))) resolve();
        else reject(new Error(`pmacctd exited with ${code}: ${stderr.trim()}`));
      });
    });
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

/** tshark's view of one flow sample: the sample's own fields and those of the dissected header. */
export interface TsharkSample {
  /** Datagram index. */
  datagram: number;
  agent: string;
  subAgentId: string;
  fields: Map<string, string[]>;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 512 * 1024 * 1024 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
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
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'sflow.pcap');
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
      `udp.port==${port},sflow`,
      '-T',
      'json',
      '--no-duplicate-keys',
      '-J',
      'sflow',
    ]);
    const packets = JSON.parse(out) as { _source: { layers: { sflow?: Record<string, unknown> } } }[];
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
  } finally {
    cleanup();
  }
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
