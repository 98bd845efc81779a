// The decode shards and how datagrams reach them: by a hash of the exporter address, so an exporter's
// templates and its data always meet in one shard. Worker shards receive datagrams packed into one
// transferred buffer per shard every couple of milliseconds (or sooner when it fills), under a bound of
// bytes posted and not yet decoded (the worker counts what it decoded in shared memory). The worker hands
// each buffer back once decoded, and the sender packs into it again: no copy and no allocation per batch.
// With workers, the UDP sockets are read on a thread of their own (udp-receiver.ts), which packs straight
// to the workers over ports of its own; the main thread packs only IPFIX over TCP.
import { readFileSync } from 'node:fs';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { fnv1a } from '@wardwatch/flow-schema';
import type { FromWorker, ToWorker, WorkerInput } from './decode-worker.ts';
import { createPackCounters, PacketPacker, type PushResult } from './packer.ts';
import { ShardRunner } from './runner.ts';
import type { ShardOutput, ShardSettings, Via } from './shard.ts';
import { type UdpCounts, UdpThread } from './udp-thread.ts';

export type { PushResult } from './packer.ts';
export type { UdpCounts } from './udp-thread.ts';

/** Options of {@link createShardPool}. */
export interface ShardPoolOptions {
  /** Worker threads; 0 decodes inline on the calling thread. */
  workers: number;
  settings: ShardSettings;
  /** Bound of bytes posted to one worker and not yet decoded. */
  backlogBytes: number;
  onOutput: (out: ShardOutput, shard: number) => void;
  onWorkerError: (err: unknown, shard: number) => void;
  /** A worker exited unasked (crash, out of memory); it is restarted after `restartDelayMs`. */
  onWorkerExit?: (shard: number, exitCode: number) => void;
  /** A worker that exited unasked was started again (with no templates: it learns them anew). */
  onWorkerRestart?: (shard: number) => void;
  /** Wait before the first restart of a crashed worker; doubles per consecutive crash up to 30 s. */
  restartDelayMs?: number;
  /** `collector.exporterAllowlist`, checked per datagram by the UDP receive thread. */
  allowlist?: readonly string[];
  /** The UDP receive thread failed or was started again (its sockets bound anew). */
  onUdpThread?: (event: 'error' | 'exit' | 'restart', detail: string) => void;
}

/** The decode shards. */
export interface ShardPool {
  /** Hands one export packet to its exporter's shard; never waits. */
  push(exporter: string, buf: Uint8Array, receivedMs: number, via: Via): PushResult;
  /** Imports template entries, each into the shard of its exporter. */
  importTemplates(
    entries: readonly { exporter: string; key: string; text: string }[],
    /** Only the entries of this shard (a restarted worker). */
    onlyShard?: number,
  ): Promise<{ imported: number; rejected: number }>;
  /** Resolves when every datagram pushed so far is decoded and everything waiting has been emitted. */
  flush(): Promise<void>;
  /** Bytes waiting for workers. */
  backlogBytes(): number;
  /** Shards whose worker is down (crashed and not yet restarted). */
  down(): number[];
  /** Terminates one shard's worker as a crash would (operations drills and tests); it is restarted. */
  killWorker(shard: number): Promise<void>;
  size(): number;
  /** Kernel thread ids of the decode workers that reported one, by shard (for per-thread CPU). */
  threadIds(): Map<number, number>;
  /**
   * With workers: binds the UDP sockets on the receive thread and resolves the ports bound. Without
   * (inline decoding) `undefined`: the caller binds them on its own thread.
   */
  bindUdp(host: string, ports: number[], receiveBufferBytes: number): Promise<number[]> | undefined;
  /** Closes the UDP sockets of the receive thread (nothing more is read). */
  closeUdp(): Promise<void>;
  /** Exporters an admin blocked: the receive thread drops their datagrams. */
  setBlocked(exporters: string[]): void;
  /** The receive thread's counts since the previous call (zero without it). */
  takeUdpCounts(): UdpCounts;
  /** The receive thread is down (crashed, not yet started again). */
  udpDown(): boolean;
  /** Kernel thread id of the UDP receive thread, once it reported it. */
  udpThreadId(): number | undefined;
  /** Terminates the UDP receive thread as a crash would (drills and tests); it is restarted on the same ports. */
  killUdpThread(): Promise<void>;
  stop(): Promise<void>;
}

