import { partitionFor } from '@wardwatch/flow-schema';
import type {
  BatchHandler,
  ConsumedMessage,
  Publisher,
  Subscriber,
  TopicOptions,
  TopicSnapshot,
  Transport,
  TransportMessage,
} from './types.ts';

interface Topic {
  partitions: ConsumedMessage[][];
  nextOffset: number[];
  subscribers: Set<MemorySubscriber>;
  /** Compacted topics: the latest message per key (tombstones remove it); undefined otherwise. */
  latest: Map<string, { partition: number; message: ConsumedMessage }> | undefined;
}

const EMPTY = new Uint8Array(0);

class MemorySubscriber implements Subscriber {
  private handler: BatchHandler | undefined;
  private topic: Topic | undefined;
  private topicName = '';
  private running: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly bus: MemoryBus) {}

  async start(topic: string, handler: BatchHandler): Promise<void> {
    this.handler = handler;
    this.topicName = topic;
    this.topic = this.bus.topic(topic);
    // A compacted topic is read from the beginning: what compaction kept is delivered first.
    if (this.topic.latest && this.topic.subscribers.size === 0) {
      for (const { partition, message } of this.topic.latest.values())
        this.topic.partitions[partition]!.push(message);
    }
    this.topic.subscribers.add(this);
    this.kick();
  }

  seek(): void {
    throw new Error('the in-process bus keeps no history to seek in');
  }

  /** Delivers everything not yet delivered, one partition batch at a time, serially. */
  kick(): void {
    this.running = this.running.then(() => this.drain());
  }

  private async drain(): Promise<void> {
    const t = this.topic;
    if (!t || !this.handler) return;
    for (let p = 0; p < t.partitions.length && !this.closed; p++) {
      const queue = t.partitions[p]!;
      while (queue.length > 0 && !this.closed) {
        const messages = queue.splice(0, queue.length);
        try {
          await this.handler({ topic: this.topicName, partition: p, messages });
        } catch {
          // Like an uncommitted Kafka batch: put it back and retry on the next kick.
          queue.unshift(...messages);
          setTimeout(() => this.kick(), 1000).unref();
          return;
        }
      }
    }
  }

  async close(): Promise<void> {
    await this.running;
    this.closed = true;
    this.topic?.subscribers.delete(this);
  }

  idle(): Promise<void> {
    return this.running;
  }
}

/**
 * The in-process transport of embedded mode: partitioned topics in memory with the same contract as
 * Kafka (key-hashed partitions, batches per partition, redelivery of a failed batch) and one consumer
 * group per topic. Nothing survives a restart.
 */
export class MemoryBus implements Transport {
  readonly kind = 'memory' as const;
  private readonly topics = new Map<string, Topic>();
  private readonly subscribers = new Set<MemorySubscriber>();

  topic(name: string, partitions = 1, opts: TopicOptions = {}): Topic {
    let t = this.topics.get(name);
    if (!t) {
      t = {
        partitions: Array.from({ length: partitions }, () => []),
        nextOffset: new Array(partitions).fill(0),
        subscribers: new Set(),
        latest: opts.compacted ? new Map() : undefined,
      };
      this.topics.set(name, t);
    }
    return t;
  }

  async ensureTopic(topic: string, partitions: number, opts?: TopicOptions): Promise<void> {
    this.topic(topic, partitions, opts);
  }

  async partitionCount(topic: string): Promise<number> {
    return this.topics.get(topic)?.partitions.length ?? 0;
  }

  async createPublisher(): Promise<Publisher> {
    return {
      publish: async (topic: string, messages: TransportMessage[]) => {
        const t = this.topic(topic);
        const n = t.partitions.length;
        for (const m of messages) {
          const p =
            m.partition !== undefined && m.partition >= 0 && m.partition < n
              ? m.partition
              : partitionFor(m.key, n);
          const offset = t.nextOffset[p]!;
          t.nextOffset[p] = offset + 1;
          const message = {
            key: m.key,
            value: m.value ?? EMPTY,
            headers: m.headers ?? {},
            offset: String(offset),
          };
          if (t.latest) {
            if (m.value === null) t.latest.delete(m.key);
            else t.latest.set(m.key, { partition: p, message });
            // Compacted state is kept in `latest`; the queue only feeds live subscribers (bounded memory).
            if (t.subscribers.size === 0) continue;
          }
          t.partitions[p]!.push(message);
        }
        for (const s of t.subscribers) s.kick();
      },
      close: async () => {},
    };
  }

  /** Compacted topics only: what compaction keeps (the bus does not retain delivered messages). */
  async readTopic(topic: string): Promise<TopicSnapshot> {
    const t = this.topics.get(topic);
    if (!t?.latest) return { messages: [], complete: true };
    return { messages: [...t.latest.values()].map((e) => e.message), complete: true };
  }

  async createSubscriber(_groupId: string): Promise<Subscriber> {
    const s = new MemorySubscriber(this);
    this.subscribers.add(s);
    return s;
  }

  /** Resolves when every subscriber has handled everything published so far (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.subscribers].map((s) => s.idle()));
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscribers].map((s) => s.close()));
  }
}

/** Creates the in-process transport used in embedded mode. */
export function createMemoryTransport(): MemoryBus {
  return new MemoryBus();
}
