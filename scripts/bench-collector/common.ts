// Settings (from the environment), shared types and small helpers of the collector benchmark.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The root package has no dependencies of its own: kafkajs (for nfacctd's topic and the clean-up) is
// taken from where the transport package resolves it.
export const { Kafka, logLevel } = createRequire(
  resolve(import.meta.dirname, '../../packages/transport/package.json'),
)('kafkajs') as typeof import('../../packages/transport/node_modules/kafkajs/types/index.js');

export const repo = resolve(import.meta.dirname, '../..');
export const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
// ~31 records a datagram: 6 500 datagrams/s is ~200k records/s; above it each step is <= 25 % above the last.
export const DEFAULT_RATES =
  '2000,5000,6500,8000,10000,12500,15500,19500,24500,30500,38000,47500,59500,74500';
export const RATES = (process.env.BENCH_RATES ?? DEFAULT_RATES).split(',').map(Number);
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
export const PASSES = Math.max(1, Number(process.env.BENCH_PASSES ?? 2));
export const COLLECTOR_YAML = process.env.BENCH_COLLECTOR_YAML ?? '';
export const TARGETS = (process.env.BENCH_TARGETS ?? 'wardwatch,nfcapd,nfacctd,sfacctd').split(',');
export const FORMATS = (process.env.BENCH_FORMATS ?? 'v9,ipfix,sflow').split(',') as Format[];
export const COMPRESSION = process.env.BENCH_COMPRESSION ?? 'lz4';
export const FLOWS = 20_000;
export const LOSS_FREE = 0.001;
/** Past this loss, or after two steps in a row above LOSS_FREE, a target's ladder stops: higher rates only lose more. */
export const GIVE_UP = 0.05;

export type Format = 'v9' | 'ipfix' | 'sflow';
export type Target = 'wardwatch' | 'nfcapd' | 'nfacctd' | 'sfacctd';

/** Which targets take which format: nfcapd and nfacctd NetFlow/IPFIX, sfacctd sFlow, Wardwatch all. */
export function takes(target: Target, format: Format): boolean {
  if (target === 'wardwatch') return true;
  return format === 'sflow' ? target === 'sfacctd' : target !== 'sfacctd';
}

export interface Sent {
  datagrams: number;
  records: number;
  octets: number;
  seconds: number;
}

export interface Step {
  rate: number;
  recordsPerSecond: number;
  /** Records the sender sent in the step. */
  records: number;
  sent: number;
  landed: number;
  loss: number;
  /** CPU seconds of the target over the step (send and settle), by part; `total` is all of it. */
  cpu: Record<string, number>;
  /** CPU seconds of the Kafka broker over the step. */
  brokerCpu: number;
  /** Wall seconds the CPU figures cover (the send, then the wait until the landed count settles). */
  wall: number;
}

export const dir = mkdtempSync(join(tmpdir(), 'ww-bench-collector-'));
export const runId = `bench_${process.pid}_${Date.now().toString(36)}`;
/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Prints one line of the report. */
export const log = (s: string) => console.log(s);

/** Polls `read` until it stops changing for 2.1 s (longer than nfacctd's 1 s purge), at most `maxMs`. */
export async function settle(read: () => Promise<number>, maxMs = 20_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let last = await read();
  let stable = 0;
  while (Date.now() < deadline && stable < 3) {
    await sleep(700);
    const v = await read();
    stable = v === last ? stable + 1 : 0;
    last = v;
  }
  return last;
}

/** Stops a child with SIGTERM, then SIGKILL after `ms`; resolves once it has exited. */
export function stop(child: ChildProcess, ms = 15_000): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(t);
      r();
    });
    child.kill('SIGTERM');
  });
}

/** A target under test: counts what landed (in its unit) and reports its peak RSS. */
export interface Runner {
  /** Records (or octets, for nfacctd) landed so far. */
  landed(): Promise<number>;
  unit: 'records' | 'octets';
  rssMb(): number;
  /** CPU seconds used since start, cumulative, by part (`total` is the sum of all the target's processes). */
  cpu(): Promise<Record<string, number>>;
  close(): Promise<void>;
}
