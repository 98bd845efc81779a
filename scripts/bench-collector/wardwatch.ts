// Target: Wardwatch's collector (`pnpm start --service collector`) publishing to the real Kafka broker.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCommandArgs } from '../../packages/testkit/src/index.ts';

import { freeUdpPort } from './capture.ts';
import {
  brokers,
  COLLECTOR_YAML,
  COMPRESSION,
  dir,
  log,
  type Runner,
  repo,
  runId,
  sleep,
  stop,
} from './common.ts';
import { cpuSeconds, peakRssMb } from './proc.ts';

/**
 * The collector's V8 flags as docker-compose.yml and deploy/k8s run it (`NODE_OPTIONS`): a small young
 * generation keeps its peak RSS down when flooded (the analytics worker, by contrast, runs with a larger one).
 */
export const COLLECTOR_NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? '--max-semi-space-size=8';
/** Extra arguments of the collector's `node` (those NODE_OPTIONS refuses, e.g. `--cpu-prof --cpu-prof-dir=D`). */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

/** Builds the bundle `pnpm start` runs when a source changed, so no build lands in a measured process. */
export function prebuild(): void {
  const args = startCommandArgs(repo);
  execFileSync(process.execPath, [...args.slice(0, args.indexOf('start')), '--build'], {
    cwd: repo,
    stdio: 'ignore',
  });
}

export async function startWardwatch(port: number): Promise<Runner> {
  const httpPort = await freeUdpPort();
  const cfg = join(dir, 'wardwatch.yaml');
  writeFileSync(
    cfg,
    [
      'mode: cluster',
      'logLevel: warn',
      "monitoredNetworks: ['10.0.0.0/8']",
      'kafka:',
      `  brokers: [${brokers.map((b) => `'${b}'`).join(', ')}]`,
      `  topicPrefix: '${runId}.'`,
      '  flowPartitions: 8',
      `  compression: ${COMPRESSION}`,
      'collector:',
      "  host: '127.0.0.1'",
      `  udpPorts: [${port}]`,
      '  tcpPorts: []',
      `  httpPort: ${httpPort}`,
      ...(COLLECTOR_YAML ? COLLECTOR_YAML.split('\\n') : []),
      '',
    ].join('\n'),
  );
  const child = spawn(
    process.execPath,
    [...NODE_ARGS, ...startCommandArgs(repo), '--service', 'collector', '--config', cfg],
    {
      cwd: repo,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        KAFKAJS_NO_PARTITIONER_WARNING: '1',
        NODE_OPTIONS: COLLECTOR_NODE_OPTIONS,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const base = `http://127.0.0.1:${httpPort}`;
  // A collector flooded on a machine this busy may not answer a scrape at once: a few tries, 1 s apart.
  const scrape = async (): Promise<string> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(15_000) })).text();
      } catch (err) {
        if (attempt >= 4) throw err;
        await sleep(1_000);
      }
    }
  };
  const metric = async (name: string) => {
    const text = await scrape();
    let sum = 0;
    for (const line of text.split('\n'))
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').pop());
    return sum;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('the Wardwatch collector exited at start');
    const ok = await fetch(`${base}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error('the Wardwatch collector did not become ready in 60 s');
    await sleep(300);
  }
  const pid = child.pid!;
  return {
    unit: 'records',
    landed: () => metric('wardwatch_collector_records_published_total'),
    rssMb: () => peakRssMb(pid),
    async cpu() {
      // Per thread as the collector reads /proc for its threads (receive = main thread, decode-N);
      // `other` is the rest of the process: V8's GC helpers and libuv's pool (LZ4 compression).
      const text = await scrape();
      const out: Record<string, number> = { total: cpuSeconds(`/proc/${pid}/stat`) };
      let named = 0;
      for (const m of text.matchAll(/^wardwatch_collector_thread_cpu_seconds\{thread="([^"]+)"\} (\S+)$/gm)) {
        out[m[1]!] = Number(m[2]);
        named += Number(m[2]);
      }
      out.other = Math.max(0, out.total! - named);
      return out;
    },
    async close() {
      const kernel = await metric('wardwatch_collector_udp_kernel_drops').catch(() => Number.NaN);
      const decoded = await metric('wardwatch_collector_records_decoded_total').catch(() => Number.NaN);
      const dropped = await metric('wardwatch_collector_records_dropped_total').catch(() => Number.NaN);
      const backlog = await metric('wardwatch_collector_packets_dropped_total').catch(() => Number.NaN);
      log(
        `#   wardwatch counters: decoded=${decoded} dropped_records=${dropped} dropped_packets=${backlog} kernel_drops=${kernel}`,
      );
      await stop(child);
    },
  };
}
