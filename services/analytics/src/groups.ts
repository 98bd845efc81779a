import {
  type GroupInput,
  type ObservedProfile,
  observedFeatures,
  type Shape,
  similarity,
  similarPairs,
} from './group-features.ts';
import { averageLinkage } from './linkage.ts';

// Behaviour groups: devices whose communication profiles are alike share a group, whatever their class.
// Pure: profiles in, groups out. A profile is reduced to a set of features (the services it uses and on
// which internal servers, the services it offers, what it uses on the internet, whether it sends
// continuously: group-features.ts); two devices are alike by the weighted Jaccard index of their features,
// with one-sided features that sampling may have hidden counting less; groups are built by average-linkage
// agglomerative clustering (linkage.ts) over the distinct observed profiles and their similar pairs, cut
// at a similarity threshold, and keep their ids from one grouping to the next by the members they share.

export {
  entryFeatures,
  featuresOfProfile,
  featureWeight,
  type GroupEntry,
  type GroupInput,
  missCost,
  OBSERVED_FLOWS,
  type ObservedProfile,
  observedFeatures,
  observedSimilarity,
  similarity,
  wellObservedGains,
} from './group-features.ts';

/** One group of a grouping. */
export interface BehaviourGroup {
  id: number;
  members: Array<{ ip: string; similarity: number }>;
  /** Features held by at least half the members, with the share of members holding each. */
  shared: Array<{ feature: string; share: number }>;
  /** Members per class. */
  votes: Record<string, number>;
}

/** The outcome of grouping a set of profiles. */
export interface Grouping {
  groups: BehaviourGroup[];
  /** Device -> its group id and its similarity to the group's shared profile (0..1). */
  byDevice: Map<string, { group: number; similarity: number }>;
  /** The id the next new group takes. */
  nextId: number;
  /** Distinct observed profiles (shapes) and the similar pairs of them compared. */
  stats: { shapes: number; pairs: number };
}

/** Options of {@link groupProfiles}. */
export interface GroupOptions {
  /** Least average similarity at which two clusters merge (default 0.5). */
  threshold?: number;
  /** The previous grouping (device -> group id): a new group keeps the id of the old one it shares most members with. */
  previous?: ReadonlyMap<string, number>;
  /** The id the first new group takes (default 1, or above every previous id). */
  nextId?: number;
  /** Least similarity of a pair of shapes compared (default half the threshold; 0: every pair, exact). */
  pairFloor?: number;
}

/** A feature held by more than this share of the shapes (and {@link STOP_MIN_SHAPES}) finds no similar pairs. */
const STOP_SHARE = 0.05;
const STOP_MIN_SHAPES = 500;

/** Default merge threshold: clusters merge while their devices share on average half their features. */
export const GROUP_THRESHOLD = 0.5;

/**
 * Groups profiles: devices with the same observed features form one shape; shapes merge by average linkage
 * (weighted by their devices, {@link observedSimilarity}) while the best pair's average similarity reaches
 * the threshold. Only the pairs of shapes {@link similarPairs} finds at half the threshold count (a pair
 * below counts as 0 in a cluster's average, so an average is off by less than that; past 500 shapes, a
 * pair sharing only features most shapes hold is not compared either), so time and memory follow the
 * similar pairs, not the square of the shapes.
 */
