import type { DecodeStats } from './result.ts';

const TWO32 = 4294967296;
const MAX_GAPS = 16;

/**
 * Sequence state of one exporter session. Sequence numbers are unwrapped into a monotonic count so
 * that gaps survive the 2^32 wrap; a gap is counted as loss only once the stream has moved a full
 * reorder window past it, so packets that arrive late fill their gap instead of being counted.
 */
export interface SequenceTracker {
  /** Next expected sequence, unwrapped; -1 before the first packet or after a resync. */
  expected: number;
  /** Open gaps as flat [start, end) pairs, oldest first. */
  gaps: number[];
}

/** A tracker that has seen nothing yet. */
export function createSequenceTracker(): SequenceTracker {
  return { expected: -1, gaps: [] };
}

function finalize(t: SequenceTracker, upTo: number, stats: DecodeStats): void {
  const g = t.gaps;
  let i = 0;
  while (i < g.length && (g[i + 1]! <= upTo || g.length - i > 2 * MAX_GAPS)) {
    stats.sequenceLost += g[i + 1]! - g[i]!;
    i += 2;
  }
  if (i > 0) g.splice(0, i);
}

/** Counts every open gap as lost and forgets the position (used before a resync). */
export function resyncSequence(t: SequenceTracker, stats: DecodeStats): void {
  finalize(t, Number.POSITIVE_INFINITY, stats);
  t.expected = -1;
}

function fill(t: SequenceTracker, from: number, to: number): boolean {
  const g = t.gaps;
  let hit = false;
  for (let i = 0; i < g.length; i += 2) {
    const s = g[i]!;
    const e = g[i + 1]!;
    if (to <= s || from >= e) continue;
    hit = true;
    const parts: number[] = [];
    if (from > s) parts.push(s, from);
    if (to < e) parts.push(to, e);
    g.splice(i, 2, ...parts);
    i += parts.length - 2;
  }
  return hit;
}

/**
 * Records a packet that carries sequence number `seq` (raw, 32-bit) and `count` units.
 * `window` is how far behind (in units) a packet may arrive and still count as reordered rather
 * than as an exporter restart; `maxGap` is the largest forward jump counted as loss.
 */
export function observeSequence(
  t: SequenceTracker,
  seq: number,
  count: number,
  window: number,
  maxGap: number,
  stats: DecodeStats,
): void {
  if (t.expected < 0) {
    t.expected = seq + count;
    return;
  }
  const diff = (seq - (t.expected % TWO32) + TWO32) % TWO32;
  if (diff === 0) {
    t.expected += count;
  } else if (diff < TWO32 / 2) {
    if (diff > maxGap) {
      stats.sequenceResets++;
      resyncSequence(t, stats);
      t.expected = seq + count;
      return;
    }
    t.gaps.push(t.expected, t.expected + diff);
    t.expected += diff + count;
  } else {
    const behind = TWO32 - diff;
    const at = t.expected - behind;
    if (at + count > t.expected) {
      // Overlaps the expected position: the exporter miscounted its last packet (softflowd IPFIX
      // does), so the stream simply continues from here.
      fill(t, at, t.expected);
      t.expected = at + count;
    } else if (behind <= window) {
      if (count > 0 && fill(t, at, at + count)) stats.sequenceReordered++;
    } else {
      stats.sequenceResets++;
      resyncSequence(t, stats);
      t.expected = seq + count;
      return;
    }
  }
  finalize(t, t.expected - window, stats);
}
