import {
  type Admin,
  CompressionTypes,
  type Consumer,
  Kafka,
  logLevel as KafkaLogLevel,
  type LogEntry,
  type Producer,
} from 'kafkajs';
import type { BatchHandler, Publisher, Subscriber, Transport, TransportMessage } from './types.ts';

/** Options for {@link createKafkaTransport}. */
export interface KafkaTransportOptions {
  brokers: readonly string[];
  clientId: string;
  /** Prepended to every topic name (isolates installations and tests on one cluster). */
  topicPrefix?: string;
  /** Receives kafkajs's own log lines (warn and above). */
  log?: (level: 'error' | 'warn', message: string, extra: Record<string, unknown>) => void;
}

function headersOf(h: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined) {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v !== undefined) out[k] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  return out;
}

class KafkaPublisher implements Publisher {
  constructor(
    private readonly producer: Producer,
    private readonly prefix: string,
  ) {}

  async publish(topic: string, messages: TransportMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.producer.send({
      topic: this.prefix + topic,
      // Acknowledged by every in-sync replica; with the idempotent producer a retry cannot duplicate.
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: messages.map((m) => ({
        key: m.key,
        value: Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength),
        ...(m.headers ? { headers: m.headers } : {}),
      })),
    });
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

class KafkaSubscriber implements Subscriber {
  constructor(
    private readonly consumer: Consumer,
    private readonly prefix: string,
  ) {}

  async start(topic: string, handler: BatchHandler): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.prefix + topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
        if (batch.messages.length === 0) return;
        await handler({
          topic,
          partition: batch.partition,
          messages: batch.messages.map((m) => ({
            key: m.key ? m.key.toString() : '',
            value: m.value
              ? new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.byteLength)
              : new Uint8Array(0),
            headers: headersOf(m.headers),
            offset: m.offset,
          })),
        });
        resolveOffset(batch.lastOffset());
        await commitOffsetsIfNecessary();
        await heartbeat();
      },
    });
  }

  async close(): Promise<void> {
    await this.consumer.disconnect();
  }
}

class KafkaTransport implements Transport {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly prefix: string;
  private admin: Admin | undefined;
  private readonly closers: Array<() => Promise<void>> = [];

  constructor(opts: KafkaTransportOptions) {
    this.prefix = opts.topicPrefix ?? '';
    const log = opts.log;
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: [...opts.brokers],
      logLevel: KafkaLogLevel.WARN,
      retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
      logCreator:
        () =>
        ({ level, log: entry }: LogEntry) => {
          if (!log) return;
          const { message, ...extra } = entry;
          log(level === KafkaLogLevel.ERROR ? 'error' : 'warn', String(message), extra);
        },
    });
  }

  private async getAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  async ensureTopic(topic: string, partitions: number): Promise<void> {
    const admin = await this.getAdmin();
    const name = this.prefix + topic;
    const existing = await admin.listTopics();
    if (existing.includes(name)) return;
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: partitions }] });
  }

  async createPublisher(): Promise<Publisher> {
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    const p = new KafkaPublisher(producer, this.prefix);
    this.closers.push(() => p.close());
    return p;
  }

  async createSubscriber(groupId: string): Promise<Subscriber> {
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false, sessionTimeout: 30_000 });
    const s = new KafkaSubscriber(consumer, this.prefix);
    this.closers.push(() => s.close());
    return s;
  }

  async ping(): Promise<boolean> {
    try {
      const admin = await this.getAdmin();
      await admin.describeCluster();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    for (const close of this.closers.reverse()) await close().catch(() => {});
    await this.admin?.disconnect().catch(() => {});
  }
}

/** Creates the Kafka transport used in cluster mode. */
export function createKafkaTransport(opts: KafkaTransportOptions): Transport {
  return new KafkaTransport(opts);
}
