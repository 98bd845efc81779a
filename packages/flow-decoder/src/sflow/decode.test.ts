// sFlow v5 by hand-built datagrams: every sample and record kind, header parsing (QinQ, truncation),
// interface formats, sequence loss per agent and per data source, typed faults, fuzzing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decodePacket } from '../decode.ts';
import { type DecodeResult, SFLOW_VERSION } from '../result.ts';
import { createDecoderState, type DecoderState } from '../state.ts';
import { be, v4 } from '../test-helpers/build.ts';
import { checkBounds, checkResult, createMutator } from '../test-helpers/fuzz.ts';
import {
  counterSample,
  extendedSwitch,
  flowSample,
  rawHeader,
  sflowDatagram,
  sflowSeeds,
  taggedFrame,
  tlv,
} from '../test-helpers/sflow-builder.ts';

const CTX = { exporter: '127.0.0.1', receivedMs: 1_700_000_000_000 };

function decode(b: Uint8Array, state: DecoderState = createDecoderState()): DecodeResult {
  return decodePacket(b, state, CTX);
}

describe('sFlow v5 samples and records', () => {
  const [first, second] = sflowSeeds();

  test('raw Ethernet headers: MACs, QinQ, IPv4/TCP, IPv6/UDP, a truncated header; each sample rate recorded, counters unscaled', () => {
    const r = decode(first!);
    assert.ok(r.ok);
    assert.equal(r.version, SFLOW_VERSION);
    assert.deepEqual(r.agent, { address: '192.0.2.1', subAgentId: 0 });
    assert.equal(r.records.length, 3);
    const [tcp, udp, icmp] = r.records;
    assert.deepEqual(
      {
        exporter: tcp!.exporter,
        observationDomain: tcp!.observationDomain,
        version: tcp!.version,
        srcMac: tcp!.srcMac,
        dstMac: tcp!.dstMac,
        srcVlan: tcp!.srcVlan,
        dstVlan: tcp!.dstVlan,
        srcAddr: tcp!.srcAddr,
        dstAddr: tcp!.dstAddr,
        protocol: tcp!.protocol,
        srcPort: tcp!.srcPort,
        dstPort: tcp!.dstPort,
        tcpFlags: tcp!.tcpFlags,
        inputIf: tcp!.inputIf,
        outputIf: tcp!.outputIf,
        samplingRate: tcp!.samplingRate,
        packets: tcp!.packets,
        bytes: tcp!.bytes,
        startMs: tcp!.startMs,
      },
      {
        exporter: '192.0.2.1',
        observationDomain: 0,
        version: SFLOW_VERSION,
        srcMac: '02:00:00:00:00:02',
        dstMac: '02:00:00:00:00:01',
        srcVlan: 20,
        dstVlan: 20,
        srcAddr: '10.1.1.5',
        dstAddr: '10.2.2.9',
        protocol: 6,
        srcPort: 40000,
        dstPort: 443,
        tcpFlags: 0x10,
        inputIf: 3,
        outputIf: 4,
        samplingRate: 64,
        packets: 1,
        bytes: 20 + 20 + 200,
        startMs: CTX.receivedMs,
      },
    );
    assert.equal(udp!.srcAddr, '2001:db8::5');
    assert.equal(udp!.protocol, 17);
    assert.equal(udp!.dstPort, 53);
    assert.equal(udp!.inputIf, 7, 'expanded sample interface');
    assert.equal(udp!.samplingRate, 512);
    assert.equal(udp!.bytes, 40 + 8 + 40);
    // 30 header bytes: Ethernet and its tag, then 12 bytes of IPv4: MACs and VLAN only, and the bytes
    // from the frame length less the stripped FCS and the 18-byte L2 header.
    assert.equal(icmp!.srcMac, '02:00:00:00:00:02');
    assert.equal(icmp!.srcVlan, 5);
    assert.equal(icmp!.srcAddr, '');
    assert.equal(icmp!.bytes, 20 + 8 + 56);
  });

  test('counters are scaled by each sample rate only when the state asks (scaleCounters), as for NetFlow', () => {
    // Scaling twice would make a 1:N sample count N^2 packets downstream: the collector leaves
    // counters as sampled and analytics scales them by samplingRate once.
    const scaled = decode(first!, createDecoderState({ scaleCounters: true }));
    assert.ok(scaled.ok);
    const [tcp, udp] = scaled.records;
    assert.deepEqual([tcp!.packets, tcp!.bytes], [64, (20 + 20 + 200) * 64]);
    assert.deepEqual([udp!.packets, udp!.bytes], [512, (40 + 8 + 40) * 512]);
  });

  test('counter samples (compact and expanded) become interface counters', () => {
    const r = decode(first!);
    assert.equal(r.counters?.length, 2);
    const [a, b] = r.counters!;
    assert.equal(a!.agent, '192.0.2.1');
    assert.equal(a!.ifIndex, 3);
    assert.equal(a!.ifSpeed, 1e9);
    assert.equal(a!.adminUp, true);
    assert.equal(a!.operUp, true);
    assert.equal(a!.inOctets, 123456789);
    assert.equal(a!.inUcastPkts, 10);
    assert.equal(a!.outUcastPkts, 20);
    assert.equal(a!.fcsErrors, 0);
    assert.equal(a!.alignmentErrors, 1);
    assert.equal(a!.symbolErrors, 0);
    assert.equal(b!.ifIndex, 4);
    const down = decode(
      sflowDatagram({
        samples: [counterSample({ ifIndex: 9, status: 1, inErrors: 5, outDiscards: 6, fcsErrors: 7 })],
      }),
    );
    assert.deepEqual(
      (({ ifIndex, adminUp, operUp, inErrors, outDiscards, fcsErrors }) => ({
        ifIndex,
        adminUp,
        operUp,
        inErrors,
        outDiscards,
        fcsErrors,
      }))(down.counters![0]!),
      { ifIndex: 9, adminUp: true, operUp: false, inErrors: 5, outDiscards: 6, fcsErrors: 7 },
    );
    assert.equal(down.records.length, 0);
  });

  test('sampled Ethernet / IPv4 records and extended router / gateway data; an IPv6 agent', () => {
    const r = decode(second!);
    assert.ok(r.ok);
    assert.deepEqual(r.agent, { address: '2001:db8::1', subAgentId: 2 });
    const x = r.records[0]!;
    assert.equal(x.exporter, '2001:db8::1');
    assert.equal(x.observationDomain, 2);
    assert.equal(x.srcMac, '02:00:00:00:00:01');
    assert.equal(x.dstMac, '02:00:00:00:00:02');
    assert.equal(x.srcAddr, '10.0.0.1');
    assert.equal(x.dstAddr, '10.0.0.2');
    assert.equal(x.srcPort, 1);
    assert.equal(x.dstPort, 2);
    assert.equal(x.tcpFlags, 0x12);
    assert.equal(x.bytes, 1500);
    assert.equal(x.nextHop, '10.0.0.254');
    assert.equal(x.srcMask, 24);
    assert.equal(x.dstMask, 16);
    assert.equal(x.srcAs, 65001);
    assert.equal(x.dstAs, 65004, 'the last AS of the path');
  });

  test('without an extended switch record the innermost 802.1Q tag is the VLAN', () => {
    const f = taggedFrame(
      { src: '10.1.1.5', dst: '10.2.2.9', protocol: 17, srcPort: 1, dstPort: 2, payload: 10 },
      [
        { tpid: 0x88a8, vlan: 3000 },
        { tpid: 0x8100, vlan: 42 },
      ],
    );
    const r = decode(sflowDatagram({ samples: [flowSample({ records: [rawHeader(f)] })] }));
    assert.equal(r.records[0]!.srcVlan, 42);
    const sw = decode(
      sflowDatagram({ samples: [flowSample({ records: [rawHeader(f), extendedSwitch(7, 8)] })] }),
    );
    assert.equal(sw.records[0]!.srcVlan, 7, "the switch's word wins");
    assert.equal(sw.records[0]!.dstVlan, 8);
  });

  test('interfaces: discarded, multiple and internal/unknown read as 0', () => {
    const f = taggedFrame({ src: '10.1.1.5', dst: '10.2.2.9', protocol: 17, payload: 10 });
    const r = decode(
      sflowDatagram({
        samples: [
          flowSample({ input: 3, output: 0x3fffffff, records: [rawHeader(f)] }),
          flowSample({ input: 5, inputFormat: 1, output: 2, outputFormat: 2, records: [rawHeader(f)] }),
          flowSample({ expanded: true, input: 70000, output: 1, outputFormat: 1, records: [rawHeader(f)] }),
        ],
      }),
    );
    assert.deepEqual(
      r.records.map((x) => [x.inputIf, x.outputIf]),
      [
        [3, 0],
        [0, 0],
        [70000, 0],
      ],
    );
  });
  test('sampled IPv4 and IPv6 records: every field; one shorter than its layout is skipped', () => {
    const v6 = (last: number) => [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), last];
    const ip4 = [...v4('10.0.0.1'), ...v4('10.0.0.2')];
    const tail = [...be(40001, 4), ...be(443, 4), ...be(0x18, 4), ...be(0xb8, 4)];
    const r = decode(
      sflowDatagram({
        samples: [
          flowSample({ rate: 8, records: [tlv(3, [...be(900, 4), ...be(6, 4), ...ip4, ...tail])] }),
          flowSample({
            rate: 4,
            records: [tlv(4, [...be(700, 4), ...be(17, 4), ...v6(5), ...v6(9), ...tail])],
          }),
          flowSample({ records: [tlv(4, [...be(700, 4), ...be(17, 4), ...v6(5), ...v6(9)])] }),
        ],
      }),
    );
    assert.ok(r.ok);
    const fields = (x: (typeof r.records)[number]) =>
      (({ srcAddr, dstAddr, protocol, srcPort, dstPort, tcpFlags, tos, bytes, packets }) => ({
        srcAddr,
        dstAddr,
        protocol,
        srcPort,
        dstPort,
        tcpFlags,
        tos,
        bytes,
        packets,
      }))(x);
    const common = { srcPort: 40001, dstPort: 443, tcpFlags: 0x18, tos: 0xb8 };
    assert.deepEqual(r.records.map(fields), [
      { srcAddr: '10.0.0.1', dstAddr: '10.0.0.2', protocol: 6, ...common, bytes: 900, packets: 1 },
      { srcAddr: '2001:db8::5', dstAddr: '2001:db8::9', protocol: 17, ...common, bytes: 700, packets: 1 },
      {
        srcAddr: '',
        dstAddr: '',
        protocol: 0,
        srcPort: 0,
        dstPort: 0,
        tcpFlags: 0,
        tos: 0,
        bytes: 0,
        packets: 1,
      },
    ]);
  });
});

