// Decoder throughput: the same softflowd NetFlow v9 packets through this decoder and through
// node-netflowv9 (GPL-2.0 devDependency, the reference), then softflowd IPFIX through this decoder, then
// pmacctd (sfprobe) sFlow v5 of the same packets at 1:1 (samples/s: one record per sample).
// Rounds alternate between the decoders and the median of each is reported, so a busy machine
// slows both alike. Prints figures; the last line is key=value.
// Run: pnpm bench:decode [rounds (default 9)] [ms per round (default 400)]
import { createDecoderState, decodePacket } from '../packages/flow-decoder/src/index.ts';
import { createReferenceDecoder } from '../packages/flow-decoder/src/test-helpers/node-netflowv9.ts';
import { generateTraffic } from '../packages/flow-decoder/src/test-helpers/traffic.ts';
import { hasTool, sfprobeExport, softflowdExport } from '../packages/testkit/src/index.ts';

const rounds = Number(process.argv[2] ?? 9);
const roundMs = Number(process.argv[3] ?? 400);

/** Records per second of whole passes over the packets for about `roundMs`. */
function measure(pass: () => number): number {
  let records = 0;
  const start = performance.now();
  let now = start;
  while (now - start < roundMs) {
    records += pass();
    now = performance.now();
  }
  return records / ((now - start) / 1000);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (r: number): string => `${(r / 1e6).toFixed(2)}M records/s`;

async function main(): Promise<void> {
  if (!hasTool('softflowd')) throw new Error('softflowd is not installed (apt-get install softflowd)');
  // Without -a softflowd keeps every flow until the end of the file, then exports full datagrams.
  const frames = generateTraffic(42, 6000, Date.UTC(2024, 0, 1, 12), 60_000);
  const v9 = (await softflowdExport(frames, 9)).datagrams;
  const ipfix = (await softflowdExport(frames, 10)).datagrams;
  if (!hasTool('pmacctd')) throw new Error('pmacctd is not installed (apt-get install pmacct)');
  const sflow = (await sfprobeExport(frames, { samplingRate: 1 })).datagrams;

  const ctx = { exporter: '192.0.2.1', receivedMs: 0 };
  const state = createDecoderState();
  const ours = (): number => {
    let n = 0;
    for (const d of v9) n += decodePacket(d, state, ctx).records.length;
    return n;
  };
  const ref = createReferenceDecoder();
  const theirs = (): number => {
    let n = 0;
    for (const d of v9) n += ref.decode(d, '192.0.2.1', 2055)?.flows.length ?? 0;
    return n;
  };
  const ipfixState = createDecoderState();
  const ipfixPass = (): number => {
    let n = 0;
    for (const d of ipfix) n += decodePacket(d, ipfixState, ctx).records.length;
    return n;
  };
  const sflowState = createDecoderState();
  const sflowPass = (): number => {
    let n = 0;
    for (const d of sflow) n += decodePacket(d, sflowState, ctx).records.length;
    return n;
  };
  const perPass = ours();
  const theirPerPass = theirs();
  const ipfixPerPass = ipfixPass();
  console.log(
    `softflowd from ${frames.length} packets: ${v9.length} v9 datagrams (${perPass} records; node-netflowv9 sees ${theirPerPass}), ` +
      `${ipfix.length} IPFIX datagrams (${ipfixPerPass} records); pmacctd sfprobe: ${sflow.length} sFlow datagrams (${sflowPass()} samples)`,
  );

  // Warm up every path, then alternate.
  for (const f of [ours, theirs, ipfixPass, sflowPass]) measure(f);
  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  const s: number[] = [];
  for (let i = 0; i < rounds; i++) {
    a.push(measure(ours));
    b.push(measure(theirs));
    c.push(measure(ipfixPass));
    s.push(measure(sflowPass));
  }
  const oursRate = median(a);
  const theirRate = median(b);
  const ipfixRate = median(c);
  const sflowRate = median(s);
  const ratio = oursRate / theirRate;
  console.log(`wardwatch decoder, NetFlow v9      ${fmt(oursRate)}`);
  console.log(`node-netflowv9 0.2.16, NetFlow v9  ${fmt(theirRate)}`);
  console.log(`wardwatch decoder, IPFIX           ${fmt(ipfixRate)}`);
  console.log(`wardwatch decoder, sFlow v5        ${(sflowRate / 1e6).toFixed(2)}M samples/s`);
  console.log(
    `ratio wardwatch/node-netflowv9 on v9: ${ratio.toFixed(2)}x (goal >= 4); medians of ${rounds} alternating rounds`,
  );
  console.log(
    `v9_records_per_s=${Math.round(oursRate)} nnf9_records_per_s=${Math.round(theirRate)} ratio=${ratio.toFixed(2)} ipfix_records_per_s=${Math.round(ipfixRate)} sflow_samples_per_s=${Math.round(sflowRate)}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
