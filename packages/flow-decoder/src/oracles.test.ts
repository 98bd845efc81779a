// Oracles 2 and 3: softflowd exports one generated pcap as NetFlow v5, v9, IPFIX (several time
// forms) and bidirectional IPFIX; tshark's cflow dissector and node-netflowv9 decode the same
// datagrams, and every record must agree field by field.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FlowRecord } from '@wardwatch/flow-schema';
import { hasTool, softflowdExport } from '@wardwatch/testkit';
import { decodePacket } from './decode.ts';
import type { DecodeResult } from './result.ts';
import { createDecoderState } from './state.ts';
import { createReferenceDecoder, referenceFieldIds } from './test-helpers/node-netflowv9.ts';
import { type Frame, generateTraffic } from './test-helpers/traffic.ts';
import { type TsharkPacket, type TsharkValue, tsharkDecode } from './test-helpers/tshark.ts';

const START = Date.UTC(2024, 0, 1, 12);
const haveExporter = hasTool('softflowd');
const skipTshark = haveExporter && hasTool('tshark') ? false : 'softflowd or tshark not installed';
const skipReference = haveExporter ? false : 'softflowd not installed';

interface Mode {
  name: string;
  version: 5 | 9 | 10;
  args: string[];
}

// -a: softflowd takes its clock from the pcap, so exported times are the generated traffic's times.
const MODES: Mode[] = [
  { name: 'NetFlow v5', version: 5, args: ['-a'] },
  { name: 'NetFlow v9', version: 9, args: ['-a'] },
  { name: 'IPFIX (sysUpTime + systemInitTimeMilliseconds)', version: 10, args: ['-a'] },
  { name: 'IPFIX (flowStartMilliseconds)', version: 10, args: ['-a', '-A', 'milli'] },
  { name: 'IPFIX (flowStartNanoseconds)', version: 10, args: ['-a', '-A', 'nano'] },
  { name: 'IPFIX bidirectional (RFC 5103, microseconds)', version: 10, args: ['-a', '-b', '-A', 'micro'] },
];

interface Run {
  frames: Frame[];
  datagrams: Buffer[];
  port: number;
  results: DecodeResult[];
}

const frames = generateTraffic(7, 600, START);
const runs = new Map<string, Run>();

async function exportRun(mode: Mode): Promise<Run> {
  let run = runs.get(mode.name);
  if (run === undefined) {
    const { datagrams, port } = await softflowdExport(frames, mode.version, mode.args);
    const state = createDecoderState();
    const results = datagrams.map((d, i) =>
      decodePacket(d, state, { exporter: '127.0.0.1', receivedMs: START + i }),
    );
    run = { frames, datagrams, port, results };
    runs.set(mode.name, run);
  }
  return run;
}

const one = (v: TsharkValue | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Parses tshark's absolute time ("Jan  1, 2024 12:00:00.393000999 UTC") to Unix ms, truncating. */
function tsharkTime(s: string): number {
  const m = /^(\w{3})\s+(\d+), (\d+) (\d+):(\d+):(\d+)\.(\d+) UTC$/.exec(s);
  assert.ok(m, `tshark time ${s}`);
  const ms = Number(m[7]!.padEnd(9, '0').slice(0, 3));
  return (
    Date.UTC(Number(m[3]), MONTHS.indexOf(m[1]!), Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6])) + ms
  );
}

function u32(b: Uint8Array, o: number): number {
  return b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}

