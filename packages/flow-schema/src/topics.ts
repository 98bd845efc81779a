/** Kafka topic names; the suffix is the wire version and is bumped on an incompatible change. */
export const Topics = {
  /**
   * `FlowBatch` protobuf messages, many records per message. The collector chooses the partition
   * explicitly (`partitionFor(device, partitions)`, routing.ts) so every record of a
   * device lands on one partition; the key is a device of the batch.
   */
  flows: 'flows-v1',
  /**
   * Compacted. Decoder template and options state, keyed `exporter|version|domain|templateId` (or
   * `exporter|version|domain|sampling` for sampler state); the value is a JSON `TemplateSnapshot`
   * of @wardwatch/flow-decoder holding that one entry; a tombstone (empty value) withdraws it.
   */
  templates: 'templates-v1',
  /** Compacted. One JSON `ExporterStatus` (see exporters.ts) per exporter address and observation domain, keyed `address|domain`. */
  exporters: 'exporters-v1',
  /**
   * Compacted. Exporter trust decided by the policy service, keyed by exporter address; the value is
   * JSON `{"state":"trusted"|"pending"|"blocked"}`. Collectors drop blocked exporters' packets and share
   * only trusted exporters' templates on `templates-v1`.
   */
  exporterTrust: 'exporter-trust-v1',
} as const;
