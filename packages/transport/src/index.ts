// Flow transport: Kafka (kafkajs) in cluster mode, an in-process bus in embedded mode; one interface.
export {
  type BufferedPublisher,
  type BufferedPublisherOptions,
  createBufferedPublisher,
  type DropReason,
  type OfferResult,
} from './buffered.ts';
export { createKafkaTransport, type KafkaTransportOptions } from './kafka.ts';
export { createMemoryTransport, MemoryBus } from './memory.ts';
export {
  createFileSpool,
  type FileSpoolOptions,
  type Spool,
  type SpoolEntry,
  type SpooledEntry,
} from './spool.ts';
export type {
  BatchHandler,
  Compression,
  ConsumedBatch,
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