/** The columns tshark determines for one flow; `bootMs` anchors relative (sysUpTime) times. */
function fromTshark(f: Record<string, TsharkValue>, bootMs: number): Partial<FlowRecord> {
  const e: Partial<FlowRecord> = {};
  const num = (k: string) => Number(one(f[k]));
  e.srcAddr = one(f['cflow.srcaddr'] ?? f['cflow.srcaddrv6']);
  e.dstAddr = one(f['cflow.dstaddr'] ?? f['cflow.dstaddrv6']);
  e.protocol = num('cflow.protocol');
  e.bytes = num('cflow.octets');
  e.packets = num('cflow.packets');
  // tshark names RFC 5103 reverse elements like their forward twins: the second value is reverse.
  const rev = (k: string) => (Array.isArray(f[k]) ? Number(f[k][1]) : undefined);
  if (rev('cflow.octets') !== undefined) e.reverseBytes = rev('cflow.octets');
  if (rev('cflow.packets') !== undefined) e.reversePackets = rev('cflow.packets');
  e.srcPort = f['cflow.srcport'] !== undefined ? num('cflow.srcport') : 0;
  e.dstPort = f['cflow.dstport'] !== undefined ? num('cflow.dstport') : 0;
  if (f['cflow.tcpflags'] !== undefined) e.tcpFlags = Number.parseInt(one(f['cflow.tcpflags'])!, 16);
  if (f['cflow.tos'] !== undefined) e.tos = Number.parseInt(one(f['cflow.tos'])!, 16);
  if (f['cflow.inputint'] !== undefined) e.inputIf = num('cflow.inputint');
  if (f['cflow.outputint'] !== undefined) e.outputIf = num('cflow.outputint');
  if (f['cflow.direction'] !== undefined) e.direction = num('cflow.direction');
  if (f['cflow.nexthop'] !== undefined) e.nextHop = one(f['cflow.nexthop']);
  if (f['cflow.srcmask'] !== undefined) e.srcMask = num('cflow.srcmask');
  if (f['cflow.dstmask'] !== undefined) e.dstMask = num('cflow.dstmask');
  if (f['cflow.srcas'] !== undefined) e.srcAs = num('cflow.srcas');
  if (f['cflow.dstas'] !== undefined) e.dstAs = num('cflow.dstas');
  if (f['cflow.timestart'] !== undefined || f['cflow.timeend'] !== undefined) {
    // Relative (sysUpTime) times; tshark prints an uptime of exactly 0 as an absolute epoch.
    const rel = (k: string) => (f[k] !== undefined ? Math.round(num(k) * 1000) : 0);
    e.startMs = bootMs + rel('cflow.timestart');
    e.endMs = bootMs + rel('cflow.timeend');
  } else if (f['cflow.abstimestart'] !== undefined) {
    e.startMs = tsharkTime(one(f['cflow.abstimestart'])!);
    e.endMs = tsharkTime(one(f['cflow.abstimeend'])!);
  }
  return e;
}

function bootOf(datagram: Uint8Array, ts: TsharkPacket, sysInit: number): number {
  const version = (datagram[0]! << 8) | datagram[1]!;
  if (version === 5) return u32(datagram, 8) * 1000 + Math.floor(u32(datagram, 12) / 1e6) - u32(datagram, 4);
  if (version === 9) return u32(datagram, 8) * 1000 - u32(datagram, 4);
  const opt = ts.options.find((o) => o['cflow.sys_init_time'] !== undefined);
  return opt !== undefined ? tsharkTime(one(opt['cflow.sys_init_time'])!) : sysInit;
}

function pick(r: FlowRecord, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, r[k as keyof FlowRecord]]));
}

/** Loss implied by consecutive headers: sequence jumps beyond the units the previous packet held. */
function expectedLoss(datagrams: readonly Uint8Array[], shark: readonly TsharkPacket[]): number {
  let lost = 0;
  let next = -1;
  datagrams.forEach((d, i) => {
    const version = (d[0]! << 8) | d[1]!;
    const seq = version === 5 ? u32(d, 16) : version === 9 ? u32(d, 12) : u32(d, 8);
    const units = version === 9 ? 1 : shark[i]!.flows.length + shark[i]!.options.length;
    if (next >= 0 && seq > next) lost += seq - next;
    next = Math.max(next, seq + units);
  });
  return lost;
}

/** Sum of IP total lengths per direction of the generated traffic: what the exporter must count. */
function groundTruthBytes(fr: readonly Frame[], v4only: boolean): number {
  let sum = 0;
  for (const f of fr) {
    const v6 = f.data[12] === 0x86;
    if (v4only && v6) continue;
    sum += v6 ? 40 + ((f.data[18]! << 8) | f.data[19]!) : (f.data[16]! << 8) | f.data[17]!;
  }
  return sum;
}