interface Shard {
  push(exporter: string, buf: Uint8Array, receivedMs: number, via: Via): PushResult;
  request(
    msg: { type: 'import'; entries: { key: string; text: string }[] } | { type: 'flush' } | { type: 'stop' },
  ): Promise<FromWorker & { type: 'done' }>;
  backlog(): number;
}

/** Path of the decode worker's prebuilt script; defined only in the prebuilt bundle (`scripts/wardwatch.mjs`). */
declare const WARDWATCH_DECODE_WORKER: string | undefined;

const WORKER_YOUNG_GENERATION_MB = 32;

/**
 * The worker's code. Run from TypeScript sources (`node --import tsx`), the worker entry and what it
 * imports are bundled once at start by esbuild (which tsx already brings) into one CommonJS script the
 * worker evaluates: the worker then needs no TypeScript loader, so it carries no loader hooks thread
 * (a third and fourth V8 isolate) and starts at once. The worker imports the decoder and the flow
 * schema (which holds the routing), never the transport, so no Kafka client is loaded in it.
 * When esbuild is not available the worker registers tsx's hooks itself (Node 20 does not apply the
 * inherited `--import tsx` to a worker's own entry) and imports the sources; run from compiled
 * JavaScript, it imports the entry directly.
 */
async function workerCode(): Promise<{ code: string; bundled: boolean }> {
  // Run from the prebuilt bundle (`scripts/wardwatch.mjs`), the worker's script was built beside it.
  if (typeof WARDWATCH_DECODE_WORKER === 'string')
    return { code: readFileSync(WARDWATCH_DECODE_WORKER, 'utf8'), bundled: true };
  const entry = new URL(`./decode-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return { code: importer(entry.href, undefined), bundled: false };
  try {
    const esbuild = await import('esbuild');
    const { decodeWorkerBuildOptions } = await import('./decode-worker.build.mjs');
    const out = await esbuild.build({ ...decodeWorkerBuildOptions(), write: false, logLevel: 'silent' });
    // esbuild's service process is not needed any more (and would sit beside the collector).
    await esbuild.stop();
    return { code: out.outputFiles[0]!.text, bundled: true };
  } catch {
    let tsx: string | undefined;
    try {
      tsx = import.meta.resolve('tsx/esm/api');
    } catch {}
    return { code: importer(entry.href, tsx), bundled: false };
  }
}

function importer(entry: string, tsxApi: string | undefined): string {
  const reg = tsxApi ? `(await import(${JSON.stringify(tsxApi)})).register();` : '';
  return `(async () => { ${reg} await import(${JSON.stringify(entry)}); })().catch((e) => { throw e; });`;
}

/** A crashed worker is restarted after at most this long. */
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker up this long has its crash streak (and so its restart delay) forgotten. */
const STABLE_MS = 60_000;

class WorkerShard implements Shard {
  private worker!: Worker;
  /** Packing on this thread (IPFIX over TCP; the UDP receive thread packs for itself). */
  private readonly packer: PacketPacker;
  /** Bytes posted and decoded per source, shared with the worker (a fresh pair per start). */
  counters = createPackCounters();
  private nextId = 1;
  /** The worker is not running (crashed and waiting for its restart, or stopped). */
  dead = false;
  /** Stopping: an exit now is expected, not a crash. */
  private stopping = false;
  private crashes = 0;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  /** The worker's kernel thread id, once it reported it. */
  tid: number | undefined;
  private readonly waiting = new Map<number, (m: FromWorker & { type: 'done' }) => void>();

  constructor(
    readonly index: number,
    private readonly opts: ShardPoolOptions,
    private readonly source: string,
    /** The worker (re)started, or went down (`undefined`): the UDP receive thread is told. */
    private readonly onState: (shard: WorkerShard, up: boolean) => void,
  ) {
    this.packer = new PacketPacker(0, opts.backlogBytes);
    this.spawn();
  }

  private spawn(): void {
    const { opts, index } = this;
    // Fresh counters: the bytes posted to the dead worker and not decoded are gone with it.
    this.counters = createPackCounters();
    this.dead = false;
    this.startedAt = Date.now();
    const worker = new Worker(this.source, {
      eval: true,
      workerData: { role: 'decode', settings: opts.settings, counters: this.counters } satisfies WorkerInput,
      // The decoder allocates a record object per flow: under load V8 grows the young generation to
      // its default maximum. 32 MB decodes as fast here (16 MB cost ~8 %) and caps the worker's share.
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    this.worker = worker;
    this.packer.attach(worker, this.counters);
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'output') opts.onOutput(m.output, index);
      else if (m.type === 'recycle') this.packer.recycle(m.buffer);
      else if (m.type === 'thread') this.tid = m.tid;
      else this.waiting.get(m.id)?.(m);
    });
    worker.on('error', (err) => opts.onWorkerError(err, index));
    // A worker that died answers nothing: release whoever waits on it. While it is down its datagrams
    // are refused and counted (decode_backlog) and the pool reports the shard down (readiness); unless
    // the pool is stopping, it is started again after a delay that grows with consecutive crashes.
    worker.on('exit', (code) => {
      this.dead = true;
      this.packer.detach();
      this.onState(this, false);
      for (const done of [...this.waiting.values()]) done({ type: 'done', id: 0 });
      if (this.stopping) return;
      this.crashes = Date.now() - this.startedAt >= STABLE_MS ? 1 : this.crashes + 1;
      opts.onWorkerExit?.(index, code);
      const delay = Math.min(MAX_RESTART_DELAY_MS, (opts.restartDelayMs ?? 1000) * 2 ** (this.crashes - 1));
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (this.stopping) return;
        this.spawn();
        opts.onWorkerRestart?.(index);
      }, delay);
    });
    this.onState(this, true);
  }

  /** Hands the worker the port the UDP receive thread packs to. */
  connect(port: MessagePort): void {
    if (!this.dead) this.worker.postMessage({ type: 'receiver', port } satisfies ToWorker, [port]);
  }

  /** Terminates the worker as a crash would: it is restarted. */
  async kill(): Promise<void> {
    await this.worker.terminate();
  }

  push(exporter: string, data: Uint8Array, receivedMs: number, via: Via): PushResult {
    return this.packer.push(exporter, data, receivedMs, via);
  }

  /** Registers an answer to come from the worker (a flush forwarded by the UDP receive thread). */
  expect(): { id: number; done: Promise<unknown> } {
    const id = this.nextId++;
    if (this.dead) return { id, done: Promise.resolve() };
    const done = new Promise<unknown>((resolve) => {
      this.waiting.set(id, (m) => {
        this.waiting.delete(id);
        resolve(m);
      });
    });
    return { id, done };
  }

  /** Answers an expected id without the worker (it was down when the flush reached the receive thread). */
  answer(id: number): void {
    this.waiting.get(id)?.({ type: 'done', id });
  }

  request(
    msg: { type: 'import'; entries: { key: string; text: string }[] } | { type: 'flush' } | { type: 'stop' },
  ) {
    if (msg.type === 'stop') {
      // The worker exits once stopped: not a crash.
      this.stopping = true;
      if (this.restartTimer) clearTimeout(this.restartTimer);
    }
    if (this.dead) return Promise.resolve({ type: 'done' as const, id: 0 });
    this.packer.send();
    const id = this.nextId++;
    return new Promise<FromWorker & { type: 'done' }>((resolve) => {
      this.waiting.set(id, (m) => {
        this.waiting.delete(id);
        resolve(m);
      });
      this.worker.postMessage({ ...msg, id } as ToWorker);
    });
  }

  backlog(): number {
    return this.packer.backlog();
  }

  async terminate(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.packer.stop();
    await this.worker.terminate();
  }
}

class InlineShard implements Shard {
  private readonly runner: ShardRunner;

  constructor(opts: ShardPoolOptions) {
    this.runner = new ShardRunner(opts.settings, (out) => opts.onOutput(out, 0));
  }

  push(exporter: string, data: Uint8Array, receivedMs: number, via: Via): PushResult {
    this.runner.ingest(data, exporter, receivedMs, via);
    return 'accepted';
  }

  async request(
    msg: { type: 'import'; entries: { key: string; text: string }[] } | { type: 'flush' } | { type: 'stop' },
  ) {
    if (msg.type === 'import')
      return { type: 'done' as const, id: 0, result: this.runner.shard.importTemplates(msg.entries) };
    if (msg.type === 'flush') this.runner.flush();
    else this.runner.stop();
    return { type: 'done' as const, id: 0 };
  }

  backlog(): number {
    return 0;
  }
}

/** Starts the decode shards: `workers` threads, or one inline shard when `workers` is 0. */
export async function createShardPool(opts: ShardPoolOptions): Promise<ShardPool> {
  const shards: Shard[] = [];
  let udp: UdpThread | undefined;
  const workerShards: WorkerShard[] = [];
  /** Connects a running decode worker and the UDP receive thread by a channel of their own. */
  const link = (w: WorkerShard) => {
    if (!udp || udp.dead || w.dead) return;
    const { port1, port2 } = new MessageChannel();
    w.connect(port1);
    udp.attach(w.index, port2, w.counters);
  };
  if (opts.workers > 0) {
    const { code } = await workerCode();
    udp = new UdpThread(
      code,
      { shards: opts.workers, allowlist: opts.allowlist ?? [], backlogBytes: opts.backlogBytes },
      {
        error: (where, message) => opts.onUdpThread?.('error', `${where}: ${message}`),
        exit: (code) => opts.onUdpThread?.('exit', `exit code ${code}`),
        restart: () => {
          for (const w of workerShards) link(w);
          opts.onUdpThread?.('restart', 'started again');
        },
        skipped: (shard, id) => workerShards[shard]?.answer(id),
      },
      opts.restartDelayMs ?? 1000,
    );
    const onState = (w: WorkerShard, up: boolean) => {
      if (up) link(w);
      else udp?.detach(w.index);
    };
    for (let i = 0; i < opts.workers; i++) {
      const w = new WorkerShard(i, opts, code, onState);
      workerShards.push(w);
      shards.push(w);
    }
  } else {
    shards.push(new InlineShard(opts));
  }
  const n = shards.length;
  const one = n === 1 ? shards[0]! : undefined;
  const shardOf = (exporter: string) => one ?? shards[fnv1a(exporter) % n]!;
  /** Everything the UDP receive thread packed so far decoded: a flush behind it on each worker's port. */
  const flushUdp = async () => {
    if (!udp || udp.dead) return;
    const expected = workerShards.map((w) => w.expect());
    udp.flush(expected.map((e) => e.id));
    await Promise.race([Promise.all(expected.map((e) => e.done)), udp.exited]);
  };

  return {
    push: (exporter, buf, receivedMs, via) => shardOf(exporter).push(exporter, buf, receivedMs, via),
    async importTemplates(entries, onlyShard) {
      const per = new Map<Shard, { key: string; text: string }[]>();
      for (const e of entries) {
        const s = shardOf(e.exporter);
        if (onlyShard !== undefined && s !== shards[onlyShard]) continue;
        let list = per.get(s);
        if (!list) {
          list = [];
          per.set(s, list);
        }
        list.push({ key: e.key, text: e.text });
      }
      let imported = 0;
      let rejected = 0;
      for (const [s, list] of per) {
        const r = (await s.request({ type: 'import', entries: list })).result;
        imported += r?.imported ?? 0;
        rejected += r?.rejected ?? 0;
      }
      return { imported, rejected };
    },
    async flush() {
      await flushUdp();
      await Promise.all(shards.map((s) => s.request({ type: 'flush' })));
    },
    backlogBytes: () => shards.reduce((sum, s) => sum + s.backlog(), 0),
    down: () => workerShards.flatMap((s, i) => (s.dead ? [i] : [])),
    async killWorker(i) {
      const s = workerShards[i];
      if (!s) throw new Error(`no decode worker ${i}`);
      await s.kill();
    },
    size: () => n,
    threadIds() {
      const ids = new Map<number, number>();
      workerShards.forEach((s, i) => {
        if (s.tid !== undefined) ids.set(i, s.tid);
      });
      return ids;
    },
    bindUdp: (host, ports, receiveBufferBytes) => udp?.bind(host, ports, receiveBufferBytes),
    closeUdp: async () => {
      await udp?.close();
    },
    setBlocked: (exporters) => udp?.setBlocked(exporters),
    takeUdpCounts: () => udp?.takeCounts() ?? { received: 0, not_allowed: 0, blocked: 0, decode_backlog: 0 },
    udpDown: () => udp?.dead ?? false,
    udpThreadId: () => udp?.tid,
    async killUdpThread() {
      if (!udp) throw new Error('no UDP receive thread (decodeWorkers is 0)');
      await udp.kill();
    },
    async stop() {
      // The sockets first (nothing more is read), then what the receive thread packed is decoded.
      await udp?.close();
      await flushUdp();
      await udp?.terminate();
      await Promise.all(shards.map((s) => s.request({ type: 'stop' })));
      await Promise.all(workerShards.map((s) => s.terminate()));
    },
  };
}
