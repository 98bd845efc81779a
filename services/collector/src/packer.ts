// Packs datagrams for one decode worker into one transferred buffer, sent every couple of milliseconds
// or sooner when it fills, under a bound of bytes posted and not yet decoded. Two threads pack for a
// worker: the UDP receive thread and the main thread (IPFIX over TCP); each is a `source` with its own
// pair of counters in memory shared with the worker, so the bound covers both and neither waits.
import { PACKET_HEADER } from './runner.ts';
import type { Via } from './shard.ts';

/** Outcome of handing a datagram to its shard. */
export type PushResult = 'accepted' | 'backlog';

/** Packed datagrams, as posted to a decode worker (see `PacketBatch` in runner.ts). */
export interface PacketsMessage {
  type: 'packets';
  buffer: ArrayBuffer;
  length: number;
  exporters: string[];
  /** Who packed it: its counter pair, and the port the buffer is handed back on. */
  source: PackSource;
}

/** 0: the main thread (TCP, and UDP when no receive thread runs); 1: the UDP receive thread. */
export type PackSource = 0 | 1;

/** Int32 slots per shard shared with its worker: bytes posted by source 0 and 1, decoded of each. */
export const COUNTER_SLOTS = 4;

/** Shared counters for a freshly started worker. */
export function createPackCounters(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(COUNTER_SLOTS * 4));
}

/** Bytes posted to a worker and not yet decoded, over both sources (int32 counters that may wrap). */
export function postedNotDecoded(c: Int32Array): number {
  return ((Atomics.load(c, 0) - Atomics.load(c, 2)) | 0) + ((Atomics.load(c, 1) - Atomics.load(c, 3)) | 0);
}

/**
 * Packed datagrams go out once this many bytes wait, or after {@link SEND_DELAY_MS}. A message per
 * event-loop turn (a thread takes a few datagrams per turn) made `postMessage` the largest cost of both
 * threads. Every 2 ms it still was the receive thread's largest and the worker's second cost at 10 000
 * sFlow datagrams/s (CPU profiles); every 10 ms its share fell from 44 % to 19 % of the receive thread's
 * time and from 18 % to 6 % of the worker's, for at most 10 ms more before decoding (records wait
 * `collector.lingerMs`, 50 ms, for their batch anyway).
 */
const SEND_BYTES = 128 << 10;
const SEND_DELAY_MS = 10;
/** A packing buffer: below {@link SEND_BYTES} used, one more export packet (at most 64 KiB) always fits. */
export const PACK_BYTES = SEND_BYTES + (64 << 10) + PACKET_HEADER;
/** Packing buffers kept for reuse beyond the one being filled. */
const MAX_FREE_BUFFERS = 8;

/** Where a packer posts: a worker, or a port to it; `undefined` while the worker is down. */
export interface PackTarget {
  postMessage(msg: unknown, transfer: ArrayBuffer[]): void;
}

/**
 * The packing for one worker from one source. While detached (the worker is down) every datagram is
 * refused (`backlog`, counted by the caller).
 */
export class PacketPacker {
  private buf = new ArrayBuffer(PACK_BYTES);
  private view = new DataView(this.buf);
  private bytes = new Uint8Array(this.buf);
  private used = 0;
  private exporters: string[] = [];
  private exporterIndex = new Map<string, number>();
  private readonly free: ArrayBuffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private target: PackTarget | undefined;
  private counters: Int32Array | undefined;

  constructor(
    private readonly source: PackSource,
    private readonly backlogBytes: number,
  ) {}

  /** Packs for a (re)started worker from now on. */
  attach(target: PackTarget, counters: Int32Array): void {
    this.target = target;
    this.counters = counters;
  }

  /** The worker is down: what waits is dropped with it (it was counted as accepted). */
  detach(): void {
    this.target = undefined;
    this.counters = undefined;
    this.used = 0;
    this.exporters = [];
    this.exporterIndex = new Map();
  }

  attached(): boolean {
    return this.target !== undefined;
  }

  push(exporter: string, data: Uint8Array, receivedMs: number, via: Via): PushResult {
    if (this.target === undefined) return 'backlog';
    const need = PACKET_HEADER + data.length;
    if (this.backlog() + need > this.backlogBytes) return 'backlog';
    if (this.used + need > this.buf.byteLength) {
      this.send();
      if (need > this.buf.byteLength) this.use(new ArrayBuffer(need));
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

  /** Posts the packed datagrams, transferring the packing buffer, and packs into a free one next. */
  send(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.used === 0 || this.target === undefined || this.counters === undefined) return;
    const buffer = this.buf;
    const msg: PacketsMessage = {
      type: 'packets',
      buffer,
      length: this.used,
      exporters: this.exporters,
      source: this.source,
    };
    Atomics.add(this.counters, this.source, this.used);
    this.used = 0;
    this.exporters = [];
    this.exporterIndex = new Map();
    this.target.postMessage(msg, [buffer]);
    this.use(this.free.pop() ?? new ArrayBuffer(PACK_BYTES));
  }

  /** A buffer the worker decoded and handed back, to pack into again. */
  recycle(buffer: ArrayBuffer): void {
    if (buffer.byteLength === PACK_BYTES && this.free.length < MAX_FREE_BUFFERS) this.free.push(buffer);
  }

  /** Bytes posted to the worker (by either source) and not decoded, plus what waits here. */
  backlog(): number {
    return (this.counters === undefined ? 0 : postedNotDecoded(this.counters)) + this.used;
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private use(buf: ArrayBuffer): void {
    this.buf = buf;
    this.view = new DataView(buf);
    this.bytes = new Uint8Array(buf);
  }
}
