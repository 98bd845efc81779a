// Behaviour groups: devices whose communication profiles are alike share a group, whatever their class.
// Pure: profiles in, groups out. A profile is reduced to a set of features (the services it uses and on
// which internal servers, the services it offers, what it uses on the internet, whether it sends
// continuously); two devices are alike by the Jaccard index of their features; groups are built by
// average-linkage agglomerative clustering over the distinct feature sets, cut at a similarity threshold,
// and keep their ids from one grouping to the next by the members they share.

/** One profile entry as grouping sees it. */
export interface GroupEntry {
  /** The peer as stored (`cidr` text: a host `/32` or `/128`, or a peer group). */
  peer: string;
  port: number;
  proto: number;
  dir: 'outbound' | 'inbound';
  internal: boolean;
}

/** A device's profile, for grouping. */
export interface GroupInput {
  ip: string;
  entries: readonly GroupEntry[];
  periodic: boolean;
  /** The class inferred (or set) for the device: counted as a vote, never used to group. */
  class: string;
}

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
}

/** Options of {@link groupProfiles}. */
export interface GroupOptions {
  /** Least average similarity at which two clusters merge (default 0.5). */
  threshold?: number;
  /** The previous grouping (device -> group id): a new group keeps the id of the old one it shares most members with. */
  previous?: ReadonlyMap<string, number>;
  /** The id the first new group takes (default 1, or above every previous id). */
  nextId?: number;
}

/** Default merge threshold: clusters merge while their devices share on average half their features. */
export const GROUP_THRESHOLD = 0.5;

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
 * `periodic` for a device that sends continuously, `serves nothing` for a pure client.
 */
export function featuresOfProfile(p: GroupInput): Set<string> {
  const f = new Set<string>();
  for (const e of p.entries) for (const x of entryFeatures(e)) f.add(x);
  if (p.periodic) f.add('periodic');
  let serves = false;
  for (const x of f) if (x.startsWith('serves ')) serves = true;
  if (!serves) f.add('serves nothing');
  return f;
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

interface Cluster {
  /** Indexes into the distinct feature sets. */
  shapes: number[];
  weight: number;
}

/**
 * Groups profiles: devices with the same features form one shape; shapes merge by average linkage
 * (weighted by their devices) while the best pair's average similarity reaches the threshold.
 * Cost: O(s^2) memory and O(s^3) time in the number of distinct shapes s (devices of one kind mostly
 * share a shape, so s stays far below the number of devices).
 */
export function groupProfiles(inputs: readonly GroupInput[], opts: GroupOptions = {}): Grouping {
  const threshold = opts.threshold ?? GROUP_THRESHOLD;
  const features = inputs.map(featuresOfProfile);
  // Distinct feature sets (shapes) and their devices.
  const shapeOf = new Map<string, number>();
  const shapes: Array<Set<string>> = [];
  const shapeDevices: number[][] = [];
  features.forEach((f, i) => {
    const key = [...f].sort().join('\n');
    let s = shapeOf.get(key);
    if (s === undefined) {
      s = shapes.length;
      shapeOf.set(key, s);
      shapes.push(f);
      shapeDevices.push([]);
    }
    shapeDevices[s]!.push(i);
  });
  const n = shapes.length;
  // Average-linkage similarity between clusters, kept as a matrix (Lance-Williams update on merge).
  const sim: Float64Array[] = shapes.map(() => new Float64Array(n));
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const s = similarity(shapes[i]!, shapes[j]!);
      sim[i]![j] = s;
      sim[j]![i] = s;
    }
  const clusters: Array<Cluster | undefined> = shapes.map((_, i) => ({
    shapes: [i],
    weight: shapeDevices[i]!.length,
  }));
  for (;;) {
    let best = -1;
    let bi = -1;
    let bj = -1;
    for (let i = 0; i < n; i++) {
      if (!clusters[i]) continue;
      for (let j = i + 1; j < n; j++) {
        if (!clusters[j]) continue;
        if (sim[i]![j]! > best) {
          best = sim[i]![j]!;
          bi = i;
          bj = j;
        }
      }
    }
    if (bi < 0 || best < threshold) break;
    const a = clusters[bi]!;
    const b = clusters[bj]!;
    for (let k = 0; k < n; k++) {
      if (k === bi || k === bj || !clusters[k]) continue;
      const v = (a.weight * sim[bi]![k]! + b.weight * sim[bj]![k]!) / (a.weight + b.weight);
      sim[bi]![k] = v;
      sim[k]![bi] = v;
    }
    clusters[bi] = { shapes: [...a.shapes, ...b.shapes], weight: a.weight + b.weight };
    clusters[bj] = undefined;
  }

  // Members, shared profile, votes.
  const built: Array<Omit<BehaviourGroup, 'id'> & { ips: string[] }> = [];
  for (const c of clusters) {
    if (!c) continue;
    const devices = c.shapes.flatMap((s) => shapeDevices[s]!);
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
  return { groups, byDevice, nextId };
}
