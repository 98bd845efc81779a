import { SpanStatusCode, trace } from '@opentelemetry/api';
import kafkajs, {
  type Admin,
  CompressionTypes,
  type Consumer,
  Kafka,
  logLevel as KafkaLogLevel,
  type LogEntry,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import { gzipCodec, installFastCrc32c, lz4Codec } from './codecs.ts';
import type {
  BatchHandler,
  Compression,
  ConsumedMessage,
  Publisher,
  PublisherOptions,
  SubscribeOptions,
  Subscriber,
  TopicOptions,
  TopicSnapshot,
  Transport,
  TransportMessage,
} from './types.ts';

const tracer = trace.getTracer('@wardwatch/transport');

// Before kafkajs first encodes a record batch (it loads that encoder lazily).
installFastCrc32c();
// (CommonJS: the codec table is reachable only through the default export.)
kafkajs.CompressionCodecs[CompressionTypes.GZIP] = () => gzipCodec;
kafkajs.CompressionCodecs[CompressionTypes.LZ4] = () => lz4Codec;
const CODECS: Record<Compression, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  lz4: CompressionTypes.LZ4,
};

/** Options for {@link createKafkaTransport}. */
export interface KafkaTransportOptions {
  brokers: readonly string[];
  clientId: string;
  /** Prepended to every topic name (isolates installations and tests on one cluster). */
  topicPrefix?: string;
  /** Receives kafkajs's own log lines (warn and above). */
  log?: (level: 'error' | 'warn', message: string, extra: Record<string, unknown>) => void;
  /** TLS to the brokers: `true` (system CAs) or the CA certificate(s), PEM; unset: plaintext. */
  tls?: true | { ca: string | Buffer };
  /** SASL/SCRAM authentication (over TLS: the password never crosses in clear). */
  sasl?: { mechanism: 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
}

function headersOf(h: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined) {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v !== undefined) out[k] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  return out;
}

const asBuffer = (v: Uint8Array | null) =>
  v === null ? null : Buffer.from(v.buffer, v.byteOffset, v.byteLength);

class KafkaPublisher implements Publisher {
  constructor(
    private readonly producer: Producer,
    private readonly prefix: string,
    private readonly compression: CompressionTypes,
  ) {}

