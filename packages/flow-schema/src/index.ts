// The flow record schema, defined once: the TypeScript shape, the protobuf wire codec and the topic names.

export { decodeFlowBatch, encodeFlowBatch, type FlowBatch, FlowBatchBuilder } from './codec.ts';
export { createDeviceMatcher, type DeviceMatcher } from './devices.ts';
export {
  decodeExporterStatus,
  type ExporterStatus,
  encodeExporterStatus,
  exporterKey,
  type InterfaceHealth,
} from './exporters.ts';
export { createFlowRecord, type ExtraField, type FlowRecord } from './record.ts';
export { Topics } from './topics.ts';
