import FlatQueue from 'flatqueue';

// Average-linkage agglomerative clustering over a sparse similarity graph: only the pairs given count,
// every other pair is taken as similarity 0. With every pair of non-zero similarity given it is exact
// average linkage; its cost follows the pairs given (a heap of candidate merges, each cluster's
// neighbours in a map) instead of the square of the items.

/** A similar pair of items, with their similarity. */
export interface SimilarPair {
  a: number;
  b: number;
  sim: number;
}

/**
 * Clusters `weights.length` items (each weighing its devices): merges the two clusters of highest average
 * similarity (weighted by their items' weights; the Lance-Williams update) while it reaches `threshold`.
 * Returns the clusters as lists of item indexes. Deterministic for the same input.
 */
export function averageLinkage(
  weights: readonly number[],
  pairs: Iterable<SimilarPair>,
  threshold: number,
): number[][] {
  const n = weights.length;
  const members: Array<number[] | undefined> = weights.map((_, i) => [i]);
  const weight = [...weights];
  const neighbours: Array<Map<number, number>> = weights.map(() => new Map());
  // Candidate merges: pair ids into these arrays, highest similarity first (the queue pops the lowest).
  const pa: number[] = [];
  const pb: number[] = [];
  const ps: number[] = [];
  const queue = new FlatQueue<number>();
  const offer = (a: number, b: number, sim: number) => {
    if (sim < threshold) return;
    pa.push(a);
    pb.push(b);
    ps.push(sim);
    queue.push(pa.length - 1, -sim);
  };
  for (const p of pairs) {
    if (p.a === p.b || p.sim <= 0) continue;
    neighbours[p.a]!.set(p.b, p.sim);
    neighbours[p.b]!.set(p.a, p.sim);
    offer(p.a, p.b, p.sim);
  }
  while (queue.length > 0) {
    const id = queue.pop()!;
    const a = pa[id]!;
    const b = pb[id]!;
    // Stale: one side was merged away, or their similarity changed since this entry was offered.
    if (!members[a] || !members[b] || neighbours[a]!.get(b) !== ps[id]) continue;
    const [keep, gone] = a < b ? [a, b] : [b, a];
    const wk = weight[keep]!;
    const wg = weight[gone]!;
    const nk = neighbours[keep]!;
    const ng = neighbours[gone]!;
    const merged = new Map<number, number>();
    for (const [k, s] of nk) if (k !== gone) merged.set(k, (wk * s + wg * (ng.get(k) ?? 0)) / (wk + wg));
    for (const [k, s] of ng) if (k !== keep && !nk.has(k)) merged.set(k, (wg * s) / (wk + wg));
    for (const k of ng.keys()) neighbours[k]!.delete(gone);
    for (const [k, s] of merged) {
      neighbours[k]!.set(keep, s);
      offer(Math.min(k, keep), Math.max(k, keep), s);
    }
    neighbours[keep] = merged;
    neighbours[gone] = new Map();
    members[keep] = [...members[keep]!, ...members[gone]!];
    members[gone] = undefined;
    weight[keep] = wk + wg;
  }
  const out: number[][] = [];
  for (let i = 0; i < n; i++) if (members[i]) out.push(members[i]!);
  return out;
}
