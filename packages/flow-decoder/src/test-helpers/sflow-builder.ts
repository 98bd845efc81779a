// Test helpers: build sFlow v5 datagrams (XDR, big-endian, 4-byte aligned) by hand.
import { be, v4 } from './build.ts';
import { ethernetFrame, type PacketSpec } from './pcap-writer.ts';

function pad(bytes: number[]): number[] {
  const out = [...bytes];
  while (out.length % 4 !== 0) out.push(0);
  return out;
}

/** One record or sample: data_format (enterprise << 12 | format), length, body. */
export function tlv(format: number, body: number[], enterprise = 0): number[] {
  return [...be(enterprise * 4096 + format, 4), ...be(body.length, 4), ...body];
}

/** The sFlow datagram header and its samples; an IPv6 agent when `agent` has a colon. */
export function sflowDatagram(o: {
  agent?: string;
  agentV6?: number[];
  subAgentId?: number;
  seq?: number;
  uptimeMs?: number;
  samples: number[][];
}): Uint8Array {
  const addr =
    o.agentV6 !== undefined ? [...be(2, 4), ...o.agentV6] : [...be(1, 4), ...v4(o.agent ?? '192.0.2.1')];
  return new Uint8Array([
    ...be(5, 4),
    ...addr,
    ...be(o.subAgentId ?? 0, 4),
    ...be(o.seq ?? 1, 4),
    ...be(o.uptimeMs ?? 1000, 4),
    ...be(o.samples.length, 4),
    ...o.samples.flat(),
  ]);
}

/** A flow sample (0:1), or an expanded one (0:3) when `expanded`. */
export function flowSample(o: {
  seq?: number;
  sourceType?: number;
  sourceIndex?: number;
  rate?: number;
  pool?: number;
  drops?: number;
  input?: number;
  output?: number;
  /** Interface formats (expanded) or the 2 top bits (compact): 0 ifIndex, 1 discarded, 2 multiple. */
  inputFormat?: number;
  outputFormat?: number;
  expanded?: boolean;
  records: number[][];
}): number[] {
  const head = o.expanded
    ? [
        ...be(o.seq ?? 1, 4),
        ...be(o.sourceType ?? 0, 4),
        ...be(o.sourceIndex ?? 1, 4),
        ...be(o.rate ?? 1, 4),
        ...be(o.pool ?? 1, 4),
        ...be(o.drops ?? 0, 4),
        ...be(o.inputFormat ?? 0, 4),
        ...be(o.input ?? 0, 4),
        ...be(o.outputFormat ?? 0, 4),
        ...be(o.output ?? 0, 4),
      ]
    : [
        ...be(o.seq ?? 1, 4),
        ...be((o.sourceType ?? 0) * 0x1000000 + (o.sourceIndex ?? 1), 4),
        ...be(o.rate ?? 1, 4),
        ...be(o.pool ?? 1, 4),
        ...be(o.drops ?? 0, 4),
        ...be((o.inputFormat ?? 0) * 0x40000000 + (o.input ?? 0), 4),
        ...be((o.outputFormat ?? 0) * 0x40000000 + (o.output ?? 0), 4),
      ];
  return tlv(o.expanded ? 3 : 1, [...head, ...be(o.records.length, 4), ...o.records.flat()]);
}

/** A raw packet header record (0:1) holding the first `snap` bytes of `frame`. */
export function rawHeader(frame: Uint8Array, snap = 128, protocol = 1, stripped = 4): number[] {
  const h = [...frame.subarray(0, Math.min(snap, frame.length))];
  return tlv(1, [
    ...be(protocol, 4),
    ...be(frame.length + stripped, 4),
    ...be(stripped, 4),
    ...be(h.length, 4),
    ...pad(h),
  ]);
}

/** An Ethernet frame (see `ethernetFrame`) with 802.1Q tags after the MACs, outermost first. */
export function taggedFrame(p: PacketSpec, tags: { tpid: number; vlan: number }[] = []): Uint8Array {
  const f = ethernetFrame(p);
  const t = tags.flatMap(({ tpid, vlan }) => [...be(tpid, 2), ...be(vlan, 2)]);
  const out = new Uint8Array(f.length + t.length);
  out.set(f.subarray(0, 12), 0);
  out.set(t, 12);
  out.set(f.subarray(12), 12 + t.length);
  return out;
}

