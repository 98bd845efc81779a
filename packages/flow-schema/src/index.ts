// The flow record schema, defined once: the TypeScript shape, the protobuf wire codec, the topic names
// flow routing (the partition of a device, the keys of the state topics) and the alert severity scale.

export { type Cidr, parseCidr } from './cidr.ts';
export { decodeFlowBatch, encodeFlowBatch, type FlowBatch, FlowBatchBuilder } from './codec.ts';
export { createDeviceMatcher, type DeviceMatcher } from './devices.ts';
export {
  decodeExporterStatus,
  type ExporterStatus,
  encodeExporterStatus,
  type InterfaceHealth,
} from './exporters.ts';
export { createFlowRecord, type ExtraField, type FlowRecord } from './record.ts';
export { exporterKey, fnv1a, partitionFor, templateKey } from './routing.ts';
export {
  SEVERITIES,
  SEVERITY_SQL_ARRAY,
  type Severity,
  severitiesFrom,
  severityRank,
} from './severity.ts';
export { Topics } from './topics.ts';
