// sFlow v5 oracle: pmacct's pmacctd (sfprobe plugin) turns a pcap into real sFlow v5 at 1:1 and 1:N;
// tshark's sflow dissector decodes the same datagrams, and every flow sample must agree field by field
// (MACs, VLAN, addresses, ports, protocol, flags, ToS, interfaces, sampling rate, scaled counters); and
// hand-built counter samples agree with tshark counter by counter.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FlowRecord } from '@wardwatch/flow-schema';
import { hasTool as haveTool, sfprobeExport } from '@wardwatch/testkit';
import { decodePacket } from '../decode.ts';
import { SFLOW_VERSION } from '../result.ts';
import { createDecoderState } from '../state.ts';
import { sflowSeeds } from '../test-helpers/sflow-builder.ts';
import { type Frame, generateTraffic } from '../test-helpers/traffic.ts';
import { type TsharkSample, tsharkSflow } from '../test-helpers/tshark.ts';

const START = Date.UTC(2024, 0, 1, 12);
const skip = haveTool('pmacctd') && haveTool('tshark') ? false : 'pmacctd or tshark not installed';

/**
 * Inserts 802.1Q tags after the MACs: one tag, or two (QinQ; both 0x8100, since pmacctd drops frames
 * whose outer tag is 0x88a8: the unit tests cover that one).
 */
function tagged(f: Uint8Array, cvlan: number, svlan?: number): Uint8Array {
  const tags: number[] = [];
  if (svlan !== undefined) tags.push(0x81, 0x00, svlan >> 8, svlan & 0xff);
  tags.push(0x81, 0x00, (3 << 5) | (cvlan >> 8), cvlan & 0xff);
  const out = new Uint8Array(f.length + tags.length);
  out.set(f.subarray(0, 12), 0);
  out.set(tags, 12);
  out.set(f.subarray(12), 12 + tags.length);
  return out;
}

/**
 * Puts IPv6 extension headers between the fixed header and the transport: hop-by-hop (PadN), an atomic
 * fragment header, destination options; `pad` makes the hop-by-hop header that many 8-byte units
 * longer, pushing the transport header past pmacctd's 128-byte sampled header (a truncated header).
 */
function withExtensions(f: Uint8Array, pad = 0): Uint8Array {
  const ip = 14;
  const next = f[ip + 6]!;
  const hbhLen = 8 + pad * 8;
  const hbh = new Uint8Array(hbhLen);
  hbh[0] = 44;
  hbh[1] = pad;
  hbh[2] = 1; // PadN
  hbh[3] = hbhLen - 4;
  const frag = new Uint8Array([60, 0, 0, 0, 0, 0, 0x12, 0x34]);
  const dst = new Uint8Array([next, 0, 1, 4, 0, 0, 0, 0]);
  const ext = new Uint8Array([...hbh, ...frag, ...dst]);
  const out = new Uint8Array(f.length + ext.length);
  out.set(f.subarray(0, ip + 40), 0);
  out.set(ext, ip + 40);
  out.set(f.subarray(ip + 40), ip + 40 + ext.length);
  out[ip + 6] = 0;
  const plen = ((f[ip + 4]! << 8) | f[ip + 5]!) + ext.length;
  out[ip + 4] = plen >> 8;
  out[ip + 5] = plen & 0xff;
  return out;
}

function frames(): Frame[] {
  const base = generateTraffic(11, 200, START);
  return base.map((f, i) => {
    const v6 = f.data[12] === 0x86;
    let data = f.data;
    if (v6 && i % 3 === 0) data = withExtensions(data, [0, 8, 6][(i % 9) / 3]);
    if (i % 4 === 1) data = tagged(data, 100 + (i % 40));
    else if (i % 4 === 2) data = tagged(data, 200 + (i % 40), 3000);
    return { tsMs: f.tsMs, data };
  });
}

function one(s: TsharkSample, key: string): string | undefined {
  return s.fields.get(key)?.[0];
}

function num(v: string | undefined): number {
  return v === undefined ? 0 : Number(v);
}

