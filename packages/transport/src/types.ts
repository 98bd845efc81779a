/** One message on a topic; the key names the device it concerns and so chooses the partition. */
export interface TransportMessage {
  key: string;
  value: Uint8Array;
  headers?: Record<string, string>;
}

/** A message as consumed, with where it came from. */
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

/** A member of a consumer group on one topic. */
export interface Subscriber {
  start(topic: string, handler: BatchHandler): Promise<void>;
  close(): Promise<void>;
}

/** Where flows travel between services: Kafka in cluster mode, memory in embedded mode. */
export interface Transport {
  readonly kind: 'kafka' | 'memory';
  /** Creates the topic if missing (idempotent). */
  ensureTopic(topic: string, partitions: number): Promise<void>;
  createPublisher(): Promise<Publisher>;
  createSubscriber(groupId: string): Promise<Subscriber>;
  /** Answers whether the transport is reachable now (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
