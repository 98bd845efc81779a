import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDecoderState, decodePacket } from '@wardwatch/flow-decoder';
import { createFlowRecord, type FlowRecord } from '@wardwatch/flow-schema';
import { createExportEncoder } from './index.ts';

const NOW = Date.UTC(2026, 10, 29, 9, 0, 0);

function record(i: number, v6 = false): FlowRecord {
  const r = createFlowRecord();
  r.srcAddr = v6 ? `fd00:20::${(i % 200) + 1}` : `10.20.${i % 4}.${(i % 200) + 1}`;
  r.dstAddr = v6 ? '2001:db8::53' : `192.0.2.${i % 50}`;
  r.srcPort = 40000 + i;
  r.dstPort = 443;
  r.protocol = 6;
  r.tcpFlags = 0x1b;
  r.tos = 0;
  r.bytes = 1500 * (i + 1) + 2 ** 33; // wider than 32 bits
  r.packets = i + 2;
  r.startMs = NOW - 60_000 + i;
  r.endMs = NOW - 1_000 + i;
  r.inputIf = 3;
  r.outputIf = 7;
  r.srcVlan = 120;
  r.dstVlan = 0;
  r.srcMac = '00:1b:2c:3d:4e:5f';
  r.dstMac = '00:aa:bb:cc:dd:ee';
  r.direction = 0;
  return r;
}

/** The fields an exporter of this encoder carries; the decoder fills the rest from context. */
function comparable(r: FlowRecord, version: number) {
  return {
    srcAddr: r.srcAddr,
    dstAddr: r.dstAddr,
    srcPort: r.srcPort,
    dstPort: r.dstPort,
    protocol: r.protocol,
    tcpFlags: r.tcpFlags,
    bytes: r.bytes,
    packets: r.packets,
    reverseBytes: version === 10 ? r.reverseBytes : 0,
    reversePackets: version === 10 ? r.reversePackets : 0,
    startMs: r.startMs,
    endMs: r.endMs,
    inputIf: r.inputIf,
    outputIf: r.outputIf,
    srcVlan: r.srcVlan,
    srcMac: r.srcMac,
    dstMac: r.dstMac,
    direction: r.direction,
  };
}

for (const version of [9, 10] as const) {
  test(`NetFlow v${version} packets decode back to the same records (IPv4 and IPv6, many packets)`, () => {
    const enc = createExportEncoder({ version, observationDomain: 7 });
    const state = createDecoderState();
    const sent: FlowRecord[] = [];
    for (let i = 0; i < 300; i++) {
      const r = record(i, i % 10 === 9);
      if (i % 7 === 3) {
        // A record without link-layer fields (as from a firewall): no MAC must appear on the other side.
        r.srcMac = '';
        r.dstMac = '';
        r.srcVlan = 0;
      }
      if (version === 10) {
        r.reverseBytes = 100 + i;
        r.reversePackets = 1 + (i % 3);
      }
      sent.push(r);
    }
    const packets = enc.encode(sent, NOW);
    assert.ok(packets.length > 5, 'split over several datagrams');
    for (const p of packets) assert.ok(p.length <= 1400, `datagram of ${p.length} bytes`);
    const got: FlowRecord[] = [];
    let lost = 0;
    for (const p of packets) {
      const res = decodePacket(p, state, { exporter: '127.0.0.1', receivedMs: NOW });
      assert.ok(res.ok, res.ok ? 'decoded' : res.error.message);
      assert.equal(res.stats.unknownTemplateSets, 0);
      lost += res.stats.sequenceLost;
      got.push(...res.records);
    }
    assert.equal(lost, 0);
    assert.equal(enc.records(), sent.length);
    assert.equal(enc.packets(), packets.length);
    assert.deepEqual(
      got.map((r) => comparable(r, version)),
      sent.map((r) => comparable(r, version)),
    );
    for (const r of got) {
      assert.equal(r.version, version);
      assert.equal(r.observationDomain, 7);
      assert.equal(r.templateId, (r.srcAddr.includes(':') ? 257 : 256) + (r.srcMac === '' ? 2 : 0));
    }
  });

  test(`v${version}: templates are refreshed, and a decoder that starts late catches up`, () => {
    const enc = createExportEncoder({ version, templateRefreshPackets: 3 });
    const first = enc.encode([record(1)], NOW);
    // A decoder that missed the first packet (and its templates).
    const late = createDecoderState();
    let decoded = 0;
    for (let k = 0; k < 4; k++) {
      for (const p of enc.encode([record(k)], NOW + k)) {
        decoded += decodePacket(p, late, { exporter: '10.0.0.1', receivedMs: NOW + k }).records.length;
      }
    }
    assert.equal(first.length, 1);
    assert.ok(decoded >= 2, `decoded ${decoded} after the refresh`);
    // No records and templates due: a template-only packet, as routers send.
    enc.announceTemplates();
    const only = enc.encode([], NOW + 10);
    assert.equal(only.length, 1);
    const res = decodePacket(only[0]!, createDecoderState(), { exporter: '10.0.0.2', receivedMs: NOW });
    assert.ok(res.ok, 'template-only packet decoded');
    assert.equal(res.stats.templatesLearned, 4);
  });
}

test('bad options are refused with a clear error', () => {
  assert.throws(() => createExportEncoder({ version: 5 as 9 }), /version must be 9 or 10/);
  assert.throws(() => createExportEncoder({ version: 9, maxPacketBytes: 64 }), /cannot hold/);
});