describe('sFlow v5 sequence accounting', () => {
  const f = taggedFrame({ src: '10.1.1.5', dst: '10.2.2.9', protocol: 17, payload: 10 });
  const sample = (source: number, seq: number) =>
    flowSample({ sourceIndex: source, seq, records: [rawHeader(f)] });

  test('flow-sample loss is counted per data source, datagram loss per agent and sub-agent', () => {
    const state = createDecoderState({ reorderWindowPackets: 2, reorderWindowRecords: 2 });
    let lost = 0;
    let datagramsLost = 0;
    let seq = 0;
    // Two data sources interleaved, each with its own sequence; source 1 loses its sample 5, and
    // datagram 4 of sub-agent 0 is lost. Sub-agent 1 of the same agent counts on its own.
    for (let i = 1; i <= 12; i++) {
      seq++;
      if (seq === 4) seq++;
      const samples = [sample(2, i)];
      if (i !== 5) samples.unshift(sample(1, i));
      for (const sub of [0, 1]) {
        const r = decode(sflowDatagram({ subAgentId: sub, seq: sub === 0 ? seq : i, samples }), state);
        assert.ok(r.ok);
        assert.equal(r.stats.sequenceUnit, 'samples');
        lost += r.stats.sequenceLost;
        datagramsLost += r.stats.datagramsLost;
      }
    }
    assert.equal(lost, 2, 'sample 5 of source 1, once per sub-agent');
    assert.equal(datagramsLost, 1);
  });

  test('an agent restart (sequence back to 1) is a reset, not loss', () => {
    const state = createDecoderState({ reorderWindowPackets: 2, reorderWindowRecords: 2 });
    let lost = 0;
    let resets = 0;
    for (const s of [100, 101, 102, 1, 2, 3, 4, 5]) {
      const r = decode(sflowDatagram({ seq: s, samples: [sample(1, s + 1000)] }), state);
      lost += r.stats.sequenceLost + r.stats.datagramsLost;
      resets += r.stats.sequenceResets;
    }
    assert.equal(lost, 0);
    assert.ok(resets >= 1);
  });
});