/** Extended switch (0:1001). */
export function extendedSwitch(srcVlan: number, dstVlan: number): number[] {
  return tlv(1001, [...be(srcVlan, 4), ...be(0, 4), ...be(dstVlan, 4), ...be(0, 4)]);
}

/** A counters sample (0:2), or an expanded one (0:4), with generic interface and Ethernet records. */
export function counterSample(o: {
  seq?: number;
  ifIndex: number;
  expanded?: boolean;
  speed?: number;
  status?: number;
  inOctets?: bigint;
  outOctets?: bigint;
  inErrors?: number;
  outDiscards?: number;
  fcsErrors?: number;
  ethernet?: boolean;
}): number[] {
  const generic = tlv(1, [
    ...be(o.ifIndex, 4),
    ...be(6, 4),
    ...be(BigInt(o.speed ?? 1e9), 8),
    ...be(1, 4),
    ...be(o.status ?? 3, 4),
    ...be(o.inOctets ?? 0n, 8),
    ...be(10, 4),
    ...be(11, 4),
    ...be(12, 4),
    ...be(13, 4),
    ...be(o.inErrors ?? 0, 4),
    ...be(15, 4),
    ...be(o.outOctets ?? 0n, 8),
    ...be(20, 4),
    ...be(21, 4),
    ...be(22, 4),
    ...be(o.outDiscards ?? 0, 4),
    ...be(24, 4),
    ...be(0, 4),
  ]);
  const eth = tlv(2, [
    ...be(1, 4),
    ...be(o.fcsErrors ?? 0, 4),
    ...be(0, 4 * 5),
    ...be(7, 4),
    ...be(0, 4 * 5),
  ]);
  const records = o.ethernet === false ? [generic] : [generic, eth];
  const head = o.expanded
    ? [...be(o.seq ?? 1, 4), ...be(0, 4), ...be(o.ifIndex, 4)]
    : [...be(o.seq ?? 1, 4), ...be(o.ifIndex, 4)];
  return tlv(o.expanded ? 4 : 2, [...head, ...be(records.length, 4), ...records.flat()]);
}

/** A few well-formed datagrams of every sample and record kind, as fuzzing seeds. */
export function sflowSeeds(): Uint8Array[] {
  const tcp = taggedFrame(
    { src: '10.1.1.5', dst: '10.2.2.9', protocol: 6, srcPort: 40000, dstPort: 443, payload: 200 },
    [
      { tpid: 0x88a8, vlan: 3000 },
      { tpid: 0x8100, vlan: 20 },
    ],
  );
  const v6 = taggedFrame({
    src: '2001:db8::5',
    dst: '2001:db8::9',
    protocol: 17,
    srcPort: 5353,
    dstPort: 53,
    payload: 40,
  });
  const icmp = taggedFrame({ src: '10.1.1.5', dst: '10.1.1.1', protocol: 1, payload: 56 }, [
    { tpid: 0x8100, vlan: 5 },
  ]);
  return [
    sflowDatagram({
      samples: [
        flowSample({ rate: 64, input: 3, output: 4, records: [rawHeader(tcp), extendedSwitch(20, 20)] }),
        flowSample({ expanded: true, seq: 2, rate: 512, input: 7, records: [rawHeader(v6, 60)] }),
        flowSample({ seq: 3, records: [rawHeader(icmp, 30)] }),
        counterSample({ ifIndex: 3, inOctets: 123456789n }),
        counterSample({ ifIndex: 4, expanded: true }),
      ],
    }),
    sflowDatagram({
      agentV6: [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1],
      subAgentId: 2,
      samples: [
        flowSample({
          records: [
            tlv(2, [...be(1514, 4), 2, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, ...be(0x0800, 4)]),
            tlv(3, [
              ...be(1500, 4),
              ...be(6, 4),
              ...v4('10.0.0.1'),
              ...v4('10.0.0.2'),
              ...be(1, 4),
              ...be(2, 4),
              ...be(0x12, 4),
              ...be(0, 4),
            ]),
            tlv(1002, [...be(1, 4), ...v4('10.0.0.254'), ...be(24, 4), ...be(16, 4)]),
            tlv(1003, [
              ...be(1, 4),
              ...v4('10.0.0.254'),
              ...be(65000, 4),
              ...be(65001, 4),
              ...be(65002, 4),
              ...be(1, 4),
              ...be(2, 4),
              ...be(2, 4),
              ...be(65003, 4),
              ...be(65004, 4),
              ...be(0, 4),
              ...be(100, 4),
            ]),
          ],
        }),
      ],
    }),
  ];
}
