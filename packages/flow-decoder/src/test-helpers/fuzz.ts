// Fuzzing helpers shared by the short in-suite run and scripts/fuzz-decode.ts: corpus seeds, a
// structure-aware mutator (lengths that lie, truncations, bit flips, huge and zero-length template
// fields, spliced and repeated sets) and the invariants every decode result must satisfy.
import type { DecodeResult } from '../result.ts';
import type { DecoderState } from '../state.ts';
import { corpusPackets, haveCorpus, readManifest } from './corpus.ts';
import { prng } from './pcap-writer.ts';

/** Every export packet of the corpus (empty when the corpus is absent). */
export function corpusSeeds(): Uint8Array[] {
  if (!haveCorpus()) return [];
  const seeds: Uint8Array[] = [];
  for (const row of readManifest()) {
    if (row.file.endsWith('.json') || row.file.endsWith('.out')) continue;
    for (const p of corpusPackets(row.file, row.packets)) seeds.push(p.payload);
  }
  return seeds;
}

function u16at(b: Uint8Array, o: number, v: number): void {
  if (o + 1 < b.length) {
    b[o] = (v >> 8) & 0xff;
    b[o + 1] = v & 0xff;
  }
}

/** Offsets of set headers in a v9/IPFIX packet (walking honestly), for targeted corruption. */
function setOffsets(b: Uint8Array): number[] {
  const v = b.length >= 2 ? (b[0]! << 8) | b[1]! : 0;
  let p = v === 9 ? 20 : v === 10 ? 16 : -1;
  const out: number[] = [];
  while (p >= 0 && p + 4 <= b.length && out.length < 64) {
    out.push(p);
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    if (len < 4) break;
    p += len;
  }
  return out;
}

const EDGE16 = [0, 1, 2, 3, 4, 5, 8, 255, 256, 257, 0x7fff, 0x8000, 0xfffe, 0xffff];

/** A deterministic mutator over seed packets. */
export function createMutator(seeds: readonly Uint8Array[], seed: number): () => Uint8Array {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const synthetic = (): Uint8Array => {
    // A header of a random version followed by random bytes.
    const b = new Uint8Array(int(300));
    for (let i = 0; i < b.length; i++) b[i] = int(256);
    if (b.length >= 2) u16at(b, 0, pick([5, 9, 10, 10, 9, 1, 0]));
    if (b.length >= 4 && b[1] === 10) u16at(b, 2, rnd() < 0.7 ? b.length : pick(EDGE16));
    return b;
  };
  return () => {
    if (seeds.length === 0 || rnd() < 0.05) return synthetic();
    let b = new Uint8Array(pick(seeds));
    const rounds = 1 + int(4);
    for (let r = 0; r < rounds; r++) {
      const sets = setOffsets(b);
      switch (int(11)) {
        case 0: // truncate
          b = b.slice(0, int(b.length + 1));
          break;
        case 1: // bit flips
          for (let k = 1 + int(8); k > 0 && b.length > 0; k--) b[int(b.length)]! ^= 1 << int(8);
          break;
        case 2: // random bytes
          for (let k = 1 + int(4); k > 0 && b.length > 0; k--) b[int(b.length)] = int(256);
          break;
        case 3: // lying message length / v5 count
          u16at(b, 2, rnd() < 0.5 ? pick(EDGE16) : b.length + int(9) - 4);
          break;
        case 4: // lying set length
          if (sets.length > 0) u16at(b, pick(sets) + 2, rnd() < 0.5 ? pick(EDGE16) : int(b.length + 8));
          break;
        case 5: // lying template field count / field lengths (zero, huge, variable)
          if (sets.length > 0) {
            const s = pick(sets);
            u16at(b, s + 4 + 2 + 4 * int(6), pick(EDGE16));
          }
          break;
        case 6: // set id games: template <-> data, reserved ids
          if (sets.length > 0) u16at(b, pick(sets), pick([0, 1, 2, 3, 4, 255, 256, 257, 300, 0xffff]));
          break;
        case 7: {
          // repeat a set (recursive-looking sets) or splice a set from another packet
          if (sets.length > 0) {
            const s = pick(sets);
            const len = Math.min((b[s + 2]! << 8) | b[s + 3]!, b.length - s);
            const chunk = b.slice(s, s + Math.max(len, 0));
            const times = 1 + int(8);
            const out = new Uint8Array(b.length + chunk.length * times);
            out.set(b);
            for (let t = 0; t < times; t++) out.set(chunk, b.length + t * chunk.length);
            if (out[0] === 0 && out[1] === 10) u16at(out, 2, out.length);
            b = out;
          }
          break;
        }
        case 8: {
          // splice: head of this packet + tail of another
          const other = pick(seeds);
          const cut = int(b.length + 1);
          const from = int(other.length + 1);
          const out = new Uint8Array(cut + other.length - from);
          out.set(b.subarray(0, cut));
          out.set(other.subarray(from), cut);
          b = out;
          break;
        }
        case 9: // extend with garbage
          {
            const extra = int(64);
            const out = new Uint8Array(b.length + extra);
            out.set(b);
            for (let i = b.length; i < out.length; i++) out[i] = rnd() < 0.5 ? 0 : int(256);
            b = out;
          }
          break;
        default: // zero a run (padding-like)
          if (b.length > 0) b.fill(0, int(b.length), b.length);
      }
    }
    return b;
  };
}