/** What tshark says the record of a flow sample must hold. */
function expected(s: TsharkSample): Partial<FlowRecord> {
  const f = s.fields;
  const rate = num(one(s, 'sflow.flow_sample.sampling_rate'));
  const input = num(one(s, 'sflow.flow_sample.input_interface'));
  const output = num(one(s, 'sflow.flow_sample.output_interface_value'));
  const vlans = f.get('vlan.id') ?? [];
  const switchVlan = num(one(s, 'sflow_245.vlan.in'));
  const v6 = f.has('ipv6.src');
  let protocol = num(one(s, 'ip.proto'));
  let srcPort = 0;
  let dstPort = 0;
  let tcpFlags = 0;
  if (f.has('tcp.srcport')) {
    protocol = 6;
    srcPort = num(one(s, 'tcp.srcport'));
    dstPort = num(one(s, 'tcp.dstport'));
    tcpFlags = Number(one(s, 'tcp.flags')) & 0xff;
  } else if (f.has('udp.srcport')) {
    protocol = 17;
    srcPort = num(one(s, 'udp.srcport'));
    dstPort = num(one(s, 'udp.dstport'));
  } else if (f.has('icmpv6.type')) {
    protocol = 58;
    dstPort = num(one(s, 'icmpv6.type')) * 256 + num(one(s, 'icmpv6.code'));
  } else if (f.has('icmp.type')) {
    protocol = 1;
    dstPort = num(one(s, 'icmp.type')) * 256 + num(one(s, 'icmp.code'));
  } else if (v6) {
    // Transport header cut off by the sampled header's length: follow tshark's next-header chain to
    // the last header it could read.
    const ext: Record<number, string> = { 0: 'hopopts', 43: 'routing', 44: 'fraghdr', 60: 'dstopts' };
    protocol = num(one(s, 'ipv6.nxt'));
    for (let hop = 0; hop < 8 && ext[protocol] && f.has(`ipv6.${ext[protocol]}.nxt`); hop++)
      protocol = num(one(s, `ipv6.${ext[protocol]}.nxt`));
  }
  const length = v6 ? num(one(s, 'ipv6.plen')) + 40 : num(one(s, 'ip.len'));
  return {
    exporter: s.agent,
    observationDomain: num(s.subAgentId),
    srcMac: one(s, 'eth.src') ?? '',
    dstMac: one(s, 'eth.dst') ?? '',
    srcVlan: switchVlan !== 0 ? switchVlan : num(vlans[vlans.length - 1]),
    srcAddr: one(s, v6 ? 'ipv6.src' : 'ip.src') ?? '',
    dstAddr: one(s, v6 ? 'ipv6.dst' : 'ip.dst') ?? '',
    protocol,
    srcPort,
    dstPort,
    tcpFlags,
    tos: v6 ? Number(one(s, 'ipv6.tclass')) : Number(one(s, 'ip.dsfield')),
    inputIf: input === 0x3fffffff ? 0 : input,
    outputIf: output === 0x3fffffff ? 0 : output,
    samplingRate: rate,
    // One sampled packet, unscaled (consumers scale by samplingRate; scaleCounters is off).
    packets: 1,
    bytes: length,
  };
}

function pick(r: FlowRecord, keys: readonly string[]): Partial<FlowRecord> {
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = r[k as keyof FlowRecord];
  return out as Partial<FlowRecord>;
}