describe('oracle: tshark cflow agrees on softflowd exports', { skip: skipTshark, timeout: 120_000 }, () => {
  for (const mode of MODES) {
    test(mode.name, async () => {
      const run = await exportRun(mode);
      assert.ok(run.datagrams.length >= 3, `softflowd sent ${run.datagrams.length} datagrams`);
      const shark = await tsharkDecode(run.datagrams, run.port);
      assert.equal(shark.length, run.datagrams.length);
      let sysInit = Number.NaN;
      let compared = 0;
      let bytes = 0;
      for (let i = 0; i < shark.length; i++) {
        const r = run.results[i]!;
        assert.ok(r.ok, `datagram ${i}: ${r.ok ? '' : r.error.message}`);
        sysInit = bootOf(run.datagrams[i]!, shark[i]!, sysInit);
        const flows = shark[i]!.flows;
        assert.equal(r.records.length, flows.length, `datagram ${i}: record count`);
        flows.forEach((f, j) => {
          const want = fromTshark(f, sysInit);
          const got = r.records[j]!;
          assert.deepEqual(pick(got, Object.keys(want)), want, `datagram ${i} record ${j}`);
          // v9 headers carry whole export seconds, so sysUpTime-based times may read up to 1 s early.
          assert.ok(
            got.startMs >= START - 1000 && got.endMs < START + 60_000,
            `datagram ${i} record ${j}: time`,
          );
          bytes += got.bytes + got.reverseBytes;
          compared++;
        });
      }
      assert.ok(compared >= 300, `compared ${compared} records`);
      assert.equal(
        run.results.reduce((a, r) => a + r.stats.sequenceResets, 0),
        0,
      );
      // Loss in the protocol's unit, from the raw headers and tshark's record counts; with a zero
      // reorder window every gap is reported at once. (softflowd's IPFIX sequence numbers
      // are off by a few records now and then; the decoder must report exactly those gaps.)
      const state = createDecoderState({ reorderWindowPackets: 0, reorderWindowRecords: 0 });
      let lost = 0;
      for (const d of run.datagrams)
        lost += decodePacket(d, state, { exporter: '127.0.0.1', receivedMs: 0 }).stats.sequenceLost;
      assert.equal(lost, expectedLoss(run.datagrams, shark), 'sequence loss');
      // Ground truth: every IP byte of the generated traffic is in exactly one record.
      assert.equal(bytes, groundTruthBytes(run.frames, mode.version === 5));
    });
  }

  test('bidirectional IPFIX carries the reverse direction of the unidirectional export', async () => {
    const uni = await exportRun(MODES[3]!);
    const bi = await exportRun(MODES[5]!);
    const key = (a: string, b: string, p: number, sp: number, dp: number) => `${a}|${b}|${p}|${sp}|${dp}`;
    const oneWay = new Map<string, FlowRecord>();
    for (const r of uni.results.flatMap((x) => x.records)) {
      oneWay.set(key(r.srcAddr, r.dstAddr, r.protocol, r.srcPort, r.dstPort), r);
    }
    let reversed = 0;
    for (const r of bi.results.flatMap((x) => x.records)) {
      if (r.reversePackets === 0) continue;
      const back = oneWay.get(key(r.dstAddr, r.srcAddr, r.protocol, r.dstPort, r.srcPort));
      assert.ok(back, `reverse of ${r.srcAddr} -> ${r.dstAddr}`);
      assert.equal(r.reverseBytes, back.bytes);
      assert.equal(r.reversePackets, back.packets);
      reversed++;
    }
    assert.ok(reversed >= 100, `${reversed} biflows with a reverse direction`);
  });
});

function hex6(addr: string): string {
  const [h, t] = addr.includes('::') ? addr.split('::') : [addr, ''];
  const hs = h ? h.split(':') : [];
  const ts = t ? t.split(':') : [];
  return [...hs, ...new Array(8 - hs.length - ts.length).fill('0'), ...ts]
    .map((g) => g.padStart(4, '0'))
    .join('');
}

