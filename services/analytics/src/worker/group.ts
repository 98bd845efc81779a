import type { DeviceModel } from '../model/device-model.ts';

/**
 * Batches applied in memory and not yet committed: they commit together, in one transaction with
 * every partition's offset. Batches handled concurrently (several partitions) join one group.
 */
export interface Group {
  /** Partition -> applied-through offset (exclusive) and newest flow time, for the offsets row. */
  partitions: Map<number, { next: bigint; watermark: number }>;
  touched: DeviceModel[];
  records: number;
  skipped: number;
  batches: number;
  late: number;
  clamped: number;
  startedAt: number;
  /** The cache epoch its records were applied in. */
  epoch: number;
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** A new, empty group in cache epoch `epoch`. */
export function openGroup(epoch: number): Group {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Handlers await `done`; this keeps a group nobody awaits any more from an unhandled rejection.
  done.catch(() => {});
  return {
    partitions: new Map(),
    touched: [],
    records: 0,
    skipped: 0,
    batches: 0,
    late: 0,
    clamped: 0,
    startedAt: performance.now(),
    epoch,
    done,
    resolve,
    reject,
  };
}
