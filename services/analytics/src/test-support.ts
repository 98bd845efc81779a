// Test support (not part of the package's front door): the consumed batches the transport would deliver.
import { encodeFlowBatch, type FlowRecord } from '@wardwatch/flow-schema';
import type { ConsumedBatch, ConsumedMessage } from '@wardwatch/transport';

/** One consumed batch holding one message per device, with offsets from `firstOffset`. */
export function batchOf(byDevice: Map<string, FlowRecord[]>, partition = 0, firstOffset = 0): ConsumedBatch {
  const messages: ConsumedMessage[] = [];
  let offset = firstOffset;
  for (const [device, records] of byDevice) {
    messages.push({
      key: device,
      value: encodeFlowBatch(records, new Array(records.length).fill(device)),
      headers: {},
      offset: String(offset++),
    });
  }
  return { topic: 'flows-v1', partition, messages };
}
