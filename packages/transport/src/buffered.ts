import type { Spool } from './spool.ts';
import type { Publisher, TransportMessage } from './types.ts';

/** Why messages were dropped instead of published. */
export type DropReason = 'buffer_full' | 'shutdown';

/** Outcome of {@link BufferedPublisher.offer}: queued for publishing, or dropped (and reported). */
export type OfferResult = 'queued' | 'dropped';

/** Options of {@link createBufferedPublisher}. */
export interface BufferedPublisherOptions {
  /** The sink it wraps. */
  publisher: Publisher;
  /** Bound on queued message bytes (keys + values); past it, offers go to the spool, or are dropped. */
  maxBytes: number;
  /**
   * Where offers wait when memory is full (and, at close, what could not be published): once anything
   * waits there, later offers follow it, so the order is kept. Read back as the sink takes messages.
   */
  spool?: Spool;
  /**
   * Largest group of messages handed to the sink in one call, bytes (default 4 MiB): larger produce
   * requests cost the Kafka client and the broker less CPU per record (see docs/collector.md).
   */
  maxBatchBytes?: number;
  /**
   * Largest share of one partition in a group, bytes (default 960 KiB): Kafka refuses a partition's
   * record batch above the broker's `message.max.bytes` (1 MiB by default), even uncompressed.
   */
  maxPartitionBatchBytes?: number;
  /**
   * Least time between the starts of two produce requests unless a full one (`maxBatchBytes`) waits, ms
   * (default 0: send as soon as the previous request is acknowledged). Below the sink's capacity each
   * request then carries what arrived in that time instead of a few messages: the client's and the
   * broker's cost per request is paid for more records. A drain or close cuts the wait short.
   */
  lingerMs?: number;
  /** First retry delay after a failed publish, ms; doubles per attempt up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * A group was accepted by the sink; `weight` is the sum of the offers' weights (e.g. records), of which
   * `inherited` came from a spool an earlier process wrote.
   */
  onPublished?: (
    topic: string,
    messages: number,
    weight: number,
    latencyMs: number,
    inherited: number,
  ) => void;
  /** An offer went to the spool (or, at close, a queued group did). */
  onSpooled?: (topic: string, messages: number, weight: number) => void;
  /** An offer (or, at shutdown, a queued group) was dropped. */
  onDropped?: (topic: string, messages: number, weight: number, reason: DropReason) => void;
  /** A publish failed and will be retried after `delayMs`. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * A bounded buffer with retries in front of a {@link Publisher}. `offer` never waits and never
 * throws: the caller (a socket loop) keeps running whatever the sink does.
 */
export interface BufferedPublisher {
  /** Queues messages whose combined weight is `weight`, or drops them when the bound is reached. */
  offer(topic: string, messages: TransportMessage[], weight: number): OfferResult;
  /** Bytes queued in memory now (including the group being published). */
  queuedBytes(): number;
  /** Bytes in the spool (0 without one). */
  spooledBytes(): number;
  /** Fill of the bound, 0..1. */
  fill(): number;
  /** True while the sink is failing (between a failed publish and the next success). */
  failing(): boolean;
  /** Resolves true once everything queued before the call is published, false after `timeoutMs`. */
  drain(timeoutMs: number): Promise<boolean>;
  /** Drains for at most `timeoutMs`, spools (or drops, reported as `shutdown`) what is left and stops. */
  close(timeoutMs: number): Promise<void>;
}

interface Entry {
  topic: string;
  messages: TransportMessage[];
  weight: number;
  bytes: number;
  /** Read back from the spool: released there once published. */
  token?: number;
  /** Read back from a spool an earlier process wrote. */
  inherited?: boolean;
}

const messageSize = (m: TransportMessage) => m.key.length + (m.value?.byteLength ?? 0) + 16;

function sizeOf(messages: readonly TransportMessage[]): number {
  let n = 0;
  for (const m of messages) n += messageSize(m);
  return n;
}

/**
 * Adds an entry's messages to the bytes per partition of a group being formed, unless one partition
 * would pass `limit` (then nothing is added). Messages without a partition count as one partition.
 */
function addToPartitions(e: Entry, perPartition: Map<number, number>, limit: number): boolean {
  if (e.messages.length === 1) {
    // The collector's case: one FlowBatch an offer.
    const m = e.messages[0]!;
    const p = m.partition ?? -1;
    const n = (perPartition.get(p) ?? 0) + messageSize(m);
    if (n > limit) return false;
    perPartition.set(p, n);
    return true;
  }
  const before = new Map<number, number>();
  for (const m of e.messages) {
    const p = m.partition ?? -1;
    const n = perPartition.get(p) ?? 0;
    if (!before.has(p)) before.set(p, n);
    if (n + messageSize(m) > limit) {
      for (const [q, b] of before) perPartition.set(q, b);
      return false;
    }
    perPartition.set(p, n + messageSize(m));
  }
  return true;
}

/**
 * Wraps a sink with a bounded FIFO and a single publishing loop: consecutive offers for one topic are
 * grouped up to `maxBatchBytes`; a failed group is retried with exponential backoff (with jitter) until
 * it succeeds, while new offers queue up to `maxBytes` and are dropped (counted by `onDropped`) beyond.
 * Memory stays bounded and nothing is lost silently.
 */
export function createBufferedPublisher(opts: BufferedPublisherOptions): BufferedPublisher {
  const maxBatch = opts.maxBatchBytes ?? 4 << 20;
  const maxPartition = opts.maxPartitionBatchBytes ?? 960 << 10;
  const linger = opts.lingerMs ?? 0;
  let lastSend = Number.NEGATIVE_INFINITY;
  let lingerWake: (() => void) | undefined;
  const initial = opts.initialBackoffMs ?? 100;
  const maxBackoff = opts.maxBackoffMs ?? 5_000;
  const spool = opts.spool;
  const queue: Entry[] = [];
  let head = 0;
  let bytes = 0;
  let running = false;
  let pumping: Promise<void> = Promise.resolve();
  let closed = false;
  let isFailing = false;
  let wake: (() => void) | undefined;
  let idleWaiters: Array<() => void> = [];

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = undefined;
        resolve();
      };
    });
  }

  /** Waits until `ms` passed or `lingerWake` is called (a full request waits, or a drain). */
  function lingerFor(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        lingerWake = undefined;
        resolve();
      }, ms);
      lingerWake = () => {
        clearTimeout(t);
        lingerWake = undefined;
        resolve();
      };
    });
  }

  async function pump(): Promise<void> {
    running = true;
    try {
      while (!closed) {
        if (head >= queue.length && !load()) break;
        const wait = lastSend + linger - performance.now();
        if (wait > 0 && bytes < maxBatch && idleWaiters.length === 0) {
          await lingerFor(wait);
          if (closed) break;
        }
        lastSend = performance.now();
        // Group consecutive entries of one topic, within the bounds of a request and of a partition.
        const first = queue[head]!;
        let end = head + 1;
        let groupBytes = first.bytes;
        const perPartition = new Map<number, number>();
        addToPartitions(first, perPartition, Number.POSITIVE_INFINITY);
        while (
          end < queue.length &&
          queue[end]!.topic === first.topic &&
          groupBytes + queue[end]!.bytes <= maxBatch &&
          addToPartitions(queue[end]!, perPartition, maxPartition)
        ) {
          groupBytes += queue[end]!.bytes;
          end++;
        }
        const group = queue.slice(head, end);
        const messages = group.length === 1 ? first.messages : group.flatMap((e) => e.messages);
        const weight = group.reduce((s, e) => s + e.weight, 0);
        // A publish in flight when close() is called still counts if it succeeds.
        let published = false;
        for (let attempt = 1; !closed; attempt++) {
          const t0 = performance.now();
          try {
            await opts.publisher.publish(first.topic, messages);
            published = true;
            isFailing = false;
            let inherited = 0;
            for (const e of group) if (e.inherited) inherited += e.weight;
            opts.onPublished?.(first.topic, messages.length, weight, performance.now() - t0, inherited);
            break;
          } catch (err) {
            isFailing = true;
            const base = Math.min(maxBackoff, initial * 2 ** Math.min(attempt - 1, 20));
            const delay = Math.round(base / 2 + Math.random() * (base / 2));
            if (closed) break;
            opts.onRetry?.(err, attempt, delay);
            await sleep(delay);
          }
        }
        if (!published) break;
        for (const e of group) if (e.token !== undefined) spool!.release(e.token);
        head = end;
        bytes -= groupBytes;
        // Compact the consumed prefix now and then instead of shifting per entry.
        if (head > 1024 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
      }
    } finally {
      running = false;
      if (head >= queue.length) {
        queue.length = 0;
        head = 0;
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  /** Moves the oldest spooled entries into memory (up to its free room); false when none wait. */
  function load(): boolean {
    if (!spool?.pending()) return false;
    for (const e of spool.read(Math.max(maxBatch, opts.maxBytes - bytes))) {
      const size = sizeOf(e.messages);
      queue.push({
        topic: e.topic,
        messages: e.messages,
        weight: e.weight,
        bytes: size,
        token: e.token,
        inherited: e.inherited,
      });
      bytes += size;
    }
    return head < queue.length;
  }

  /** Starts the publishing loop unless it runs. */
  function kick(): void {
    if (!running) pumping = pump();
  }

  if (spool?.pending()) kick();

  return {
    offer(topic, messages, weight) {
      if (messages.length === 0) return 'queued';
      const size = sizeOf(messages);
      if (closed) {
        opts.onDropped?.(topic, messages.length, weight, 'shutdown');
        return 'dropped';
      }
      const full = bytes + size > opts.maxBytes;
      // Behind anything already spooled, or past the memory bound: the spool, while it has room.
      if (full || spool?.pending()) {
        if (!spool?.append({ topic, messages, weight })) {
          opts.onDropped?.(topic, messages.length, weight, 'buffer_full');
          return 'dropped';
        }
        opts.onSpooled?.(topic, messages.length, weight);
        kick();
        return 'queued';
      }
      queue.push({ topic, messages, weight, bytes: size });
      bytes += size;
      if (bytes >= maxBatch) lingerWake?.();
      kick();
      return 'queued';
    },
    queuedBytes: () => bytes,
    spooledBytes: () => spool?.bytes() ?? 0,
    fill: () => bytes / opts.maxBytes,
    failing: () => isFailing,
    async drain(timeoutMs) {
      if (head >= queue.length && !running) return true;
      return new Promise<boolean>((resolve) => {
        const t = setTimeout(() => {
          idleWaiters = idleWaiters.filter((w) => w !== done);
          resolve(false);
        }, timeoutMs);
        const done = () => {
          clearTimeout(t);
          resolve(true);
        };
        idleWaiters.push(done);
        // Cut a backoff short (the sink may be back), and a linger.
        wake?.();
        lingerWake?.();
      });
    },
    async close(timeoutMs) {
      await this.drain(timeoutMs);
      closed = true;
      wake?.();
      lingerWake?.();
      // Let a publish in flight settle (bounded): what it delivered is not spooled again.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        pumping,
        new Promise<void>((r) => {
          timer = setTimeout(r, Math.max(timeoutMs, 1_000));
        }),
      ]);
      clearTimeout(timer);
      for (let i = head; i < queue.length; i++) {
        const e = queue[i]!;
        // Read back from the spool: still there, read again by the next process.
        if (e.token !== undefined) continue;
        if (spool?.append(e)) opts.onSpooled?.(e.topic, e.messages.length, e.weight);
        else opts.onDropped?.(e.topic, e.messages.length, e.weight, 'shutdown');
      }
      queue.length = 0;
      head = 0;
      bytes = 0;
      spool?.close();
    },
  };
}
