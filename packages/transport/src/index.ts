// Flow transport: Kafka (kafkajs) in cluster mode, an in-process bus in embedded mode; one interface.
export { createKafkaTransport, type KafkaTransportOptions } from './kafka.ts';
export { createMemoryTransport, MemoryBus, partitionFor } from './memory.ts';
export type {
  BatchHandler,
  ConsumedBatch,
  ConsumedMessage,
  Publisher,
  Subscriber,
  Transport,
  TransportMessage,
} from './types.ts';
