import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '@wardwatch/hospital-sim';
import { type Shape, similarPairs } from './group-features.ts';
import { observedSimilarity } from './groups.ts';
import { averageLinkage, type SimilarPair } from './linkage.ts';

/** Textbook average linkage over a full matrix (every pair), for comparison. */
function denseAverageLinkage(weights: number[], sim: number[][], threshold: number): number[][] {
  const clusters: Array<{ members: number[]; w: number } | undefined> = weights.map((w, i) => ({
    members: [i],
    w,
  }));
  const avg = (a: number[], b: number[]) => {
    let s = 0;
    let w = 0;
    for (const i of a)
      for (const j of b) {
        s += weights[i]! * weights[j]! * sim[i]![j]!;
        w += weights[i]! * weights[j]!;
      }
    return s / w;
  };
  for (;;) {
    let best = -1;
    let bi = -1;
    let bj = -1;
    for (let i = 0; i < clusters.length; i++)
      for (let j = i + 1; j < clusters.length; j++) {
        if (!clusters[i] || !clusters[j]) continue;
        const s = avg(clusters[i]!.members, clusters[j]!.members);
        if (s > best + 1e-12) [best, bi, bj] = [s, i, j];
      }
    if (bi < 0 || best < threshold) break;
    clusters[bi] = {
      members: [...clusters[bi]!.members, ...clusters[bj]!.members],
      w: clusters[bi]!.w + clusters[bj]!.w,
    };
    clusters[bj] = undefined;
  }
  return clusters.filter((c) => c !== undefined).map((c) => c.members);
}

const canonical = (clusters: number[][]) =>
  clusters.map((c) => [...c].sort((x, y) => x - y)).sort((x, y) => x[0]! - y[0]!);

test('average linkage over the given pairs is average linkage over the full matrix', () => {
  const rng = mulberry32(5);
  for (let round = 0; round < 20; round++) {
    const n = 5 + Math.floor(rng() * 25);
    const weights = Array.from({ length: n }, () => 1 + Math.floor(rng() * 4));
    // Items of a few kinds: alike within a kind, unlike across (some pairs 0, never given).
    const kind = weights.map(() => Math.floor(rng() * 4));
    const sim = weights.map(() => new Array<number>(n).fill(0));
    const pairs: SimilarPair[] = [];
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++) {
        const s = kind[i] === kind[j] ? 0.4 + rng() * 0.6 : rng() < 0.5 ? 0 : rng() * 0.5;
        sim[i]![j] = s;
        sim[j]![i] = s;
        if (s > 0) pairs.push({ a: i, b: j, sim: s });
      }
    assert.deepEqual(
      canonical(averageLinkage(weights, pairs, 0.5)),
      canonical(denseAverageLinkage(weights, sim, 0.5)),
      `round ${round}`,
    );
  }
});

test('similar pairs: every pair at the floor, found without comparing every pair', () => {
  const rng = mulberry32(9);
  const names = [
    'uses tcp/445',
    'uses tcp/445 at 10.9.0.1',
    'uses tcp/443',
    'internet tcp/443',
    'serves tcp/22',
    'serves tcp/104',
    'serves nothing',
    'periodic',
    'uses udp/53',
    'uses udp/53 at 10.9.0.2',
    'uses tcp/9100',
    'uses tcp/9100 at 10.9.0.3',
  ];
  const shapes: Shape[] = Array.from({ length: 300 }, () => {
    // A device always has a feature (`serves nothing` at least).
    const ids = names.map((_, i) => i).filter((i) => i === 6 || rng() < 0.3);
    return {
      features: Int32Array.from(ids),
      flows: Int32Array.from(ids, () => 1 + Math.floor(rng() * 9)),
      depth: 2 ** Math.floor(rng() * 7),
    };
  });
  const profile = (s: Shape) => ({
    counts: new Map([...s.features].map((f, k) => [names[f]!, Math.min(8, s.flows[k]!)])),
    depth: s.depth,
  });
  for (const floor of [0.25, 0.5]) {
    const found = similarPairs(
      shapes.map((s) => ({ ...s, flows: s.flows.map((n) => Math.min(8, n)) })),
      names,
      floor,
    );
    const expected: string[] = [];
    for (let i = 0; i < shapes.length; i++)
      for (let j = i + 1; j < shapes.length; j++) {
        const s = observedSimilarity(profile(shapes[i]!), profile(shapes[j]!));
        if (s >= floor && s > 0) expected.push(`${i} ${j} ${s.toFixed(9)}`);
      }
    const got = found.map((p) => `${p.a} ${p.b} ${p.sim.toFixed(9)}`);
    assert.deepEqual(got.sort(), expected.sort(), `floor ${floor}`);
  }
});
