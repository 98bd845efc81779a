// Long fuzz run of the flow decoder: mutated corpus packets (lengths that lie, truncations, bit
// flips, zero-length and huge template fields, repeated and spliced sets) from many exporters into
// one bounded decoder state. Prints what it found; exits 1 on any exception or broken invariant.
// Run: pnpm fuzz:decode [packets (default 1000000)] [seed]
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createDecoderState, decodePacket } from '../packages/flow-decoder/src/index.ts';
import {
  checkBounds,
  checkResult,
  corpusSeeds,
  createMutator,
} from '../packages/flow-decoder/src/test-helpers/fuzz.ts';
import { sflowSeeds } from '../packages/flow-decoder/src/test-helpers/sflow-builder.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after a full collection: what the decoder state really retains. */
function retainedHeap(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

const total = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? Date.now() % 1_000_000);

function main(): number {
  // sFlow datagrams are built by hand (the shared corpus holds no sFlow capture).
  const seeds = [...corpusSeeds(), ...sflowSeeds()];
  console.log(`fuzz: ${total} packets, seed ${seed}, ${seeds.length} corpus seed packets`);
  const state = createDecoderState({
    maxTemplates: 2000,
    maxTemplatesPerExporter: 200,
    maxSessions: 500,
    maxHeldSets: 200,
  });
  const next = createMutator(seeds, seed);
  const codes = new Map<string, number>();
  const failures: string[] = [];
  let ok = 0;
  let records = 0;
  let options = 0;
  let held = 0;
  let released = 0;
  let expired = 0;
  let bytes = 0;
  const heapBefore = retainedHeap();
  let heapPeak = heapBefore;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const pkt = next();
    bytes += pkt.length;
    try {
      // Mostly a few exporters (templates of one seed meet data of another), sometimes many.
      const exporter = i % 10 === 0 ? `10.1.${(i >> 4) & 255}.${i & 15}` : `10.0.0.${i & 3}`;
      const r = decodePacket(pkt, state, { exporter, receivedMs: i });
      const broken = checkResult(r);
      if (broken !== undefined) failures.push(`invariant: ${broken}: ${Buffer.from(pkt).toString('hex')}`);
      if (r.ok) ok++;
      else codes.set(r.error.code, (codes.get(r.error.code) ?? 0) + 1);
      records += r.records.length;
      options += r.options.length;
      held += r.stats.setsHeld;
      released += r.stats.heldRecordsReleased;
      expired += r.stats.heldSetsExpired;
    } catch (err) {
      failures.push(
        `exception ${err instanceof Error ? err.stack : String(err)}: ${Buffer.from(pkt).toString('hex')}`,
      );
    }
    if (i % 100_000 === 0) {
      const bound = checkBounds(state);
      if (bound !== undefined) failures.push(`memory bound: ${bound} after ${i} packets`);
      heapPeak = Math.max(heapPeak, retainedHeap());
    }
    if (failures.length >= 20) break;
  }
  const secs = (performance.now() - start) / 1000;
  const bound = checkBounds(state);
  if (bound !== undefined) failures.push(`memory bound: ${bound} at the end`);
  console.log(
    `decoded ${total} packets (${(bytes / 1e6).toFixed(0)} MB) in ${secs.toFixed(1)} s (${Math.round(total / secs)} packets/s)`,
  );
  console.log(`ok ${ok}, typed errors ${[...codes].map(([c, n]) => `${c}=${n}`).join(' ')}`);
  console.log(
    `records ${records}, options records ${options}, sets held ${held}, held records released ${released}, held expired ${expired}`,
  );
  console.log(
    `state: ${state.sessions.size} sessions, ${state.templateCount} templates, ${state.held.length} held sets (${state.heldBytes} bytes); ` +
      `retained heap ${(heapBefore / 1e6).toFixed(1)} MB -> peak ${(heapPeak / 1e6).toFixed(1)} MB -> end ${(retainedHeap() / 1e6).toFixed(1)} MB`,
  );
  for (const f of failures.slice(0, 20)) console.log(`FAIL ${f.slice(0, 2000)}`);
  console.log(
    `packets=${total} exceptions=${failures.filter((f) => f.startsWith('exception')).length} failures=${failures.length} seed=${seed}`,
  );
  return failures.length === 0 ? 0 : 1;
}

process.exitCode = main();
