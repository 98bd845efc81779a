import { availableParallelism, hostname } from 'node:os';
import type { WardwatchConfig } from '@wardwatch/config';

/** Decode worker threads for a `decodeWorkers` setting: `auto` is one per core beside the receive thread. */
export function decodeWorkerCount(setting: WardwatchConfig['collector']['decodeWorkers']): number {
  if (setting === 'auto') return Math.max(1, availableParallelism() - 1);
  return setting;
}

/** This collector instance's name in exporter statuses. */
export function collectorId(): string {
  return `${hostname()}/${process.pid}`;
}
