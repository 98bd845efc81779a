import type { DetectWindow, DeviceModel } from '../model/device-model.ts';

// `devices.detect_state`: what detection keeps between commits (open scan windows, alert kinds raised
// for open baseline buckets), as JSON.

/**
 * `devices.detect_state`: the open scan / lateral-movement window (absent when none), and the alert
 * kinds already raised for open baseline buckets (`buckets`: [bucket start, bits]), so a reloaded model
 * does not raise them again.
 */
export interface SerializedState {
  start?: number;
  /** Host -> [port, latest time] pairs (a bare port, from before windows slid: the window's start). */
  probes?: Record<string, Array<[number, number] | number>>;
  admin?: Record<string, Array<[number, number] | number>>;
  reported?: Record<string, number>;
  buckets?: Array<[number, number]>;
}

export function toWindow(s: SerializedState | null): DetectWindow | undefined {
  if (!s || typeof s.start !== 'number') return undefined;
  const start = s.start;
  const sets = (o: Record<string, Array<[number, number] | number>> | undefined) =>
    new Map(
      Object.entries(o ?? {}).map(([k, v]) => [
        k,
        new Map(v.map((x): [number, number] => (typeof x === 'number' ? [x, start] : x))),
      ]),
    );
  return {
    start: s.start,
    probes: sets(s.probes),
    admin: sets(s.admin),
    reported: s.reported ?? {},
    dirty: false,
  };
}

/** The detect state of a model as stored (NULL when there is none: the common case, no JSON built). */
export function detectState(m: DeviceModel): string | null {
  let buckets: Array<[number, number]> | undefined;
  for (const b of m.buckets.values()) {
    if (b.reported === 0) continue;
    if (!buckets) buckets = [];
    buckets.push([b.start, b.reported]);
  }
  const w = m.window;
  const open = w !== undefined && (w.probes.size > 0 || w.admin.size > 0);
  if (!open && !buckets) return null;
  const state: SerializedState = {};
  if (open) {
    const obj = (x: Map<string, Map<number, number>>) =>
      Object.fromEntries([...x].map(([k, v]) => [k, [...v]]));
    state.start = w.start;
    state.probes = obj(w.probes);
    state.admin = obj(w.admin);
    state.reported = w.reported;
  }
  if (buckets) state.buckets = buckets;
  return JSON.stringify(state);
}
