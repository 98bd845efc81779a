// Real tools for tests and benchmarks: Debian packages on demand, and the one runner of each exporter
// (softflowd, pmacctd's sfprobe and nfprobe).
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePcap, type Frame } from '@wardwatch/hospital-sim';

/** True when `cmd` is on the PATH. */
export function hasTool(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Installs a Debian package when its command is missing (tests run as root on CI machines). */
export function ensureTool(cmd: string, aptPackage = cmd): void {
  if (hasTool(cmd)) return;
  execFileSync(
    'sh',
    ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${aptPackage}`],
    {
      stdio: 'inherit',
    },
  );
  if (!hasTool(cmd)) throw new Error(`${cmd} is missing and apt-get could not install ${aptPackage}`);
}

/** Options for {@link runSoftflowd}. */
export interface SoftflowdOptions {
  pcap: string;
  /** Collector address, host:port. */
  target: string;
  /** 5, 9 or 10 (IPFIX). */
  version: 5 | 9 | 10;
  /** RFC 5103 bidirectional flows (IPFIX only). */
  bidirectional?: boolean;
  /** Export over TCP instead of UDP (IPFIX only). */
  tcp?: boolean;
  /** More softflowd arguments (`-a`: take the clock from the pcap; `-A milli`: IPFIX time form). */
  extraArgs?: readonly string[];
  /** Periodic packet sampling: 1 in N packets (`-s N`; default every packet). */
  samplingRate?: number;
}

/**
 * Runs the real softflowd over a pcap file: it tracks the flows, expires all of them at the end of the
 * file, sends the exports to `target` and exits. softflowd 1.1.0 with `-r` and stdin at /dev/null needs
 * no control socket and no `softflowctl`: it reads the whole file, flushes every flow and exits.
 */
export async function runSoftflowd(opts: SoftflowdOptions): Promise<void> {
  ensureTool('softflowd');
  const dir = mkdtempSync(join(tmpdir(), 'ww-softflowd-'));
  // No `-c`: with `-r` softflowd has no control socket, and naming one re-enables it in a loop that
  // then polls an uninitialised descriptor set and can block in accept() forever (softflowd 1.1.0).
  const args = ['-d', '-p', join(dir, 'pid'), '-r', opts.pcap, '-n', opts.target, '-v', String(opts.version)];
  if (opts.bidirectional) args.push('-b');
  if (opts.tcp) args.push('-P', 'tcp');
  if (opts.extraArgs) args.push(...opts.extraArgs);
  if (opts.samplingRate && opts.samplingRate > 1) args.push('-s', String(opts.samplingRate));
  await new Promise<void>((resolve, reject) => {
    const child = spawn('softflowd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      if (code === 0) resolve();
      else reject(new Error(`softflowd exited with ${code}: ${stderr.trim()}`));
    });
  });
}

/** A sleep whose timer does not keep the process alive. */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/**
 * Writes `frames` as a pcap, has `run` export it to a socket on 127.0.0.1 (`target`, host:port) and
 * returns the datagrams that arrived there, and the socket's port.
 */
async function captureExports(
  frames: readonly Frame[],
  run: (pcap: string, target: string) => Promise<void>,
): Promise<{ datagrams: Buffer[]; port: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'ww-capture-'));
  const sock = createSocket({ type: 'udp4', recvBufferSize: 16 * 1024 * 1024 });
  const datagrams: Buffer[] = [];
  sock.on('message', (m) => datagrams.push(m));
  try {
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    const pcap = join(dir, 'traffic.pcap');
    writeFileSync(pcap, encodePcap(frames));
    await run(pcap, `127.0.0.1:${port}`);
    // Loopback datagrams sent before the exporter exited may still be queued: read until none arrive.
    let n = -1;
    while (n !== datagrams.length) {
      n = datagrams.length;
      await sleep(100);
    }
    return { datagrams, port };
  } finally {
    sock.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs softflowd ({@link runSoftflowd}) over `frames` and returns the export datagrams it sent to a
 * socket on 127.0.0.1, and that socket's port.
 */
export function softflowdExport(
  frames: readonly Frame[],
  version: 5 | 9 | 10,
  extraArgs: readonly string[] = [],
): Promise<{ datagrams: Buffer[]; port: number }> {
  return captureExports(frames, (pcap, target) => runSoftflowd({ pcap, target, version, extraArgs }));
}

/** Options for {@link runSfprobe}. */
export interface SfprobeOptions {
  pcap: string;
  /** Collector address, host:port. */
  target: string;
  /** sFlow agent address written in the datagrams (default 192.0.2.10). */
  agent?: string;
  subAgentId?: number;
  /** 1 in N packets sampled (default 1). */
  samplingRate?: number;
  /** ifIndex reported for the sampled interface (with `direction`). */
  ifIndex?: number;
  direction?: 'in' | 'out';
}

/**
 * Runs pmacct's `pmacctd` with the sfprobe plugin over a pcap file: it samples the packets and sends
 * them to `target` as sFlow v5 flow samples with their raw Ethernet headers, then exits.
 */
export async function runSfprobe(opts: SfprobeOptions): Promise<void> {
  ensureTool('pmacctd', 'pmacct');
  const dir = mkdtempSync(join(tmpdir(), 'ww-sfprobe-'));
  const conf = join(dir, 'pmacctd.conf');
  const lines = [
    'daemonize: false',
    'plugins: sfprobe[ww]',
    `pcap_savefile: ${opts.pcap}`,
    `sfprobe_receiver: ${opts.target}`,
    `sfprobe_agentip: ${opts.agent ?? '192.0.2.10'}`,
    `sfprobe_agentsubid: ${opts.subAgentId ?? 0}`,
    // Per-plugin keys: pmacctd knows no `sfprobe_sampling_rate` and refuses a global `sfprobe_ifindex`.
    `sampling_rate[ww]: ${opts.samplingRate ?? 1}`,
  ];
  if (opts.ifIndex !== undefined) lines.push(`sfprobe_ifindex[ww]: ${opts.ifIndex}`);
  if (opts.direction !== undefined) lines.push(`sfprobe_direction[ww]: ${opts.direction}`);
  writeFileSync(conf, `${lines.join('\n')}\n`);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('pmacctd', ['-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        // At the end of the file the core sometimes exits before its plugin ("connection lost");
        // what was exported has been sent either way.
        if (code === 0 || (code === 1 && stderr.includes('connection lost'))) resolve();
        else reject(new Error(`pmacctd exited with ${code}: ${stderr.trim()}`));
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs pmacctd's sfprobe ({@link runSfprobe}) over `frames` and returns the sFlow datagrams it sent to a
 * socket on 127.0.0.1, and that socket's port.
 */
export function sfprobeExport(
  frames: readonly Frame[],
  opts: Omit<SfprobeOptions, 'pcap' | 'target'> = {},
): Promise<{ datagrams: Buffer[]; port: number }> {
  return captureExports(frames, (pcap, target) => runSfprobe({ ...opts, pcap, target }));
}

/** Options for {@link runPmacctdNfprobe}. */
export interface PmacctdOptions {
  pcap: string;
  /** Collector address, host:port. */
  target: string;
  /** 9 or 10 (IPFIX). */
  version: 9 | 10;
  /** Export sampling: 1 in N packets (default 1: every packet). */
  samplingRate?: number;
}

/**
 * Runs the real pmacctd with its nfprobe plugin over a pcap file (pmacct's NetFlow v9 / IPFIX probe): it
 * aggregates per 5-tuple with the source and destination MACs (IPFIX/v9 elements 56, 80, 81, 57), exports
 * the flows to `target` at the end of the file and exits.
 */
export async function runPmacctdNfprobe(opts: PmacctdOptions): Promise<void> {
  ensureTool('pmacctd', 'pmacct');
  const dir = mkdtempSync(join(tmpdir(), 'ww-pmacctd-'));
  const conf = join(dir, 'pmacctd.conf');
  const lines = [
    'daemonize: false',
    `pcap_savefile: ${opts.pcap}`,
    'plugins: nfprobe',
    `nfprobe_receiver: ${opts.target}`,
    `nfprobe_version: ${opts.version}`,
    'aggregate: src_mac, dst_mac, src_host, dst_host, src_port, dst_port, proto, tcpflags',
  ];
  if (opts.samplingRate && opts.samplingRate > 1) lines.push(`sampling_rate: ${opts.samplingRate}`);
  writeFileSync(conf, `${lines.join('\n')}\n`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('pmacctd', ['-f', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      // At the end of a file the core can notice the plugin's (normal) exit first and then exit 1 with
      // "no more plugins active": the plugin has exported and shut down as asked, so that is success too.
      const pluginDone = /nfprobe \): Shutting down on user request/.test(output) && !/ERROR \(/.test(output);
      if (code === 0 || (code === 1 && pluginDone)) resolve();
      else reject(new Error(`pmacctd exited with ${code}: ${output.trim().slice(-2000)}`));
    });
  });
}