export function groupProfiles(inputs: readonly GroupInput[], opts: GroupOptions = {}): Grouping {
  const threshold = opts.threshold ?? GROUP_THRESHOLD;
  const floor = Math.min(threshold, opts.pairFloor ?? threshold / 2);
  const observed = inputs.map(observedFeatures);
  // Distinct observed profiles (shapes) and their devices.
  const shapeOf = new Map<string, number>();
  const shapeProfiles: ObservedProfile[] = [];
  const shapeDevices: number[][] = [];
  observed.forEach((o, i) => {
    const key = `${o.depth}\n${[...o.counts]
      .map(([x, n]) => `${x}\t${n}`)
      .sort()
      .join('\n')}`;
    let s = shapeOf.get(key);
    if (s === undefined) {
      s = shapeProfiles.length;
      shapeOf.set(key, s);
      shapeProfiles.push(o);
      shapeDevices.push([]);
    }
    shapeDevices[s]!.push(i);
  });
  // Feature ids ranked rarest first (fewest shapes holding them), then by name for a stable order.
  const df = new Map<string, number>();
  for (const o of shapeProfiles) for (const x of o.counts.keys()) df.set(x, (df.get(x) ?? 0) + 1);
  const ranked = [...df.keys()].sort((x, y) => df.get(x)! - df.get(y)! || (x < y ? -1 : x > y ? 1 : 0));
  const idOfFeature = new Map(ranked.map((x, i) => [x, i]));
  const shapes: Shape[] = shapeProfiles.map((o) => {
    const ids = Int32Array.from(o.counts.keys(), (x) => idOfFeature.get(x)!).sort();
    return { features: ids, flows: ids.map((id) => o.counts.get(ranked[id]!)!), depth: o.depth };
  });
  // Exact on a hospital's few hundred shapes; past that, the features most shapes hold find no pairs.
  const stopAbove =
    floor > 0 ? Math.max(STOP_MIN_SHAPES, STOP_SHARE * shapes.length) : Number.POSITIVE_INFINITY;
  const pairs = similarPairs(shapes, ranked, floor, stopAbove);
  const clusters = averageLinkage(
    shapeDevices.map((d) => d.length),
    pairs,
    threshold,
  );
  const features = inputs.map((_, i) => new Set(observed[i]!.counts.keys()));

  // Members, shared profile, votes.
  const built: Array<Omit<BehaviourGroup, 'id'> & { ips: string[] }> = [];
  for (const c of clusters) {
    const devices = c.flatMap((s) => shapeDevices[s]!);
    const counts = new Map<string, number>();
    for (const d of devices) for (const x of features[d]!) counts.set(x, (counts.get(x) ?? 0) + 1);
    const shared = [...counts]
      .filter(([, k]) => k * 2 >= devices.length)
      .map(([feature, k]) => ({ feature, share: Math.round((k / devices.length) * 1000) / 1000 }))
      .sort((x, y) => y.share - x.share || x.feature.localeCompare(y.feature));
    const sharedSet = new Set(shared.map((s) => s.feature));
    const votes: Record<string, number> = {};
    for (const d of devices) votes[inputs[d]!.class] = (votes[inputs[d]!.class] ?? 0) + 1;
    const members = devices
      .map((d) => ({
        ip: inputs[d]!.ip,
        similarity: Math.round(similarity(features[d]!, sharedSet) * 1000) / 1000,
      }))
      .sort((x, y) => (x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0));
    built.push({ members, shared, votes, ips: members.map((m) => m.ip) });
  }

  // Stable ids: each old group goes to the new group holding most of its members (largest overlaps first).
  const previous = opts.previous ?? new Map<string, number>();
  let nextId = opts.nextId ?? 1;
  for (const id of previous.values()) if (id >= nextId) nextId = id + 1;
  const overlaps: Array<[number, number, number]> = [];
  built.forEach((g, gi) => {
    const count = new Map<number, number>();
    for (const ip of g.ips) {
      const old = previous.get(ip);
      if (old !== undefined) count.set(old, (count.get(old) ?? 0) + 1);
    }
    for (const [old, k] of count) overlaps.push([k, gi, old]);
  });
  overlaps.sort((x, y) => y[0] - x[0] || x[2] - y[2] || x[1] - y[1]);
  const idOf = new Map<number, number>();
  const taken = new Set<number>();
  for (const [, gi, old] of overlaps) {
    if (idOf.has(gi) || taken.has(old)) continue;
    idOf.set(gi, old);
    taken.add(old);
  }
  // New groups in a stable order (by their first member), so the same input gives the same ids.
  const order = built.map((g, gi) => [g.ips[0] ?? '', gi] as const).sort((x, y) => (x[0] < y[0] ? -1 : 1));
  for (const [, gi] of order) if (!idOf.has(gi)) idOf.set(gi, nextId++);

  const groups: BehaviourGroup[] = built
    .map((g, gi) => ({ id: idOf.get(gi)!, members: g.members, shared: g.shared, votes: g.votes }))
    .sort((x, y) => x.id - y.id);
  const byDevice = new Map<string, { group: number; similarity: number }>();
  for (const g of groups)
    for (const m of g.members) byDevice.set(m.ip, { group: g.id, similarity: m.similarity });
  return { groups, byDevice, nextId, stats: { shapes: shapes.length, pairs: pairs.length } };
}
