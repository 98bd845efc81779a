// The main thread's handle on the UDP receive thread (udp-receiver.ts): starts it, binds the sockets in
// it, tells it which decode workers are up and which exporters are blocked, reads its counters, and starts
// it again (binding the same ports) if it exits unasked.
import { type MessagePort, Worker } from 'node:worker_threads';
import {
  type FromUdpReceiver,
  type ToUdpReceiver,
  UDP_COUNTS,
  type UdpReceiverInput,
} from './udp-receiver.ts';

/** The receive thread is small: a few objects per datagram, nothing kept. */
const YOUNG_GENERATION_MB = 8;
const MAX_RESTART_DELAY_MS = 30_000;

/** Counts of the receive thread since the previous {@link UdpThread.takeCounts}. */
export type UdpCounts = Record<keyof typeof UDP_COUNTS, number>;

/** Callbacks of {@link UdpThread}. */
export interface UdpThreadEvents {
  error(where: string, message: string): void;
  /** The thread exited unasked; it is started again after a delay (its sockets too). */
  exit(code: number): void;
  /** Started again: the pool connects the decode workers to it anew. */
  restart(): void;
  /** A flush for a worker that was down, answered by the thread itself. */
  skipped(shard: number, id: number): void;
}

/** The UDP receive thread, seen from the main thread. */
export class UdpThread {
  private worker!: Worker;
  private readonly counts = new Int32Array(new SharedArrayBuffer(4 * Object.keys(UDP_COUNTS).length));
  private readonly seen = new Int32Array(Object.keys(UDP_COUNTS).length);
  private nextId = 1;
  private readonly waiting = new Map<number, (m: FromUdpReceiver) => void>();
  private bound: { host: string; ports: number[]; receiveBufferBytes: number } | undefined;
  private blocked: string[] = [];
  private stopping = false;
  private crashes = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Resolves when the current thread exits. */
  exited!: Promise<void>;
  dead = false;
  tid: number | undefined;

  constructor(
    private readonly code: string,
    private readonly input: Omit<UdpReceiverInput, 'role' | 'counts'>,
    private readonly events: UdpThreadEvents,
    private readonly restartDelayMs: number,
  ) {
    this.spawn();
  }

  private spawn(): void {
    this.dead = false;
    const worker = new Worker(this.code, {
      eval: true,
      workerData: { ...this.input, role: 'udp', counts: this.counts } satisfies UdpReceiverInput,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    this.worker = worker;
    this.exited = new Promise((r) => worker.once('exit', () => r()));
    worker.on('message', (m: FromUdpReceiver) => {
      if (m.type === 'thread') this.tid = m.tid;
      else if (m.type === 'error') this.events.error(m.where, m.message);
      else if (m.type === 'skipped') this.events.skipped(m.shard, m.id);
      else this.waiting.get(m.id)?.(m);
    });
    worker.on('error', (err) => this.events.error('udp receive thread', err.message));
    worker.on('exit', (code) => {
      this.dead = true;
      for (const done of [...this.waiting.values()]) done({ type: 'done', id: 0 });
      if (this.stopping) return;
      this.crashes++;
      this.events.exit(code);
      const delay = Math.min(MAX_RESTART_DELAY_MS, this.restartDelayMs * 2 ** (this.crashes - 1));
      this.restartTimer = setTimeout(() => void this.restart(), delay);
    });
    if (this.blocked.length > 0) this.post({ type: 'blocked', exporters: this.blocked });
  }

  private async restart(): Promise<void> {
    this.restartTimer = undefined;
    if (this.stopping) return;
    this.spawn();
    this.events.restart();
    const b = this.bound;
    if (b) {
      const r = await this.request((id) => ({ type: 'bind', id, ...b }));
      if (r.type === 'bound' && r.error === undefined) this.crashes = 0;
      else
        this.events.error('udp receive thread', `ports not bound again: ${(r as { error?: string }).error}`);
    }
  }

  private post(msg: ToUdpReceiver, transfer: MessagePort[] = []): void {
    if (!this.dead) this.worker.postMessage(msg, transfer);
  }

  private request(make: (id: number) => ToUdpReceiver): Promise<FromUdpReceiver> {
    if (this.dead) return Promise.resolve({ type: 'done', id: 0 });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, (m) => {
        this.waiting.delete(id);
        resolve(m);
      });
      this.worker.postMessage(make(id));
    });
  }

  /** Binds one socket per port in the thread; resolves the ports bound (useful when 0 was asked). */
  async bind(host: string, ports: number[], receiveBufferBytes: number): Promise<number[]> {
    const r = await this.request((id) => ({ type: 'bind', id, host, ports, receiveBufferBytes }));
    if (r.type !== 'bound') throw new Error('the UDP receive thread exited while binding');
    if (r.error !== undefined) throw new Error(r.error);
    this.bound = { host, ports: r.ports, receiveBufferBytes };
    return r.ports;
  }

  /** Worker `index` is up and takes packets on `port` (the thread's end of a channel to it). */
  attach(index: number, port: MessagePort, counters: Int32Array): void {
    this.post({ type: 'shard', index, port, counters }, [port]);
  }

  /** Worker `index` is down: its datagrams are refused (decode_backlog) until it is attached again. */
  detach(index: number): void {
    this.post({ type: 'shard', index });
  }

  setBlocked(exporters: string[]): void {
    this.blocked = exporters;
    this.post({ type: 'blocked', exporters });
  }

  /** Posts what waits to each worker, then worker i's flush `ids[i]` behind it on the same port. */
  flush(ids: number[]): void {
    this.post({ type: 'flush', ids });
  }

  /** Closes the sockets: nothing more is read. */
  async close(): Promise<void> {
    this.bound = undefined;
    await this.request((id) => ({ type: 'close', id }));
  }

  /** Counts since the previous call (the shared counters wrap at 2^32). */
  takeCounts(): UdpCounts {
    const out = {} as UdpCounts;
    for (const [k, i] of Object.entries(UDP_COUNTS) as [keyof UdpCounts, number][]) {
      const now = Atomics.load(this.counts, i);
      out[k] = (now - this.seen[i]!) >>> 0;
      this.seen[i] = now;
    }
    return out;
  }

  /** Terminates the thread as a crash would: it is restarted. */
  async kill(): Promise<void> {
    await this.worker.terminate();
  }

  async terminate(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.worker.terminate();
  }
}