describe('sFlow v5 from pmacctd sfprobe agrees with tshark on every sample', { skip }, () => {
  const input = frames();

  for (const rate of [1, 10]) {
    test(`sampling 1:${rate}`, async () => {
      const { datagrams, port } = await sfprobeExport(input, {
        samplingRate: rate,
        agent: '192.0.2.10',
        subAgentId: 3,
        ifIndex: 7,
        direction: 'in',
      });
      assert.ok(datagrams.length > 0, 'pmacctd exported nothing');
      const state = createDecoderState();
      const records: FlowRecord[] = [];
      for (const d of datagrams) {
        const r = decodePacket(d, state, { exporter: '127.0.0.1', receivedMs: START });
        assert.ok(r.ok, r.ok ? '' : r.error.message);
        assert.equal(r.version, SFLOW_VERSION);
        assert.deepEqual(r.agent, { address: '192.0.2.10', subAgentId: 3 });
        records.push(...r.records);
      }
      const { flows } = await tsharkSflow(datagrams, port);
      assert.equal(records.length, flows.length, 'one record per flow sample');
      let agree = 0;
      for (let i = 0; i < flows.length; i++) {
        const want = expected(flows[i]!);
        assert.deepEqual(pick(records[i]!, Object.keys(want)), want, `sample ${i}`);
        agree++;
      }
      // Every kind of header was seen: tagged, QinQ, IPv6 with extension headers, truncated transport.
      // QinQ: pmacctd's extended switch record names the outer VLAN, and the switch's word wins.
      assert.ok(records.some((r) => r.srcVlan === 3000));
      assert.ok(records.some((r) => r.srcVlan >= 100 && r.srcVlan < 140));
      assert.ok(records.every((r) => r.srcMac !== '' && r.inputIf === 7));
      if (rate === 1) {
        // 1:1: each sample is the next frame of the pcap (pmacctd loses a few at the end of the file),
        // with the frame's IP length as bytes.
        for (let i = 0; i < records.length; i++) {
          const d = input[i]!.data;
          let l2 = 14;
          while (d[l2 - 2] === 0x81 && d[l2 - 1] === 0x00) l2 += 4;
          assert.equal(records[i]!.bytes, d.length - l2, `frame ${i}`);
        }
        assert.ok(records.length >= input.length - 8, `${records.length} samples of ${input.length} frames`);
        // Truncated inside the extension headers (the next header is all that is known), and just
        // before the transport header (protocol known, no ports).
        assert.ok(records.some((r) => r.srcAddr.includes(':') && r.protocol === 44 && r.dstPort === 0));
        assert.ok(records.some((r) => r.srcAddr.includes(':') && r.protocol === 6 && r.dstPort === 0));
        assert.ok(records.every((r) => r.packets === 1 && r.samplingRate === 1));
      } else {
        assert.ok(records.every((r) => r.packets === 1 && r.samplingRate === rate));
        assert.ok(records.length > 0 && records.length < input.length / 2);
      }
      console.log(`sFlow 1:${rate}: ${agree}/${flows.length} samples agree with tshark`);
    });
  }
});

describe('sFlow v5 counter samples agree with tshark', {
  skip: haveTool('tshark') ? false : 'tshark not installed',
}, () => {
  test('generic interface and Ethernet counters, compact and expanded samples', async () => {
    const datagrams = sflowSeeds();
    const { counters } = await tsharkSflow(datagrams, 6343);
    const ours = datagrams.flatMap(
      (d) => decodePacket(d, createDecoderState(), { exporter: '127.0.0.1', receivedMs: 0 }).counters ?? [],
    );
    assert.equal(ours.length, counters.length);
    assert.ok(ours.length >= 2);
    counters.forEach((s, i) => {
      const c = ours[i]!;
      const n = (k: string) => num(one(s, `sflow_245.${k}`));
      assert.deepEqual(
        [
          c.ifIndex,
          c.ifType,
          c.ifSpeed,
          c.ifDirection,
          c.adminUp,
          c.operUp,
          c.inOctets,
          c.inUcastPkts,
          c.inMulticastPkts,
          c.inBroadcastPkts,
          c.inDiscards,
          c.inErrors,
          c.inUnknownProtos,
          c.outOctets,
          c.outUcastPkts,
          c.outMulticastPkts,
          c.outBroadcastPkts,
          c.outDiscards,
          c.outErrors,
          c.promiscuous,
          c.alignmentErrors,
          c.fcsErrors,
          c.lateCollisions,
          c.symbolErrors,
        ],
        [
          n('ifindex'),
          n('iftype'),
          n('ifspeed'),
          n('ifdirection'),
          n('ifadmin_status') === 1,
          n('ifoper_status') === 1,
          n('ifinoct'),
          n('ifinpkt'),
          n('ifinmcast'),
          n('ifinbcast'),
          n('ifindisc'),
          n('ifinerr'),
          n('ifinunk'),
          n('ifoutoct'),
          n('ifoutpkt'),
          n('ifoutmcast'),
          n('ifoutbcast'),
          n('ifoutdisc'),
          n('ifouterr'),
          n('ifpromisc') === 1,
          n('dot3StatsAlignmentErrors'),
          n('dot3StatsFCSErrors'),
          n('dot3StatsLateCollisions'),
          n('dot3StatsSymbolErrors'),
        ],
        `counter sample ${i}`,
      );
    });
  });
});
