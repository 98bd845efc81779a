// The decode shards and how datagrams reach them: by a hash of the exporter address, so an exporter's
// templates and its data always meet in one shard. Worker shards receive datagrams packed into one
// transferred buffer per shard every couple of milliseconds (or sooner when it fills), under a bound of
// bytes posted and not yet decoded (the worker counts what it decoded in shared memory). The worker hands
// each buffer back once decoded, and the receive thread packs into it again: no copy and no allocation
// per batch.
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { fnv1a } from '@wardwatch/flow-schema';
import type { FromWorker, ToWorker, WorkerInput } from './decode-worker.ts';
import { PACKET_HEADER, ShardRunner } from './runner.ts';
import type { ShardOutput, ShardSettings, Via } from './shard.ts';

/** Outcome of handing a datagram to its shard. */
export type PushResult = 'accepted' | 'backlog';

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

/**
 * Packed datagrams go out once this many bytes wait, or after {@link SEND_DELAY_MS}. A message per
 * event-loop turn (the receive thread takes a few datagrams per turn) made `postMessage` the largest cost
 * of both threads; ~100 datagrams a message cost little and delay decoding by ~2 ms at most.
 */
const SEND_BYTES = 128 << 10;
const SEND_DELAY_MS = 2;
/** A packing buffer: below {@link SEND_BYTES} used, one more export packet (at most 64 KiB) always fits. */
const PACK_BYTES = SEND_BYTES + (64 << 10) + PACKET_HEADER;
/** Packing buffers kept for reuse per shard beyond the one being filled. */
const MAX_FREE_BUFFERS = 8;
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
  private buf = new ArrayBuffer(PACK_BYTES);
  private view = new DataView(this.buf);
  private bytes = new Uint8Array(this.buf);
  private used = 0;
  private exporters: string[] = [];
  private exporterIndex = new Map<string, number>();
  /** Packing buffers the worker handed back. */
  private readonly free: ArrayBuffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Bytes posted, and bytes the worker decoded (shared with it): int32 counters that may wrap. */
  private posted = 0;
  private decoded = new Int32Array(new SharedArrayBuffer(4));
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
  ) {
    this.spawn();
  }

  private spawn(): void {
    const { opts, index } = this;
    // A fresh counter: the bytes posted to the dead worker and not decoded are gone with it.
    this.decoded = new Int32Array(new SharedArrayBuffer(4));
    this.posted = 0;
    this.dead = false;
    this.startedAt = Date.now();
    const worker = new Worker(this.source, {
      eval: true,
      workerData: { settings: opts.settings, decoded: this.decoded } satisfies WorkerInput,
      // The decoder allocates a record object per flow: under load V8 grows the young generation to
      // its default maximum. 32 MB decodes as fast here (16 MB cost ~8 %) and caps the worker's share.
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    this.worker = worker;
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'output') opts.onOutput(m.output, index);
      else if (m.type === 'recycle') {
        if (m.buffer.byteLength === PACK_BYTES && this.free.length < MAX_FREE_BUFFERS)
          this.free.push(m.buffer);
      } else if (m.type === 'thread') this.tid = m.tid;
      else this.waiting.get(m.id)?.(m);
    });
    worker.on('error', (err) => opts.onWorkerError(err, index));
    // A worker that died answers nothing: release whoever waits on it. While it is down its datagrams
    // are refused and counted (decode_backlog) and the pool reports the shard down (readiness); unless
    // the pool is stopping, it is started again after a delay that grows with consecutive crashes.
    worker.on('exit', (code) => {
      this.dead = true;
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
  }

  /** Terminates the worker as a crash would: it is restarted. */
  async kill(): Promise<void> {
    await this.worker.terminate();
  }

  push(exporter: string, data: Uint8Array, receivedMs: number, via: Via): PushResult {
    const need = PACKET_HEADER + data.length;
    if (this.dead) return 'backlog';
    if (this.backlog() + need > this.opts.backlogBytes) return 'backlog';
    if (this.used + need > this.buf.byteLength) {
      this.send();
      if (need > this.buf.byteLength) this.grow(need);
    }
    let idx = this.exporterIndex.get(exporter);
    if (idx === undefined) {
      idx = this.exporters.length;
      this.exporters.push(exporter);
      this.exporterIndex.set(exporter, idx);
    }
    const o = this.used;
    this.view.setUint32(o, data.length);
    this.view.setUint16(o + 4, idx);
    this.view.setUint8(o + 6, via);
    this.view.setFloat64(o + 8, receivedMs);
    this.bytes.set(data, o + PACKET_HEADER);
    this.used = o + need;
    if (this.used >= SEND_BYTES) this.send();
    else this.timer ??= setTimeout(() => this.send(), SEND_DELAY_MS);
    return 'accepted';
  }

  private grow(n: number): void {
    this.use(new ArrayBuffer(n));
  }

  private use(buf: ArrayBuffer): void {
    this.buf = buf;
    this.view = new DataView(buf);
    this.bytes = new Uint8Array(buf);
  }

  /** Posts the packed datagrams, transferring the packing buffer, and packs into a free one next. */
  send(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.used === 0) return;
    const buffer = this.buf;
    const msg: ToWorker = { type: 'packets', buffer, length: this.used, exporters: this.exporters };
    this.posted = (this.posted + this.used) | 0;
    this.used = 0;
    this.exporters = [];
    this.exporterIndex = new Map();
    this.worker.postMessage(msg, [buffer]);
    this.use(this.free.pop() ?? new ArrayBuffer(PACK_BYTES));
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
    this.send();
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
    return ((this.posted - Atomics.load(this.decoded, 0)) | 0) + this.used;
  }

  async terminate(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.timer) clearTimeout(this.timer);
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
  if (opts.workers > 0) {
    const { code } = await workerCode();
    for (let i = 0; i < opts.workers; i++) shards.push(new WorkerShard(i, opts, code));
  } else {
    shards.push(new InlineShard(opts));
  }
  const n = shards.length;
  const one = n === 1 ? shards[0]! : undefined;
  const shardOf = (exporter: string) => one ?? shards[fnv1a(exporter) % n]!;

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
      await Promise.all(shards.map((s) => s.request({ type: 'flush' })));
    },
    backlogBytes: () => shards.reduce((sum, s) => sum + s.backlog(), 0),
    down: () => shards.flatMap((s, i) => (s instanceof WorkerShard && s.dead ? [i] : [])),
    async killWorker(i) {
      const s = shards[i];
      if (!(s instanceof WorkerShard)) throw new Error(`no decode worker ${i}`);
      await s.kill();
    },
    size: () => n,
    threadIds() {
      const ids = new Map<number, number>();
      shards.forEach((s, i) => {
        if (s instanceof WorkerShard && s.tid !== undefined) ids.set(i, s.tid);
      });
      return ids;
    },
    async stop() {
      await Promise.all(shards.map((s) => s.request({ type: 'stop' })));
      await Promise.all(shards.map((s) => (s instanceof WorkerShard ? s.terminate() : undefined)));
    },
  };
}
