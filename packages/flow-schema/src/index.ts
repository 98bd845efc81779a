// The flow record schema, defined once: the TypeScript shape, the protobuf wire codec and the topic names.
export { createFlowRecord, type ExtraField, type FlowRecord } from './record.ts';
export { decodeFlowBatch, encodeFlowBatch } from './codec.ts';
export { Topics } from './topics.ts';