describe('sFlow v5 faults', () => {
  const f = taggedFrame({ src: '10.1.1.5', dst: '10.2.2.9', protocol: 17, payload: 10 });
  const good = flowSample({ records: [rawHeader(f)] });

  test('a datagram cut inside its second sample keeps the first', () => {
    const d = sflowDatagram({ samples: [good, good] });
    const r = decode(d.subarray(0, d.length - 10));
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, 'TRUNCATED');
    assert.equal(r.records.length, 1);
  });

  test('a record longer than its sample is MALFORMED; the sample is dropped, the next one kept', () => {
    const broken = [...good];
    // The raw header record's length field (after sample header 8 + 28 fixed + 4 count + 4 format).
    broken.splice(8 + 28 + 4 + 4, 4, ...be(10_000, 4));
    const r = decode(sflowDatagram({ samples: [broken, good] }));
    assert.equal(!r.ok && r.error.code, 'MALFORMED');
    assert.equal(r.records.length, 1);
  });

  test('flow and counter samples: fewer records than announced, or a record past its sample, say where', () => {
    const u = (...xs: number[]) => xs.flatMap((x) => be(x, 4));
    const rec = tlv(1001, u(1, 0, 2, 0));
    const long = [...rec.slice(0, 4), ...be(40, 4), ...rec.slice(8)];
    // Flow sample: 7 fixed words, then the count; counter sample: 2 fixed words, then the count. The first
    // sample's data starts at byte 36 (28-byte datagram header with an IPv4 agent, 8-byte sample header).
    const flow = (count: number, records: number[]) => tlv(1, [...u(1, 1, 1, 1, 0, 0, 0, count), ...records]);
    const counters = (count: number, records: number[]) => tlv(2, [...u(1, 3, count), ...records]);
    const cases: Array<[number[], string, number]> = [
      [flow(2, rec), 'sFlow flow sample announces 2 records but holds 1', 36 + 32 + 24],
      [flow(1, long), 'sFlow flow record (40 bytes) runs past its sample', 36 + 32 + 4],
      [counters(2, rec), 'sFlow counter sample announces 2 records but holds 1', 36 + 12 + 24],
      [counters(1, long), 'sFlow counter record (40 bytes) runs past its sample', 36 + 12 + 4],
    ];
    for (const [sample, message, offset] of cases) {
      const r = decode(sflowDatagram({ samples: [sample] }));
      assert.deepEqual(r.ok ? undefined : r.error, { code: 'MALFORMED', message, offset });
    }
  });

  test('short headers and unknown agent address types are typed errors', () => {
    assert.equal(
      (decode(new Uint8Array([0, 0, 0, 5])) as { error?: { code: string } }).error?.code,
      'TRUNCATED',
    );
    const d = sflowDatagram({ samples: [] });
    d[7] = 3;
    assert.equal((decode(d) as { error?: { code: string } }).error?.code, 'MALFORMED');
    assert.equal((decode(d.subarray(0, 20)) as { error?: { code: string } }).error?.code, 'MALFORMED');
    const ok = sflowDatagram({ samples: [] });
    assert.equal((decode(ok.subarray(0, 20)) as { error?: { code: string } }).error?.code, 'TRUNCATED');
  });

  test('unknown sample and record formats (vendor enterprises) are skipped by their length', () => {
    const vendor = [...be(4300 * 4096 + 5, 4), ...be(8, 4), 1, 2, 3, 4, 5, 6, 7, 8];
    const r = decode(sflowDatagram({ samples: [vendor, good] }));
    assert.ok(r.ok);
    assert.equal(r.records.length, 1);
  });

  test('fuzz: mutated sFlow datagrams never throw and keep the results sound', () => {
    const state = createDecoderState({ maxSessions: 20 });
    const next = createMutator(sflowSeeds(), 6343);
    for (let i = 0; i < 20_000; i++) {
      const pkt = next();
      let r: DecodeResult;
      try {
        r = decodePacket(pkt, state, { exporter: '10.0.0.1', receivedMs: i });
      } catch (err) {
        assert.fail(`datagram ${Buffer.from(pkt).toString('hex')} threw ${String(err)}`);
      }
      assert.equal(checkResult(r), undefined);
    }
    assert.ok(state.sessions.size <= 20);
    assert.equal(checkBounds(state), undefined);
  });

  test('data-source trackers are bounded across agents, and freed with their evicted sessions', () => {
    const state = createDecoderState({ maxSessions: 3, maxSflowSources: 10 });
    const f = taggedFrame({ src: '10.1.1.5', dst: '10.2.2.9', protocol: 17, payload: 10 });
    for (let agent = 1; agent <= 20; agent++) {
      const samples = [1, 2, 3, 4].map((source) =>
        flowSample({ sourceIndex: source, records: [rawHeader(f)] }),
      );
      const r = decode(sflowDatagram({ agent: `192.0.2.${agent}`, samples }), state);
      assert.equal(r.records.length, 4, 'untracked sources still decode');
      assert.equal(checkBounds(state), undefined);
    }
    assert.ok(state.sflowSources <= 10);
    assert.ok(state.sflowSources >= 8, 'evicted sessions gave their sources back');
  });

  test('fuzz: arbitrary bytes behind an sFlow v5 header never throw (fast-check)', () => {
    const state = createDecoderState();
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 0, 7), fc.uint8Array({ maxLength: 800 }), (addrType, body) => {
        const b = new Uint8Array(8 + body.length);
        b.set([0, 0, 0, 5, 0, 0, 0, addrType]);
        b.set(body, 8);
        return checkResult(decodePacket(b, state, CTX)) === undefined;
      }),
      { numRuns: 3000, seed: 5 },
    );
  });
});
