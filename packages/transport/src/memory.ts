import type {
  BatchHandler,
  ConsumedMessage,
  Publisher,
  Subscriber,
  Transport,
  TransportMessage,
} from './types.ts';

interface Topic {
  partitions: ConsumedMessage[][];
  nextOffset: number[];
  subscribers: Set<MemorySubscriber>;
}

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
    this.topic.subscribers.add(this);
    this.kick();
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

  topic(name: string, partitions = 1): Topic {
    let t = this.topics.get(name);
    if (!t) {
      t = {
        partitions: Array.from({ length: partitions }, () => []),
        nextOffset: new Array(partitions).fill(0),
        subscribers: new Set(),
      };
      this.topics.set(name, t);
    }
    return t;
  }

  async ensureTopic(topic: string, partitions: number): Promise<void> {
    this.topic(topic, partitions);
  }

  async createPublisher(): Promise<Publisher> {
    return {
      publish: async (topic: string, messages: TransportMessage[]) => {
        const t = this.topic(topic);
        for (const m of messages) {
          const p = partitionFor(m.key, t.partitions.length);
          const offset = t.nextOffset[p]!;
          t.nextOffset[p] = offset + 1;
          t.partitions[p]!.push({
            key: m.key,
            value: m.value,
            headers: m.headers ?? {},
            offset: String(offset),
          });
        }
        for (const s of t.subscribers) s.kick();
      },
      close: async () => {},
    };
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

/** FNV-1a over the key: stable across processes, like Kafka's murmur2 partitioner. */
export function partitionFor(key: string, partitions: number): number {
  if (partitions <= 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/** Creates the in-process transport used in embedded mode. */
export function createMemoryTransport(): MemoryBus {
  return new MemoryBus();
}
