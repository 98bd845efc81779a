/**
 * One message on a topic. The key names what it concerns (a device, an exporter); `partition`, when
 * given, is where it goes (explicit, stable partitioning that does not depend on client internals),
 * otherwise the transport hashes the key. A `null` value is a tombstone on a compacted topic.
 */
export interface TransportMessage {
  key: string;
  value: Uint8Array | null;
  headers?: Record<string, string>;
  partition?: number;
}

/** A message as consumed, with where it came from. A tombstone arrives with an empty value. */
export interface ConsumedMessage {
  key: string;
  value: Uint8Array;
  headers: Record<string, string>;
  /** Offset within the partition, as a decimal string (Kafka offsets are 64-bit). */
  offset: string;
}

/** A run of consecutive messages from one partition. */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: ConsumedMessage[];
  /**
   * True once a seek of this partition was requested after the batch was fetched: its messages are
   * not where the consumer now reads from (Kafka only; absent means never stale).
   */
  stale?: () => boolean;
}

/**
 * Handles one batch. Offsets are committed only after it resolves; a rejection leaves them
 * uncommitted and the batch is delivered again.
 */
export type BatchHandler = (batch: ConsumedBatch) => Promise<void>;

/** Publishes messages; resolves once the transport has accepted them durably. */
export interface Publisher {
  publish(topic: string, messages: TransportMessage[]): Promise<void>;
  close(): Promise<void>;
}

/** How a publisher compresses message batches. */
export type Compression = 'none' | 'gzip' | 'lz4';

/** Options of {@link Transport.createPublisher}. */
export interface PublisherOptions {
  /** Batch compression (Kafka); default lz4. */
  compression?: Compression;
  /**
   * Retries inside the client before `publish` rejects (default 2): keep it small when a
   * {@link BufferedPublisher} retries with its own backoff above it.
   */
  retries?: number;
  /** How long the broker may take to answer a produce request, ms (default 30 000). */
  requestTimeoutMs?: number;
}

/** Options of {@link Transport.ensureTopic}. */
export interface TopicOptions {
  /** Log compaction: the latest value per key is kept (state topics such as `templates-v1`). */
  compacted?: boolean;
}

/** Outcome of {@link Transport.readTopic}. */
export interface TopicSnapshot {
  /** Messages from the beginning to the end as it was when the read started, in partition order. */
  messages: ConsumedMessage[];
  /** False when the read timed out before reaching the end (then `messages` is a prefix). */
  complete: boolean;
}

/**
 * Options for consumers that store their offsets with their own writes (exactly once): the transport
 * tells them which partitions they now own and resumes each from the offset they answer.
 */
export interface SubscribeOptions {
  /**
   * Called when the consumer group assigns partitions of the topic to this member, before batches of
   * the new assignment are handled; resolves to the next offset to consume per partition (partitions
   * left out resume from the group's committed offset). Not called by transports without groups.
   */
  onAssign?: (partitions: number[]) => Promise<Map<number, string>>;
  /** Batches of different partitions handed to the handler at once (kafkajs `partitionsConsumedConcurrently`; default 1). */
  concurrency?: number;
}

/** A member of a consumer group on one topic. */
export interface Subscriber {
  start(topic: string, handler: BatchHandler, options?: SubscribeOptions): Promise<void>;
  /**
   * Moves the member's read position of a partition it owns: the next batches of that partition start
   * at `offset` (`'-2'`: the earliest offset kept). For consumers whose own store is the truth about
   * what was applied, after a failed write. Kafka only: the in-process bus keeps no history.
   */
  seek(partition: number, offset: string): void;
  close(): Promise<void>;
}

/** Where flows travel between services: Kafka in cluster mode, memory in embedded mode. */
export interface Transport {
  readonly kind: 'kafka' | 'memory';
  /** Creates the topic if missing (idempotent). */
  ensureTopic(topic: string, partitions: number, opts?: TopicOptions): Promise<void>;
  /** The topic's partition count, from the cluster's metadata (0 when the topic does not exist). */
  partitionCount(topic: string): Promise<number>;
  createPublisher(opts?: PublisherOptions): Promise<Publisher>;
  createSubscriber(groupId: string): Promise<Subscriber>;
  /**
   * Reads a topic from the beginning up to its end as of now, outside any consumer group's offsets
   * (loading the state kept in a compacted topic at start).
   */
  readTopic(topic: string, opts?: { timeoutMs?: number }): Promise<TopicSnapshot>;
  /** Answers whether the transport is reachable now (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
