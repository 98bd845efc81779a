/** Kafka topic names; the suffix is the wire version and is bumped on an incompatible change. */
export const Topics = {
  /** `FlowBatch` protobuf messages keyed by device address. */
  flows: 'flows-v1',
} as const;