const CODES = new Set(['TRUNCATED', 'UNSUPPORTED_VERSION', 'MALFORMED']);

/** Returns a description of the first broken invariant of a result, or undefined when it is sound. */
export function checkResult(r: DecodeResult): string | undefined {
  if (typeof r !== 'object' || r === null) return 'result is not an object';
  if (!Array.isArray(r.records) || !Array.isArray(r.options)) return 'records/options missing';
  if (!r.ok && !CODES.has(r.error.code)) return `unknown error code ${r.error.code}`;
  for (const v of Object.values(r.stats)) if (typeof v === 'number' && !(v >= 0)) return 'negative stat';
  for (const rec of r.records) {
    for (const k of ['bytes', 'packets', 'startMs', 'endMs', 'srcPort', 'dstPort', 'samplingRate'] as const) {
      if (!Number.isFinite(rec[k])) return `record ${k} is ${rec[k]}`;
    }
    if (rec.samplingRate <= 0) return 'samplingRate <= 0';
    if (typeof rec.srcAddr !== 'string' || typeof rec.dstAddr !== 'string') return 'address not a string';
  }
  return undefined;
}

/** Returns a description of a broken memory bound, or undefined. */
export function checkBounds(state: DecoderState): string | undefined {
  const l = state.limits;
  let templates = 0;
  let fields = 0;
  for (const s of state.sessions.values()) {
    templates += s.templates.size;
    for (const t of s.templates.values()) fields += t.fields.length;
    if (s.samplers.size > l.maxSamplersPerSession) return 'samplers over limit';
  }
  if (templates !== state.templateCount) return `template count drift ${templates} != ${state.templateCount}`;
  if (templates > l.maxTemplates) return 'templates over limit';
  if (fields !== state.templateFields) return `template field drift ${fields} != ${state.templateFields}`;
  if (fields > l.maxTemplateFieldsTotal) return 'template fields over limit';
  for (const n of state.exporterTemplates.values())
    if (n > l.maxTemplatesPerExporter) return 'per-exporter over limit';
  if (state.sessions.size > l.maxSessions) return 'sessions over limit';
  let sources = 0;
  for (const s of state.sessions.values()) sources += s.sources?.size ?? 0;
  if (sources !== state.sflowSources) return `sFlow source drift ${sources} != ${state.sflowSources}`;
  if (sources > l.maxSflowSources) return 'sFlow sources over limit';
  if (state.held.length > l.maxHeldSets) return 'held sets over limit';
  const bytes = state.held.reduce((a, h) => a + h.data.length, 0);
  if (bytes !== state.heldBytes) return `held byte drift ${bytes} != ${state.heldBytes}`;
  if (bytes > l.maxHeldBytes) return 'held bytes over limit';
  return undefined;
}