// node-netflowv9 field name -> how to read the same value from a FlowRecord.
const REFERENCE: Record<string, (r: FlowRecord, boot: number) => unknown> = {
  ipv4_src_addr: (r) => r.srcAddr,
  ipv4_dst_addr: (r) => r.dstAddr,
  ipv6_src_addr: (r) => hex6(r.srcAddr),
  ipv6_dst_addr: (r) => hex6(r.dstAddr),
  ipv4_next_hop: (r) => r.nextHop,
  l4_src_port: (r) => r.srcPort,
  l4_dst_port: (r) => r.dstPort,
  ipv4_src_port: (r) => r.srcPort,
  ipv4_dst_port: (r) => r.dstPort,
  protocol: (r) => r.protocol,
  src_tos: (r) => r.tos,
  tcp_flags: (r) => r.tcpFlags,
  in_bytes: (r) => r.bytes,
  in_pkts: (r) => r.packets,
  input_snmp: (r) => r.inputIf,
  output_snmp: (r) => r.outputIf,
  src_as: (r) => r.srcAs,
  dst_as: (r) => r.dstAs,
  in_as: (r) => r.srcAs,
  out_as: (r) => r.dstAs,
  src_mask: (r) => r.srcMask,
  dst_mask: (r) => r.dstMask,
  ipv6_src_mask: (r) => r.srcMask,
  ipv6_dst_mask: (r) => r.dstMask,
  direction: (r) => r.direction,
  first_switched: (r, boot) => r.startMs - boot,
  last_switched: (r, boot) => r.endMs - boot,
};

describe('oracle: node-netflowv9 agrees on softflowd v5 and v9', {
  skip: skipReference,
  timeout: 120_000,
}, () => {
  for (const mode of MODES.filter((m) => m.version !== 10)) {
    test(mode.name, async () => {
      const run = await exportRun(mode);
      const ref = createReferenceDecoder();
      const ids = referenceFieldIds();
      let fields = 0;
      let extraFields = 0;
      for (let i = 0; i < run.datagrams.length; i++) {
        const d = run.datagrams[i]!;
        const decoded = ref.decode(d, '127.0.0.1', 9995);
        assert.ok(decoded, `datagram ${i}`);
        // It returns options data records among the flows.
        const theirs = { flows: decoded.flows.filter((f) => f['isOption'] !== true) };
        const ours = run.results[i]!.records;
        assert.equal(ours.length, theirs.flows.length, `datagram ${i}: record count`);
        const boot =
          mode.version === 5
            ? u32(d, 8) * 1000 + Math.floor(u32(d, 12) / 1e6) - u32(d, 4)
            : u32(d, 8) * 1000 - u32(d, 4);
        theirs.flows.forEach((flow, j) => {
          const r = ours[j]!;
          for (const [name, value] of Object.entries(flow)) {
            if (name === 'fsId') continue;
            const get = REFERENCE[name];
            if (get !== undefined) {
              assert.deepEqual(get(r, boot), value, `datagram ${i} record ${j} ${name}`);
              fields++;
              continue;
            }
            if (name === 'ip_protocol_version') {
              assert.equal(r.srcAddr.includes(':') ? 6 : 4, value, `datagram ${i} record ${j} ${name}`);
              continue;
            }
            // Elements without a column must be kept raw in `extra`, with the same value.
            const id = ids.get(name);
            const extra = r.extra?.find((e) => e.id === id && e.pen === 0);
            assert.ok(extra, `datagram ${i} record ${j}: ${name} (${id}) not kept`);
            assert.equal(Number.parseInt(Buffer.from(extra.value).toString('hex'), 16), value, name);
            extraFields++;
          }
        });
      }
      assert.ok(fields >= 3000, `compared ${fields} fields`);
      if (mode.version === 9) assert.ok(extraFields > 100, `compared ${extraFields} extra fields`);
    });
  }
});
