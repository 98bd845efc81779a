import type { FlowRecord } from '@wardwatch/flow-schema';

/** One device's traffic within a batch, ready to be added to its inventory row. */
export interface DeviceDelta {
  ip: string;
  firstMs: number;
  lastMs: number;
  bytesSent: number;
  packetsSent: number;
  flowsSent: number;
  bytesReceived: number;
  packetsReceived: number;
  flowsReceived: number;
}

/**
 * Adds a device's share of a record to the batch aggregate: as sender when the device is the
 * record's source, as receiver when it is the destination. Times are flow time (the record's own
 * start/end), falling back to the receive time for exporters that send none.
 */
export function addRecord(deltas: Map<string, DeviceDelta>, device: string, r: FlowRecord): void {
  let d = deltas.get(device);
  const start = r.startMs > 0 ? r.startMs : r.receivedMs;
  const end = r.endMs > 0 ? r.endMs : start;
  if (!d) {
    d = {
      ip: device,
      firstMs: start,
      lastMs: end,
      bytesSent: 0,
      packetsSent: 0,
      flowsSent: 0,
      bytesReceived: 0,
      packetsReceived: 0,
      flowsReceived: 0,
    };
    deltas.set(device, d);
  } else {
    if (start < d.firstMs) d.firstMs = start;
    if (end > d.lastMs) d.lastMs = end;
  }
  if (r.srcAddr === device) {
    d.bytesSent += r.bytes;
    d.packetsSent += r.packets;
    d.flowsSent += 1;
    // RFC 5103 biflow: the reverse direction is traffic the source received.
    if (r.reverseBytes > 0 || r.reversePackets > 0) {
      d.bytesReceived += r.reverseBytes;
      d.packetsReceived += r.reversePackets;
    }
  } else if (r.dstAddr === device) {
    d.bytesReceived += r.bytes;
    d.packetsReceived += r.packets;
    d.flowsReceived += 1;
    if (r.reverseBytes > 0 || r.reversePackets > 0) {
      d.bytesSent += r.reverseBytes;
      d.packetsSent += r.reversePackets;
      d.flowsSent += 1;
    }
  }
}
