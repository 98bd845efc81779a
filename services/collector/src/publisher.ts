import { createDeviceMatcher, encodeFlowBatch, type FlowRecord, Topics } from '@wardwatch/flow-schema';
import type { Publisher, TransportMessage } from '@wardwatch/transport';
import type { CollectorMetrics } from './metrics.ts';

/** Options for {@link createFlowPublisher}. */
export interface FlowPublisherOptions {
  publisher: Publisher;
  monitoredNetworks: readonly string[];
  metrics: CollectorMetrics;
  /** Flush when this many records wait. */
  batchRecords: number;
  /** Flush at the latest this long after the first waiting record, ms. */
  lingerMs: number;
  onError: (err: unknown) => void;
}

/**
 * Groups records by device (an endpoint inside the monitored networks) and publishes one `FlowBatch`
 * per device, keyed by the device address, so every flow of a device reaches the same partition.
 * A flow between two devices is published under both keys; one with no device endpoint is counted
 * as `unmonitored` and not published.
 */
export function createFlowPublisher(opts: FlowPublisherOptions) {
  const matcher = createDeviceMatcher(opts.monitoredNetworks);
  let byDevice = new Map<string, FlowRecord[]>();
  let waiting = 0;
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<void> = Promise.resolve();

  function add(records: readonly FlowRecord[]): void {
    for (const r of records) {
      const src = matcher.isDevice(r.srcAddr);
      const dst = r.dstAddr !== r.srcAddr && matcher.isDevice(r.dstAddr);
      if (!src && !dst) {
        opts.metrics.recordsDropped.inc({ reason: 'unmonitored' });
        continue;
      }
      if (src) push(r.srcAddr, r);
      if (dst) push(r.dstAddr, r);
      waiting++;
    }
    opts.metrics.pending.set(waiting);
    if (waiting >= opts.batchRecords) void flush();
    else if (waiting > 0 && !timer) timer = setTimeout(() => void flush(), opts.lingerMs);
  }

  function push(device: string, r: FlowRecord): void {
    const list = byDevice.get(device);
    if (list) list.push(r);
    else byDevice.set(device, [r]);
  }

  /** Publishes everything waiting; resolves when the transport has accepted it. */
  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (waiting === 0) return inflight;
    const batch = byDevice;
    const count = waiting;
    byDevice = new Map();
    waiting = 0;
    opts.metrics.pending.set(0);
    const messages: TransportMessage[] = [];
    for (const [device, records] of batch) {
      messages.push({ key: device, value: encodeFlowBatch(records, new Array(records.length).fill(device)) });
    }
    inflight = inflight.then(async () => {
      try {
        await opts.publisher.publish(Topics.flows, messages);
        opts.metrics.recordsPublished.inc(count);
      } catch (err) {
        opts.metrics.recordsDropped.inc({ reason: 'transport' }, count);
        opts.onError(err);
      }
    });
    return inflight;
  }

  return { add, flush };
}
