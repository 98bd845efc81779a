// Behaviour-group features and similarity (pure): what a device's profile says about its behaviour (the
// services it uses and on which internal servers, the services it offers, what it uses on the internet,
// whether it sends continuously), how strongly sampling let each show, and how alike two devices are.

/** One profile entry as grouping sees it. */
export interface GroupEntry {
  /** The peer as stored (`cidr` text: a host `/32` or `/128`, or a peer group). */
  peer: string;
  port: number;
  proto: number;
  dir: 'outbound' | 'inbound';
  internal: boolean;
  /**
   * Flow records that showed the entry, as exported (not scaled by sampling): how strongly it was observed.
   * Absent: observed for certain.
   */
  flows?: number;
}

/** A device's profile, for grouping. */
export interface GroupInput {
  ip: string;
  entries: readonly GroupEntry[];
  periodic: boolean;
  /** The class inferred (or set) for the device: counted as a vote, never used to group. */
  class: string;
}

const PROTO: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmp6', 132: 'sctp' };

function hostOf(peer: string): string | undefined {
  const slash = peer.indexOf('/');
  if (slash < 0) return peer;
  const len = peer.slice(slash + 1);
  return len === '32' || len === '128' ? peer.slice(0, slash) : undefined;
}

/**
 * The features of a profile: `uses tcp/3613` and `uses tcp/3613 at 10.10.0.10` for an internal server it
 * opens conversations to, `serves tcp/104`, `internet tcp/443` for a service it uses outside,
 * `periodic` for a device that sends continuously (seen in enough flows to tell), `serves nothing` for a
 * pure client. The features of {@link observedFeatures}, without their counts.
 */
export function featuresOfProfile(p: GroupInput): Set<string> {
  return new Set(observedFeatures(p).counts.keys());
}

/** The features one profile entry gives (see {@link featuresOfProfile}). */
export function entryFeatures(e: GroupEntry): string[] {
  const svc = `${PROTO[e.proto] ?? `ip${e.proto}`}/${e.port}`;
  if (e.dir === 'inbound') return [`serves ${svc}`];
  if (!e.internal) return [`internet ${svc}`];
  const host = hostOf(e.peer);
  return host === undefined ? [`uses ${svc}`] : [`uses ${svc}`, `uses ${svc} at ${host}`];
}

/**
 * How much a feature counts: what a device offers (or that it offers nothing) tells its role and weighs
 * twice a service it uses; sending continuously weighs half (many kinds do).
 */
export function featureWeight(feature: string): number {
  if (feature.startsWith('serves')) return 2;
  return feature === 'periodic' ? 0.5 : 1;
}

function weightOf(f: ReadonlySet<string>): number {
  let w = 0;
  for (const x of f) w += featureWeight(x);
  return w;
}

/** The weighted Jaccard index of two feature sets ({@link featureWeight}; 1: same, two empty sets alike). */
export function similarity(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let common = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const x of small) if (large.has(x)) common += featureWeight(x);
  return common / (weightOf(a) + weightOf(b) - common);
}

/** Flows past which a feature counts as observed for certain (and shapes stop telling counts apart). */
export const OBSERVED_FLOWS = 8;
/**
 * Depths (flows a device was seen in) are compared in powers of two up to this: past it a device's own
 * features are all seen for certain and a thin device's missing ones cost nearly their weight anyway, so
 * deeper devices need not make more shapes.
 */
const MAX_DEPTH = 8 * OBSERVED_FLOWS;
/** Least ratio of two devices' depths a one-sided feature's cost is judged at (keeps similarPairs exact). */
const MIN_DEPTH_RATIO = 1 / 8;

/** A device's features with how strongly each was observed (see {@link observedFeatures}). */
export interface ObservedProfile {
  /** Feature -> flow records that showed it, capped at {@link OBSERVED_FLOWS}. */
  counts: Map<string, number>;
  /** Flow records the device was seen in (all its entries), rounded down to a power of two. */
  depth: number;
}

/** How a device sends: what a thinly seen device cannot show. */
const isDerived = (feature: string) => feature === 'periodic';

