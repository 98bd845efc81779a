import type { DetectWindow } from './model/device-model.ts';

// Sliding windows for scans and lateral movement. Events (a host probed on a port, an internal host reached
// on an administration port) carry their flow time; a detection counts the most events that fit within any
// span of `scanWindow`, so a scan split across the edge of a fixed window is still one scan.

/** The densest span: how many of the times lie within `widthMs` of each other, and where. */
export interface Span {
  count: number;
  from: number;
  to: number;
}

/** The most `times` lying within one span shorter than `widthMs` (two times `widthMs` apart never share one). */
export function densestSpan(times: number[], widthMs: number): Span {
  const best: Span = { count: 0, from: 0, to: 0 };
  if (times.length === 0) return best;
  const t = times.slice().sort((a, b) => a - b);
  let i = 0;
  for (let j = 0; j < t.length; j++) {
    while (t[j]! - t[i]! >= widthMs) i++;
    if (j - i + 1 > best.count) {
      best.count = j - i + 1;
      best.from = t[i]!;
      best.to = t[j]!;
    }
  }
  return best;
}

/** The latest time each host was reached (on any port). */
export function hostTimes(events: Map<string, Map<number, number>>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [host, ports] of events) {
    let latest = 0;
    for (const t of ports.values()) if (t > latest) latest = t;
    out.set(host, latest);
  }
  return out;
}

/** The newest event time in a window (0 when empty). */
export function newestEvent(w: DetectWindow): number {
  let newest = 0;
  for (const events of [w.probes, w.admin])
    for (const ports of events.values()) for (const t of ports.values()) if (t > newest) newest = t;
  return newest;
}

/** Drops the events at or before `cutoff` (and hosts left without any); returns the oldest time kept (0: none). */
export function dropBefore(events: Map<string, Map<number, number>>, cutoff: number): number {
  let oldest = 0;
  for (const [host, ports] of events) {
    for (const [port, t] of ports) {
      if (t <= cutoff) ports.delete(port);
      else if (oldest === 0 || t < oldest) oldest = t;
    }
    if (ports.size === 0) events.delete(host);
  }
  return oldest;
}