  async publish(topic: string, messages: TransportMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const span = tracer.startSpan('kafka.produce', {
      attributes: {
        'messaging.destination.name': this.prefix + topic,
        'messaging.batch.message_count': messages.length,
      },
    });
    try {
      await this.producer.send({
        topic: this.prefix + topic,
        // Acknowledged by every in-sync replica; with the idempotent producer a retry cannot duplicate.
        acks: -1,
        compression: this.compression,
        messages: messages.map((m) => ({
          key: m.key,
          value: asBuffer(m.value),
          ...(m.partition !== undefined ? { partition: m.partition } : {}),
          ...(m.headers ? { headers: m.headers } : {}),
        })),
      });
    } catch (err) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
      throw err;
    } finally {
      span.end();
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

class KafkaSubscriber implements Subscriber {
  private topicName = '';

  constructor(
    private readonly consumer: Consumer,
    private readonly prefix: string,
  ) {}

  async start(topic: string, handler: BatchHandler, options?: SubscribeOptions): Promise<void> {
    const name = this.prefix + topic;
    this.topicName = name;
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: name, fromBeginning: true });
    let assigned: Promise<void> = Promise.resolve();
    const onAssign = options?.onAssign;
    if (onAssign) {
      // kafkajs does not await event listeners: batches wait for `assigned` before reaching the handler.
      this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
        const partitions = e.payload.memberAssignment[name] ?? [];
        // A failed onAssign only skips the seek: the consumer then resumes from the group's offsets,
        // which exactly-once consumers filter themselves.
        assigned = assigned
          .then(() => onAssign(partitions))
          .then((offsets) => {
            for (const [partition, offset] of offsets) this.consumer.seek({ topic: name, partition, offset });
          })
          .catch(() => {});
      });
    }
    await this.consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, options?.concurrency ?? 1),
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isStale }) => {
        if (batch.messages.length === 0) return;
        await assigned;
        if (isStale()) return;
        await handler({
          topic,
          partition: batch.partition,
          stale: isStale,
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

  seek(partition: number, offset: string): void {
    if (!this.topicName) throw new Error('seek before start');
    this.consumer.seek({ topic: this.topicName, partition, offset });
  }

  async close(): Promise<void> {
    await this.consumer.disconnect();
  }
}

class KafkaTransport implements Transport {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly prefix: string;
  private readonly clientId: string;
  private admin: Admin | undefined;
  private readonly closers: Array<() => Promise<void>> = [];

  constructor(opts: KafkaTransportOptions) {
    this.prefix = opts.topicPrefix ?? '';
    this.clientId = opts.clientId;
    const log = opts.log;
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: [...opts.brokers],
      ...(opts.tls
        ? { ssl: opts.tls === true ? true : { ca: [opts.tls.ca], rejectUnauthorized: true } }
        : {}),
      ...(opts.sasl ? { sasl: { ...opts.sasl } as SASLOptions } : {}),
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

  async ensureTopic(topic: string, partitions: number, opts: TopicOptions = {}): Promise<void> {
    const admin = await this.getAdmin();
    const name = this.prefix + topic;
    // A broker that has just started can answer the metadata request that follows a topic's creation
    // with UNKNOWN_TOPIC_OR_PARTITION for a moment, which kafkajs gives up on (it waits out only
    // LEADER_NOT_AVAILABLE there): retriable errors are retried here, for up to ~15 s.
    for (let attempt = 1; ; attempt++) {
      try {
        if (!(await admin.listTopics()).includes(name)) {
          await admin.createTopics({
            waitForLeaders: true,
            topics: [
              {
                topic: name,
                numPartitions: partitions,
                ...(opts.compacted ? { configEntries: [{ name: 'cleanup.policy', value: 'compact' }] } : {}),
              },
            ],
          });
        }
        await admin.fetchTopicMetadata({ topics: [name] });
        return;
      } catch (err) {
        if (attempt >= 20 || (err as { retriable?: boolean }).retriable !== true) throw err;
        await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** attempt)));
      }
    }
  }

  async partitionCount(topic: string): Promise<number> {
    const admin = await this.getAdmin();
    const name = this.prefix + topic;
    if (!(await admin.listTopics()).includes(name)) return 0;
    const { topics } = await admin.fetchTopicMetadata({ topics: [name] });
    return topics[0]?.partitions.length ?? 0;
  }

  async createPublisher(opts: PublisherOptions = {}): Promise<Publisher> {
    const producer = this.kafka.producer({
      // Idempotence needs acks from all in-sync replicas and one request in flight per connection.
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 200, retries: opts.retries ?? 2, maxRetryTime: 2_000 },
      ...(opts.requestTimeoutMs ? { requestTimeout: opts.requestTimeoutMs } : {}),
    });
    await producer.connect();
    const p = new KafkaPublisher(producer, this.prefix, CODECS[opts.compression ?? 'lz4']);
    this.closers.push(() => p.close());
    return p;
  }

  async readTopic(topic: string, opts: { timeoutMs?: number } = {}): Promise<TopicSnapshot> {
    const admin = await this.getAdmin();
    const name = this.prefix + topic;
    if (!(await admin.listTopics()).includes(name)) return { messages: [], complete: true };
    // The end as of now, per partition; an empty partition has low == high.
    const want = new Map<number, bigint>();
    for (const o of await admin.fetchTopicOffsets(name)) {
      if (BigInt(o.high) > BigInt(o.low)) want.set(o.partition, BigInt(o.high) - 1n);
    }
    if (want.size === 0) return { messages: [], complete: true };
    const groupId = `${this.clientId}-reader-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false });
    const byPartition = new Map<number, ConsumedMessage[]>();
    let complete = false;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: name, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, opts.timeoutMs ?? 30_000);
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const last = want.get(batch.partition);
              if (last === undefined) return;
              let list = byPartition.get(batch.partition);
              if (!list) {
                list = [];
                byPartition.set(batch.partition, list);
              }
              for (const m of batch.messages) {
                if (BigInt(m.offset) > last) break;
                list.push({
                  key: m.key ? m.key.toString() : '',
                  value: m.value
                    ? new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.byteLength)
                    : new Uint8Array(0),
                  headers: headersOf(m.headers),
                  offset: m.offset,
                });
                if (BigInt(m.offset) >= last) want.delete(batch.partition);
              }
              if (BigInt(batch.lastOffset()) >= last) want.delete(batch.partition);
              if (want.size === 0) {
                complete = true;
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect().catch(() => {});
      await admin.deleteGroups([groupId]).catch(() => {});
    }
    const messages = [...byPartition.keys()].sort((a, b) => a - b).flatMap((p) => byPartition.get(p)!);
    return { messages, complete };
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