/**
 * A profile's features with how strongly each was observed: the flow records that showed it (summed over
 * its entries, as exported: not scaled by sampling). A device seen in fewer than {@link OBSERVED_FLOWS}
 * flows (thinly sampled) has no derived feature: never having been seen serving, or sending at a steady
 * pace, proves nothing about it.
 */
export function observedFeatures(p: GroupInput): ObservedProfile {
  const counts = new Map<string, number>();
  let total = 0;
  for (const e of p.entries) {
    const n = e.flows ?? OBSERVED_FLOWS;
    total += n;
    for (const x of entryFeatures(e)) counts.set(x, Math.min(OBSERVED_FLOWS, (counts.get(x) ?? 0) + n));
  }
  let serves = false;
  for (const x of counts.keys()) if (x.startsWith('serves ')) serves = true;
  if (!serves) counts.set('serves nothing', Math.min(OBSERVED_FLOWS, total));
  if (p.periodic && total >= OBSERVED_FLOWS) counts.set('periodic', OBSERVED_FLOWS);
  const depth = total < 1 ? 1 : 2 ** Math.floor(Math.log2(Math.min(total, MAX_DEPTH)));
  return { counts, depth };
}

/**
 * The features a device shows that `shared` (its old group's shared profile) lacks, seen in at least
 * {@link OBSERVED_FLOWS} flow records each: what can show, under packet sampling, that a device left its
 * group. A thin sampled profile that fills in gains features seen in a flow or two, and lacks shared ones
 * by chance; neither is evidence that the device behaves differently.
 */
export function wellObservedGains(p: GroupInput, shared: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [x, n] of observedFeatures(p).counts) if (!shared.has(x) && n >= OBSERVED_FLOWS) out.push(x);
  return out;
}

/**
 * How much a feature one device showed in `flows` flow records counts against its being alike another
 * device that never showed it (times its weight), where the other was seen `ratio` times as much. With
 * random sampling a device of the same kind misses a feature seen once quite often and one seen in many
 * flows rarely: with the feature's rate estimated from `flows` (Poisson, flat prior), the other shows
 * none of it with probability (1 + ratio)^-(flows + 1). Seen {@link OBSERVED_FLOWS} times or more: 1.
 */
export function missCost(flows: number, ratio = 1): number {
  if (flows >= OBSERVED_FLOWS) return 1;
  const r = Math.max(MIN_DEPTH_RATIO, ratio);
  return 1 - (1 + r) ** -(flows + 1);
}

/** What `feature` (shown `flows` times by a device of depth `depth`) costs when the other, of `otherDepth`, lacks it. */
function oneSided(feature: string, weight: number, flows: number, depth: number, otherDepth: number): number {
  // A derived feature is missing from a thin device by construction: no evidence either way.
  if (isDerived(feature)) return otherDepth < OBSERVED_FLOWS ? 0 : weight;
  return weight * missCost(flows, otherDepth / depth);
}

/**
 * The similarity of two devices by what sampling lets both show: the weight of their common features over
 * itself plus each one-sided feature's weight times its {@link missCost}. Unsampled (every feature seen in
 * {@link OBSERVED_FLOWS} flows or more) it is the weighted Jaccard index ({@link similarity}); sampled, a
 * feature seen in a few flows that the other device lacks costs less, and less still when the other was
 * seen in far fewer flows.
 */
export function observedSimilarity(a: ObservedProfile, b: ObservedProfile): number {
  let common = 0;
  let miss = 0;
  for (const [x, n] of a.counts) {
    if (b.counts.has(x)) common += featureWeight(x);
    else miss += oneSided(x, featureWeight(x), n, a.depth, b.depth);
  }
  for (const [x, n] of b.counts)
    if (!a.counts.has(x)) miss += oneSided(x, featureWeight(x), n, b.depth, a.depth);
  return common + miss === 0 ? 1 : common / (common + miss);
}

/** A distinct observed profile as {@link similarPairs} takes it: feature ids ranked rarest first. */
export interface Shape {
  /** Feature ids, ascending (rarest features first). */
  features: Int32Array;
  /** Flows that showed each feature (as in {@link ObservedProfile.counts}). */
  flows: Int32Array;
  depth: number;
}

