import { ALL_HOURS, type Bucket, type DeviceModel, METRICS, type Metric, type Stat } from './device-model.ts';

// Baselines: open buckets per device, folded into running (Welford) statistics per metric and
// time-of-day slot once they close.

/** The open bucket a time falls in, or undefined when its bucket is already folded (late). */
export function bucketAt(m: DeviceModel, t: number, bucketMs: number): Bucket | undefined {
  const start = t - (t % bucketMs);
  if (start < m.baselineThrough) return undefined;
  let b = m.buckets.get(start);
  if (!b) {
    b = { start, bytesOut: 0, bytesIn: 0, packets: 0, flows: 0, extOut: 0, peers: new Set(), reported: 0 };
    m.buckets.set(start, b);
  }
  return b;
}

/**
 * The start of the oldest bucket still open at partition flow time `watermark`: the bucket after the
 * newest one {@link closeBuckets} would fold (0 when there is no flow time yet).
 */
export function openBucketsFrom(watermark: number, bucketMs: number, latenessMs: number): number {
  if (watermark <= 0) return 0;
  const closedTo = watermark - bucketMs - latenessMs;
  return closedTo - (closedTo % bucketMs) + bucketMs;
}

/** Adds one sample to a running mean/variance (Welford). */
export function addSample(s: Stat, x: number, at: number): void {
  s.n += 1;
  const d = x - s.mean;
  s.mean += d / s.n;
  s.m2 += d * (x - s.mean);
  s.last = at;
  s.dirty = true;
}

/** Standard deviation of a stat (0 with fewer than two samples). */
export function stddev(s: Stat): number {
  return s.n > 1 ? Math.sqrt(Math.max(0, s.m2 / (s.n - 1))) : 0;
}

function statOf(m: DeviceModel, metric: Metric, slot: number): Stat {
  const key = `${metric}|${slot}`;
  let s = m.stats.get(key);
  if (!s) {
    s = { n: 0, mean: 0, m2: 0, last: 0, dirty: true };
    m.stats.set(key, s);
  }
  return s;
}

/** The baseline to compare a bucket with: its hour-of-day slot when learned enough, else all hours. */
export function baselineFor(
  m: DeviceModel,
  metric: Metric,
  at: number,
  minSamples: number,
): Stat | undefined {
  const hour = new Date(at).getUTCHours();
  const slot = m.stats.get(`${metric}|${hour}`);
  if (slot && slot.n >= minSamples) return slot;
  const all = m.stats.get(`${metric}|${ALL_HOURS}`);
  return all && all.n >= minSamples ? all : undefined;
}

function fold(m: DeviceModel, b: Bucket): void {
  const hour = new Date(b.start).getUTCHours();
  const values: Record<Metric, number> = {
    bytes_out: b.bytesOut,
    bytes_in: b.bytesIn,
    packets: b.packets,
    flows: b.flows,
    peers: b.peers.size,
    ext_bytes_out: b.extOut,
  };
  for (const metric of METRICS) {
    addSample(statOf(m, metric, hour), values[metric], b.start);
    addSample(statOf(m, metric, ALL_HOURS), values[metric], b.start);
  }
}

/** Longest run of idle buckets folded as zeros in one go (a device back after a long absence). */
const MAX_IDLE_BUCKETS = 288;

/**
 * Folds every open bucket that ended at least `latenessMs` before `watermark` into the baselines, with
 * idle buckets in between as zeros. Returns the buckets folded.
 */
export function closeBuckets(
  m: DeviceModel,
  watermark: number,
  bucketMs: number,
  latenessMs: number,
): Bucket[] {
  const closed: Bucket[] = [];
  if (m.buckets.size === 0) return closed;
  const starts = [...m.buckets.keys()].sort((a, b) => a - b);
  for (const start of starts) {
    if (start + bucketMs + latenessMs > watermark) break;
    const b = m.buckets.get(start)!;
    if (m.baselineThrough > 0 && start > m.baselineThrough) {
      const idle = Math.min(MAX_IDLE_BUCKETS, Math.floor((start - m.baselineThrough) / bucketMs));
      for (let i = idle; i > 0; i--) {
        fold(m, {
          start: start - i * bucketMs,
          bytesOut: 0,
          bytesIn: 0,
          packets: 0,
          flows: 0,
          extOut: 0,
          peers: new Set(),
          reported: 0,
        });
      }
    }
    fold(m, b);
    m.buckets.delete(start);
    m.baselineThrough = start + bucketMs;
    closed.push(b);
  }
  return closed;
}
