// Unit behaviour of the decoder: every protocol feature on hand-built packets.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodePacket, expireHeld } from './decode.ts';
import { describeField } from './describe.ts';
import { ipv6Format } from './format.ts';
import { informationElement } from './iana/elements.ts';
import type { DecodeResult } from './result.ts';
import { splitExportPackets } from './split.ts';
import { createDecoderState, type DecoderState, exportTemplates, importTemplates } from './state.ts';
import {
  be,
  dataSet,
  ipfix,
  ipfixTemplateSet,
  ipfixWithdrawalSet,
  type Spec,
  v4,
  v5,
  v9,
  v9OptionsTemplateSet,
  v9TemplateSet,
} from './test-helpers/build.ts';

const ctx = (receivedMs = 0, exporter = '192.0.2.1') => ({ exporter, receivedMs });

function ok(r: DecodeResult): Extract<DecodeResult, { ok: true }> {
  assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.message}`);
  return r;
}

// A small IPv4 flow template: src, dst, sport, dport, proto, bytes, packets.
const FLOW: Spec[] = [
  [8, 4],
  [12, 4],
  [7, 2],
  [11, 2],
  [4, 1],
  [1, 8],
  [2, 4],
];
const flowRec = (i: number) => [
  ...v4(`10.0.0.${i}`),
  ...v4(`10.0.1.${i}`),
  ...be(1000 + i, 2),
  ...be(53, 2),
  17,
  ...be(100 * i, 8),
  ...be(i, 4),
];

describe('NetFlow v5', () => {
  test('decodes header and records: times, sampling, engine as domain', () => {
    const r = ok(decodePacket(v5({ count: 2, sampling: 0x4000 | 10 }), createDecoderState(), ctx()));
    assert.equal(r.records.length, 2);
    const x = r.records[1]!;
    assert.equal(x.srcAddr, '10.0.0.2');
    assert.equal(x.dstAddr, '10.1.0.2');
    assert.equal(x.nextHop, '10.9.9.9');
    assert.equal(x.bytes, 200);
    assert.equal(x.packets, 2);
    assert.equal(x.srcPort, 40002);
    assert.equal(x.tcpFlags, 0x12);
    assert.equal(x.protocol, 6);
    assert.equal(x.srcAs, 65001);
    assert.equal(x.srcMask, 24);
    assert.equal(x.observationDomain, 0x0102);
    assert.equal(x.samplingRate, 10);
    // boot = export time (1.7e9 s + 500 ms) - uptime 100 s; first switched at 90 s.
    assert.equal(x.startMs, 1_700_000_000_500 - 100_000 + 90_000);
    assert.equal(x.endMs, 1_700_000_000_500 - 100_000 + 99_000);
  });

  test('scaleCounters multiplies by the sampling interval and keeps the rate', () => {
    const r = ok(
      decodePacket(
        v5({ count: 1, sampling: 0x4000 | 10 }),
        createDecoderState({ scaleCounters: true }),
        ctx(),
      ),
    );
    assert.equal(r.records[0]!.bytes, 1000);
    assert.equal(r.records[0]!.samplingRate, 10);
  });

  test('sequence loss is counted in flows; truncated and bad-count packets are typed errors', () => {
    const state = createDecoderState({ reorderWindowRecords: 0 });
    let lost = 0;
    for (const seq of [0, 2, 4, 10])
      lost += decodePacket(v5({ seq, count: 2 }), state, ctx()).stats.sequenceLost;
    assert.equal(lost, 4);
    const short = decodePacket(v5({ count: 2 }).slice(0, 60), state, ctx());
    assert.ok(!short.ok && short.error.code === 'TRUNCATED');
    const bad = v5({ count: 1 });
    bad[3] = 31;
    const r = decodePacket(bad, state, ctx());
    assert.ok(!r.ok && r.error.code === 'MALFORMED');
    assert.equal(r.stats.sequenceUnit, 'flows');
  });
});

describe('NetFlow v9', () => {
  test('templates, uptime-relative times, zero padding and count-as-flowsets quirk', () => {
    const state = createDecoderState();
    const tpl = v9TemplateSet([{ id: 300, fields: [...FLOW, [22, 4], [21, 4]] }]);
    const rec = [...flowRec(1), ...be(40_000, 4), ...be(50_000, 4)];
    const pkt = v9(
      { uptime: 60_000, secs: 1_700_000_000 },
      tpl,
      dataSet(300, [rec], 2),
      new Array(40).fill(0),
    );
    const r = ok(decodePacket(pkt, state, ctx()));
    assert.equal(r.stats.templatesLearned, 1);
    assert.equal(r.records.length, 1);
    const x = r.records[0]!;
    assert.equal(x.templateId, 300);
    assert.equal(x.bytes, 100);
    assert.equal(x.startMs, 1_700_000_000_000 - 60_000 + 40_000);
    assert.equal(x.endMs, 1_700_000_000_000 - 60_000 + 50_000);
  });

  test('802.1Q VLAN elements 243/254 fill the VLAN columns; vlanId/postVlanId 58/59 take precedence', () => {
    // Cisco Flexible NetFlow `collect datalink dot1q vlan input|output` exports dot1qVlanId (243) and
    // postDot1qVlanId (254), not vlanId/postVlanId (58/59).
    const state = createDecoderState();
    const tpl = v9TemplateSet([
      {
        id: 300,
        fields: [
          [8, 4],
          [12, 4],
          [243, 2],
          [254, 2],
        ],
      },
      {
        // Both kinds in one template, 243/254 before and after 58/59.
        id: 301,
        fields: [
          [8, 4],
          [243, 2],
          [58, 2],
          [59, 2],
          [254, 2],
        ],
      },
    ]);
    const pkt = v9(
      {},
      tpl,
      dataSet(300, [[...v4('10.0.0.1'), ...v4('10.0.0.2'), ...be(20, 2), ...be(30, 2)]]),
      dataSet(301, [
        [...v4('10.0.0.3'), ...be(20, 2), ...be(21, 2), ...be(31, 2), ...be(30, 2)],
        // 58/59 present but 0 (untagged): the 802.1Q values stand.
        [...v4('10.0.0.4'), ...be(20, 2), ...be(0, 2), ...be(0, 2), ...be(30, 2)],
      ]),
    );
    const r = ok(decodePacket(pkt, state, ctx()));
    assert.deepEqual(
      r.records.map((x) => [x.srcAddr, x.srcVlan, x.dstVlan, x.extra]),
      [
        ['10.0.0.1', 20, 30, undefined],
        ['10.0.0.3', 21, 31, undefined],
        ['10.0.0.4', 20, 30, undefined],
      ],
    );
  });

  test('first/last switched from before a sysUpTime wrap stay in the past', () => {
    const state = createDecoderState();
    const tpl = v9TemplateSet([
      {
        id: 300,
        fields: [
          [8, 4],
          [22, 4],
          [21, 4],
        ],
      },
    ]);
    // Uptime wrapped 1 s ago; the flow started 3 s ago (before the wrap).
    const rec = [...v4('10.0.0.1'), ...be(2 ** 32 - 2000, 4), ...be(500, 4)];
    const r = ok(
      decodePacket(v9({ uptime: 1000, secs: 1_700_000_000 }, tpl, dataSet(300, [rec])), state, ctx()),
    );
    assert.equal(r.records[0]!.startMs, 1_700_000_000_000 - 3000);
    assert.equal(r.records[0]!.endMs, 1_700_000_000_000 - 500);
  });

  test('options data sets the sampling rate of flows, per sampler id', () => {
    const state = createDecoderState();
    // Scope: system (type 1, 4 bytes); options: samplerId (48), samplerRandomInterval (50).
    const opt = v9OptionsTemplateSet(
      400,
      [[1, 4]],
      [
        [48, 1],
        [50, 4],
      ],
    );
    const optData = dataSet(400, [
      [...be(0, 4), 1, ...be(100, 4)],
      [...be(0, 4), 2, ...be(1000, 4)],
    ]);
    const tpl = v9TemplateSet([{ id: 300, fields: [...FLOW, [48, 1]] }]);
    const flows = dataSet(300, [
      [...flowRec(1), 1],
      [...flowRec(2), 2],
      [...flowRec(3), 9],
    ]);
    const r = ok(decodePacket(v9({}, opt, optData, tpl, flows), state, ctx()));
    assert.equal(r.options.length, 2);
    assert.deepEqual(
      r.records.map((x) => x.samplingRate),
      [100, 1000, 1],
    );
  });

  test('sequence loss is counted in packets once past the reorder window; late packets fill their gap', () => {
    const state = createDecoderState({ reorderWindowPackets: 2 });
    const tpl = v9TemplateSet([{ id: 300, fields: FLOW }]);
    const seqs = [0, 1, 3, 2, 4, 7, 8, 9, 10];
    const lost = seqs.map((seq) => decodePacket(v9({ seq }, tpl), state, ctx()).stats);
    assert.equal(
      lost.reduce((a, s) => a + s.sequenceLost, 0),
      2,
      'packets 5 and 6',
    );
    assert.equal(
      lost.reduce((a, s) => a + s.sequenceReordered, 0),
      1,
      'packet 2 arrived late',
    );
    assert.equal(lost[0]!.sequenceUnit, 'packets');
    // A restart (sequence far behind) is not loss.
    const r = decodePacket(v9({ seq: 0 }, tpl), state, ctx());
    assert.equal(r.stats.sequenceResets, 1);
    assert.equal(r.stats.sequenceLost, 0);
  });
});

describe('IPFIX', () => {
  test('variable-length, enterprise and RFC 5103 reverse fields; set padding', () => {
    const state = createDecoderState();
    const fields: Spec[] = [
      [8, 4],
      [1, 4],
      [1, 4, 29305],
      [2, 2, 29305],
      [96, 65535],
      [100, 65535, 9999],
      [6, 2, 29305],
    ];
    const name = [...Buffer.from('https')];
    const long = new Array(300).fill(0x41);
    const rec1 = [
      ...v4('10.0.0.1'),
      ...be(500, 4),
      ...be(700, 4),
      ...be(7, 2),
      name.length,
      ...name,
      3,
      1,
      2,
      3,
      0,
      0x12,
    ];
    const rec2 = [
      ...v4('10.0.0.2'),
      ...be(5, 4),
      ...be(0, 4),
      ...be(0, 2),
      255,
      ...be(long.length, 2),
      ...long,
      0,
      0,
      0,
    ];
    const pkt = ipfix({}, ipfixTemplateSet([{ id: 256, fields }]), dataSet(256, [rec1, rec2], 3));
    const r = ok(decodePacket(pkt, state, ctx()));
    assert.equal(r.records.length, 2);
    const [a, b] = r.records;
    assert.equal(a!.bytes, 500);
    assert.equal(a!.reverseBytes, 700);
    assert.equal(a!.reversePackets, 7);
    const ex = a!.extra!.map(describeField);
    assert.deepEqual(
      ex.map((e) => [e.name, e.value]),
      [
        ['applicationName', 'https'],
        ['9999.100', '010203'],
        ['reverseTcpControlBits', 18],
      ],
    );
    assert.equal(b!.extra![0]!.value.length, 300);
    assert.equal(b!.extra![1]!.value.length, 0);
  });

  test('IPv4-mapped IPv6 addresses are written as their IPv4 address, like plain IPv4 exports', () => {
    // An exporter that reports IPv4 hosts in IPv6 fields (::ffff:a.b.c.d) must name the same
    // hosts as one that reports them in IPv4 fields: device identity and partitioning use the text.
    const state = createDecoderState();
    const mapped = (a: string) => [...new Array(10).fill(0), 0xff, 0xff, ...v4(a)];
    const hex = (s: string) => [...Buffer.from(s, 'hex')];
    const V6: Spec[] = [
      [27, 16],
      [28, 16],
      [62, 16],
      [1, 4],
    ];
    const pkt = ipfix(
      {},
      ipfixTemplateSet([
        { id: 256, fields: V6 },
        { id: 257, fields: FLOW },
      ]),
      dataSet(256, [
        [...mapped('10.0.0.1'), ...mapped('192.0.2.7'), ...mapped('10.9.9.9'), ...be(1, 4)],
        // Not mapped: ::ffff:0:a00:1 (SIIT, 0xffff in bytes 8..9) and ::a00:1 (deprecated compatible).
        [
          ...hex('00000000000000000000ffff00000000'),
          ...hex('00000000000000000000000000000000'),
          ...hex('000000000000000000000000'),
          ...v4('10.0.0.1'),
          ...be(2, 4),
        ],
        [
          ...hex('0000000000000000ffff00000a000001'),
          ...hex('00000000000000000000000000000000'),
          ...hex('2001'),
          ...new Array(14).fill(0),
          ...be(3, 4),
        ],
      ]),
      dataSet(257, [flowRec(1)]),
    );
    const r = ok(decodePacket(pkt, state, ctx()));
    assert.deepEqual(
      r.records.map((x) => [x.srcAddr, x.dstAddr, x.nextHop]),
      [
        ['10.0.0.1', '192.0.2.7', '10.9.9.9'],
        ['0.0.0.0', '::', '::a00:1'],
        ['::ffff:0:a00:1', '::', '2001::'],
        ['10.0.0.1', '10.0.1.1', ''],
      ],
    );
    assert.equal(
      describeField({ id: 27, pen: 0, value: Uint8Array.from(mapped('10.0.0.1')) }).value,
      '10.0.0.1',
    );
  });

  test('template withdrawal: one id, then all data templates', () => {
    const state = createDecoderState();
    const tpls = ipfixTemplateSet([
      { id: 256, fields: FLOW },
      { id: 257, fields: FLOW },
      { id: 258, fields: FLOW },
    ]);
    assert.equal(ok(decodePacket(ipfix({}, tpls), state, ctx())).stats.templatesLearned, 3);
    const w1 = ok(decodePacket(ipfix({}, ipfixWithdrawalSet([256])), state, ctx()));
    assert.equal(w1.stats.templatesWithdrawn, 1);
    assert.deepEqual(w1.withdrawn, [256], 'the result names what the exporter withdrew');
    const d = ok(
      decodePacket(ipfix({}, dataSet(256, [flowRec(1)]), dataSet(257, [flowRec(2)])), state, ctx()),
    );
    assert.equal(d.records.length, 1);
    assert.equal(d.stats.unknownTemplateSets, 1);
    assert.equal(d.withdrawn, undefined);
    const all = ok(decodePacket(ipfix({}, ipfixWithdrawalSet([2])), state, ctx()));
    assert.equal(all.stats.templatesWithdrawn, 2);
    assert.deepEqual(all.withdrawn, [257, 258]);
    assert.equal(exportTemplates(state).sessions.length, 0);
  });

  test('every time form: seconds, milli, micro, nano (NTP), delta, sysUpTime with systemInitTime, duration', () => {
    const state = createDecoderState();
    const t0 = 1_700_000_000_000;
    const ntp = (ms: number) => [
      ...be(Math.floor(ms / 1000) + 2208988800, 4),
      ...be(Math.round(((ms % 1000) / 1000) * 2 ** 32), 4),
    ];
    const cases: [Spec[], number[], number, number][] = [
      [
        [
          [150, 4],
          [151, 4],
        ],
        [...be(t0 / 1000, 4), ...be(t0 / 1000 + 2, 4)],
        t0,
        t0 + 2000,
      ],
      [
        [
          [152, 8],
          [153, 8],
        ],
        [...be(t0 + 1, 8), ...be(t0 + 5, 8)],
        t0 + 1,
        t0 + 5,
      ],
      [
        [
          [154, 8],
          [155, 8],
        ],
        [...ntp(t0 + 250), ...ntp(t0 + 750)],
        t0 + 250,
        t0 + 750,
      ],
      [
        [
          [156, 8],
          [157, 8],
        ],
        [...ntp(t0 + 10), ...ntp(t0 + 20)],
        t0 + 10,
        t0 + 20,
      ],
      // Deltas are microseconds before the export time (1_700_000_100 s).
      [
        [
          [158, 4],
          [159, 4],
        ],
        [...be(3_000_000, 4), ...be(1_000_000, 4)],
        1_700_000_097_000,
        1_700_000_099_000,
      ],
      [
        [
          [152, 8],
          [161, 4],
        ],
        [...be(t0, 8), ...be(1500, 4)],
        t0,
        t0 + 1500,
      ],
      [
        [
          [160, 8],
          [22, 4],
          [21, 4],
        ],
        [...be(t0, 8), ...be(100, 4), ...be(900, 4)],
        t0 + 100,
        t0 + 900,
      ],
    ];
    cases.forEach(([fields, data, start, end], i) => {
      const id = 256 + i;
      const pkt = ipfix(
        { exportSecs: 1_700_000_100 },
        ipfixTemplateSet([{ id, fields }]),
        dataSet(id, [data]),
      );
      const x = ok(decodePacket(pkt, state, ctx())).records[0]!;
      assert.deepEqual([x.startMs, x.endMs], [start, end], `case ${i}`);
    });
  });

  test('systemInitTimeMilliseconds from options data anchors sysUpTime times of later records', () => {
    const state = createDecoderState();
    const t0 = 1_700_000_000_000;
    const opt = ipfixTemplateSet(
      [
        {
          id: 400,
          scope: 1,
          fields: [
            [149, 4],
            [160, 8],
          ],
        },
      ],
      3,
    );
    const tpl = ipfixTemplateSet([
      {
        id: 256,
        fields: [
          [8, 4],
          [22, 4],
          [21, 4],
        ],
      },
    ]);
    const pkt = ipfix(
      {},
      opt,
      dataSet(400, [[...be(0, 4), ...be(t0, 8)]]),
      tpl,
      dataSet(256, [[...v4('10.0.0.1'), ...be(1000, 4), ...be(2000, 4)]]),
    );
    const r = ok(decodePacket(pkt, state, ctx()));
    assert.deepEqual([r.records[0]!.startMs, r.records[0]!.endMs], [t0 + 1000, t0 + 2000]);
  });

  test('sampling from options: selectorId with samplingPacketInterval/Space, flows carry selectorId', () => {
    const state = createDecoderState({ scaleCounters: true });
    const opt = ipfixTemplateSet(
      [
        {
          id: 400,
          scope: 1,
          fields: [
            [302, 4],
            [305, 4],
            [306, 4],
          ],
        },
      ],
      3,
    );
    const optData = dataSet(400, [[...be(7, 4), ...be(1, 4), ...be(99, 4)]]);
    const tpl = ipfixTemplateSet([{ id: 256, fields: [...FLOW, [302, 4]] }]);
    const r = ok(
      decodePacket(ipfix({}, opt, optData, tpl, dataSet(256, [[...flowRec(1), ...be(7, 4)]])), state, ctx()),
    );
    assert.equal(r.records[0]!.samplingRate, 100);
    assert.equal(r.records[0]!.bytes, 10_000);
    assert.equal(r.records[0]!.packets, 100);
  });

  test('sequence loss is counted in data records', () => {
    const state = createDecoderState({ reorderWindowRecords: 0 });
    const tpl = ipfixTemplateSet([{ id: 256, fields: FLOW }]);
    ok(decodePacket(ipfix({ seq: 0 }, tpl, dataSet(256, [flowRec(1), flowRec(2)])), state, ctx()));
    const r = ok(decodePacket(ipfix({ seq: 5 }, dataSet(256, [flowRec(3)])), state, ctx()));
    assert.equal(r.stats.sequenceLost, 3);
    assert.equal(r.stats.sequenceUnit, 'records');
    assert.equal(
      ok(decodePacket(ipfix({ seq: 6 }, dataSet(256, [flowRec(3)])), state, ctx())).stats.sequenceLost,
      0,
    );
  });

  test('malformed messages are typed errors that keep the records before the fault', () => {
    const state = createDecoderState();
    const good = ipfix({}, ipfixTemplateSet([{ id: 256, fields: FLOW }]), dataSet(256, [flowRec(1)]));
    const lying = Uint8Array.from([...good, ...be(256, 2), ...be(400, 2), ...flowRec(2)]);
    lying[2] = lying.length >> 8;
    lying[3] = lying.length & 0xff;
    const r = decodePacket(lying, state, ctx());
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'TRUNCATED');
    assert.equal(r.records.length, 2, 'the set is clamped to the message');
    const zero = Uint8Array.from([...good.slice(0, 16), ...be(256, 2), 0, 2, 1, 2, 3, 4]);
    zero[3] = zero.length;
    const z = decodePacket(zero, state, ctx());
    assert.ok(!z.ok && z.error.code === 'MALFORMED');
    const lowId = decodePacket(ipfix({}, ipfixTemplateSet([{ id: 5, fields: FLOW }])), state, ctx());
    assert.ok(!lowId.ok && lowId.error.code === 'MALFORMED' && lowId.stats.templatesRejected === 1);
    for (const b of [new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(0, 10, 0)]) {
      const e = decodePacket(b, state, ctx());
      assert.ok(!e.ok && e.error.code === 'TRUNCATED');
    }
    const v1 = decodePacket(Uint8Array.of(0, 1, 0, 0), state, ctx());
    assert.ok(!v1.ok && v1.error.code === 'UNSUPPORTED_VERSION');
  });
});

describe('template scope and held data', () => {
  test('templates are scoped by exporter address and domain, not the source port', () => {
    const state = createDecoderState();
    ok(
      decodePacket(
        ipfix({ domain: 1 }, ipfixTemplateSet([{ id: 256, fields: FLOW }])),
        state,
        ctx(0, '192.0.2.1'),
      ),
    );
    const data = (domain: number) => ipfix({ domain }, dataSet(256, [flowRec(1)]));
    // ctx carries no port: a second source port of the same exporter shares the templates.
    assert.equal(ok(decodePacket(data(1), state, ctx(0, '192.0.2.1'))).records.length, 1);
    assert.equal(ok(decodePacket(data(2), state, ctx(0, '192.0.2.1'))).records.length, 0);
    assert.equal(ok(decodePacket(data(1), state, ctx(0, '192.0.2.2'))).records.length, 0);
  });

  test('data before its template is held and released with its own receive time', () => {
    const state = createDecoderState();
    const early = ok(decodePacket(ipfix({}, dataSet(256, [flowRec(1), flowRec(2)])), state, ctx(1000)));
    assert.equal(early.records.length, 0);
    assert.equal(early.stats.setsHeld, 1);
    const late = ok(decodePacket(ipfix({}, ipfixTemplateSet([{ id: 256, fields: FLOW }])), state, ctx(2000)));
    assert.equal(late.stats.heldSetsReleased, 1);
    assert.equal(late.stats.heldRecordsReleased, 2);
    assert.deepEqual(
      late.records.map((r) => [r.srcAddr, r.receivedMs]),
      [
        ['10.0.0.1', 1000],
        ['10.0.0.2', 1000],
      ],
    );
    assert.equal(state.held.length, 0);
  });

  test('held data expires by age and by count, and is counted', () => {
    const state = createDecoderState({ maxHeldAgeMs: 1000, maxHeldSets: 2 });
    for (let i = 0; i < 3; i++) decodePacket(ipfix({}, dataSet(300 + i, [flowRec(i)])), state, ctx(i));
    assert.equal(state.held.length, 2, 'the oldest was pushed out');
    const r = decodePacket(ipfix({}, ipfixTemplateSet([{ id: 900, fields: FLOW }])), state, ctx(5000));
    assert.equal(r.stats.heldSetsExpired, 2);
    decodePacket(ipfix({}, dataSet(300, [flowRec(1)])), state, ctx(6000));
    assert.equal(expireHeld(state, 6500), 0);
    assert.equal(expireHeld(state, 7001), 1);
    assert.equal(state.heldBytes, 0);
  });

  test('template memory is bounded per exporter and overall', () => {
    const state = createDecoderState({ maxTemplatesPerExporter: 3, maxTemplates: 5 });
    const many = (n: number) =>
      ipfixTemplateSet(Array.from({ length: n }, (_, i) => ({ id: 256 + i, fields: FLOW })));
    const a = ok(decodePacket(ipfix({}, many(5)), state, ctx(0, '192.0.2.1')));
    assert.equal(a.stats.templatesLearned, 3);
    assert.equal(a.stats.templatesRejected, 2);
    ok(decodePacket(ipfix({}, many(3)), state, ctx(0, '192.0.2.2')));
    // The third exporter pushes out the least recently active one.
    ok(decodePacket(ipfix({}, many(2)), state, ctx(0, '192.0.2.3')));
    assert.ok(state.templateCount <= 5);
    assert.equal(
      ok(decodePacket(ipfix({}, dataSet(256, [flowRec(1)])), state, ctx(0, '192.0.2.1'))).records.length,
      0,
    );
    assert.equal(
      ok(decodePacket(ipfix({}, dataSet(256, [flowRec(1)])), state, ctx(0, '192.0.2.3'))).records.length,
      1,
    );
  });
});

describe('template state export and import', () => {
  function learned(): DecoderState {
    const state = createDecoderState();
    const opt = ipfixTemplateSet(
      [
        {
          id: 400,
          scope: 1,
          fields: [
            [302, 4],
            [305, 4],
            [306, 4],
          ],
        },
      ],
      3,
    );
    const tpl = ipfixTemplateSet([{ id: 256, fields: [...FLOW, [302, 4], [100, 65535, 9999]] }]);
    decodePacket(
      ipfix({ domain: 3 }, opt, dataSet(400, [[...be(7, 4), ...be(1, 4), ...be(9, 4)]]), tpl),
      state,
      ctx(),
    );
    decodePacket(v9({ sourceId: 4 }, v9TemplateSet([{ id: 300, fields: FLOW }])), state, ctx(0, '192.0.2.7'));
    return state;
  }

  test('a JSON round trip restores templates and samplers in a fresh state', () => {
    const snapshot = JSON.parse(JSON.stringify(exportTemplates(learned())));
    const fresh = createDecoderState();
    assert.deepEqual(importTemplates(fresh, snapshot), { imported: 3, rejected: 0 });
    const r = ok(
      decodePacket(
        ipfix({ domain: 3 }, dataSet(256, [[...flowRec(1), ...be(7, 4), 2, 0xab, 0xcd]])),
        fresh,
        ctx(),
      ),
    );
    assert.equal(r.records[0]!.samplingRate, 10);
    assert.equal(r.records[0]!.extra![0]!.pen, 9999);
    assert.equal(
      ok(decodePacket(v9({ sourceId: 4 }, dataSet(300, [flowRec(1)])), fresh, ctx(0, '192.0.2.7'))).records
        .length,
      1,
    );
    assert.deepEqual(exportTemplates(fresh), snapshot);
  });

  test('import validates everything and applies the limits', () => {
    const state = createDecoderState({ maxTemplateFields: 3 });
    assert.deepEqual(importTemplates(state, null), { imported: 0, rejected: 1 });
    assert.deepEqual(importTemplates(state, { format: 'other' }), { imported: 0, rejected: 1 });
    const snap = exportTemplates(learned());
    assert.equal(importTemplates(state, snap).imported, 1, 'only the 3-field options template fits');
    const bad = JSON.parse(JSON.stringify(snap));
    bad.sessions[0].templates[0][0] = 12;
    bad.sessions[0].templates[1][3] = [[1, 'x', 0]];
    bad.sessions.push({ exporter: 1, version: 9, domain: 0 });
    const res = importTemplates(createDecoderState(), bad);
    assert.equal(res.imported, 1);
    assert.equal(res.rejected, 3);
  });
});

describe('helpers', () => {
  test('IPv6 text follows RFC 5952', () => {
    const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
    assert.equal(ipv6Format(hex('20010db8000000000000000000000001'), 0), '2001:db8::1');
    assert.equal(ipv6Format(hex('00000000000000000000000000000000'), 0), '::');
    assert.equal(ipv6Format(hex('20010db8000000010000000000000001'), 0), '2001:db8:0:1::1');
    assert.equal(ipv6Format(hex('20010db8000100000001000000000000'), 0), '2001:db8:1:0:1::');
    assert.equal(ipv6Format(hex('fe800000000000000000000000000000'), 0), 'fe80::');
  });

  test('the IANA table comes from the registry, with RFC 5103 reverse names', () => {
    assert.equal(informationElement(1)?.name, 'octetDeltaCount');
    assert.equal(informationElement(1)?.type, 'unsigned64');
    assert.equal(informationElement(27)?.type, 'ipv6Address');
    assert.equal(informationElement(156)?.type, 'dateTimeNanoseconds');
    assert.equal(informationElement(1, 29305)?.name, 'reverseOctetDeltaCount');
    assert.equal(informationElement(1, 35632), undefined);
    assert.equal(describeField({ id: 12, pen: 0, value: Uint8Array.of(10, 0, 0, 1) }).value, '10.0.0.1');
    assert.equal(
      describeField({ id: 152, pen: 0, value: Uint8Array.from(be(0, 8)) }).name,
      'flowStartMilliseconds',
    );
  });

  test('concatenated datagrams split back into packets', () => {
    const tpl = v9TemplateSet([{ id: 300, fields: FLOW }]);
    const a = v9({ seq: 1 }, tpl, dataSet(300, [flowRec(1)]));
    const b = ipfix({}, dataSet(256, [flowRec(1)]));
    const c = v5({ count: 3 });
    const parts = splitExportPackets(Uint8Array.from([...a, ...b, ...c, ...a]));
    assert.deepEqual(
      parts.map((p) => p.length),
      [a.length, b.length, c.length, a.length],
    );
  });
});

describe('observation domain of the packet', () => {
  test('is reported for v5, v9 and IPFIX, and for a rejected packet whose header holds it', () => {
    const s = createDecoderState();
    assert.equal(ok(decodePacket(v5({ count: 1 }), s, ctx())).observationDomain, 0x0102);
    assert.equal(ok(decodePacket(v9({ sourceId: 0x8000_0007 }), s, ctx())).observationDomain, 0x8000_0007);
    assert.equal(ok(decodePacket(ipfix({ domain: 42 }), s, ctx())).observationDomain, 42);
    // A v5 header announcing records the packet does not hold: rejected, domain still read.
    const short = decodePacket(v5({ count: 2 }).subarray(0, 30), s, ctx());
    assert.equal(short.ok, false);
    assert.equal(short.observationDomain, 0x0102);
    // Too short for any header field past the version.
    assert.equal(decodePacket(Uint8Array.of(0, 9, 0), s, ctx()).observationDomain, 0);
  });
});
