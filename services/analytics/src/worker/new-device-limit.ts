/**
 * Bounds how many devices one exporter may add to the inventory per minute (wall clock): a forged or
 * broken exporter inventing addresses fills neither the inventory nor the worker's memory. Devices
 * past the bound are not created and their records are dropped (the caller counts them).
 */
export interface NewDeviceLimit {
  /** Takes one new device from `exporter`'s budget for this minute; false when it is spent. */
  admit(exporter: string): boolean;
}

/** Creates the per-exporter budget of new devices per minute. */
export function createNewDeviceLimit(perMinute: number, now: () => number = Date.now): NewDeviceLimit {
  let minute = -1;
  const counts = new Map<string, number>();
  return {
    /** Takes one new device from `exporter`'s budget for this minute; false when it is spent. */
    admit(exporter: string): boolean {
      const m = Math.floor(now() / 60_000);
      // A new minute, or too many exporters to remember (forged sources): start counting afresh.
      if (m !== minute || counts.size >= 100_000) {
        minute = m;
        counts.clear();
      }
      const n = (counts.get(exporter) ?? 0) + 1;
      if (n > perMinute) return false;
      counts.set(exporter, n);
      return true;
    },
  };
}