/** A similar pair of shapes (`a` < `b`) and their {@link observedSimilarity}. */
export interface ShapePair {
  a: number;
  b: number;
  sim: number;
}

/**
 * The pairs of shapes whose {@link observedSimilarity} reaches `floor`, without comparing every pair
 * (prefix filtering, as in set-similarity joins). A pair at `floor` or above has common weight at least
 * `floor` times the least cost of either side's features, so its rarest common feature lies within the
 * rarer part (prefix) of each shape left when its commonest features, weighing less than that, are set
 * aside. Shapes are compared only when their prefixes share a feature. `floor` 0: every pair sharing a
 * feature. Features must be numbered in one order for all shapes (rarest first makes prefixes short).
 * `stopAbove`: a feature held by more shapes than this finds no pair (as stop words in text search): a
 * pair that shares only such features is not compared, which is what keeps a large inventory from
 * comparing nearly every pair (most devices are pure clients, many use DNS); exact when not given.
 */
export function similarPairs(
  shapes: readonly Shape[],
  names: readonly string[],
  floor: number,
  stopAbove = Number.POSITIVE_INFINITY,
): ShapePair[] {
  const nf = names.length;
  const weights = names.map(featureWeight);
  // Each shape's prefix: its features but the commonest ones whose full weight stays below floor times the
  // least its features can cost against any device (derived ones cost nothing against a thin one).
  const prefixEnd = shapes.map((a) => {
    let least = 0;
    for (let k = 0; k < a.features.length; k++)
      if (!isDerived(names[a.features[k]!]!)) least += weights[a.features[k]!]! * missCost(a.flows[k]!, 0);
    let end = a.features.length;
    let suffix = 0;
    while (end > 0 && suffix + weights[a.features[end - 1]!]! < floor * least) {
      suffix += weights[a.features[end - 1]!]!;
      end--;
    }
    return end;
  });
  // Only prefixes are indexed: a pair at the floor shares its rarest common feature in both prefixes (the
  // common weight cannot all lie in either suffix), so a common feature's list holds only the shapes
  // where it is among the rarer features, not every shape that has it.
  // Features held by more than `stopAbove` shapes find no pairs (they still count in the similarity).
  const df = new Int32Array(nf);
  for (const sh of shapes) for (const f of sh.features) df[f]!++;
  const postings: number[][] = Array.from({ length: nf }, () => []);
  shapes.forEach((sh, i) => {
    for (let k = 0; k < prefixEnd[i]!; k++)
      if (df[sh.features[k]!]! <= stopAbove) postings[sh.features[k]!]!.push(i);
  });
  const held = new Int32Array(nf).fill(-1);
  const heldFlows = new Int32Array(nf);
  const matched = new Int32Array(nf).fill(-1);
  const seen = new Int32Array(shapes.length).fill(-1);
  const pairs: ShapePair[] = [];
  shapes.forEach((a, i) => {
    for (let k = 0; k < a.features.length; k++) {
      held[a.features[k]!] = i;
      heldFlows[a.features[k]!] = a.flows[k]!;
    }
    const end = prefixEnd[i]!;
    for (let k = 0; k < end; k++) {
      for (const j of postings[a.features[k]!]!) {
        if (j <= i || seen[j] === i) continue;
        seen[j] = i;
        const b = shapes[j]!;
        let common = 0;
        let miss = 0;
        for (let m = 0; m < b.features.length; m++) {
          const f = b.features[m]!;
          if (held[f] === i) {
            common += weights[f]!;
            matched[f] = j;
          } else miss += oneSided(names[f]!, weights[f]!, b.flows[m]!, b.depth, a.depth);
        }
        for (const f of a.features)
          if (matched[f] !== j) miss += oneSided(names[f]!, weights[f]!, heldFlows[f]!, a.depth, b.depth);
        const sim = common + miss === 0 ? 1 : common / (common + miss);
        if (sim >= floor && sim > 0) pairs.push({ a: i, b: j, sim });
      }
    }
  });
  return pairs;
}
