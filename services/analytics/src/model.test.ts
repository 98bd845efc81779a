import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createDeviceMatcher, createFlowRecord, type FlowRecord } from '@wardwatch/flow-schema';
import { isSpecial } from './model/addresses.ts';
import { applyRecord } from './model/apply-record.ts';
import { closeBuckets } from './model/baselines.ts';
import { type ApplyContext, createDeviceModel, INBOUND, OUTBOUND } from './model/device-model.ts';

const matcher = createDeviceMatcher(['10.0.0.0/8']);
const ctx = (): ApplyContext => ({
  isInternal: (a) => matcher.isDevice(a),
  servicePorts: new Set([104, 2575, 2000]),
  maxPeers: 3,
  learningMs: 60_000,
  scanWindowMs: 60_000,
  isThreat: (a) => a === '203.0.113.66',
  late: { count: 0 },
  maxSkewMs: 120_000,
  clamped: { count: 0 },
  openFrom: 0,
});
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

function rec(p: Partial<FlowRecord>): FlowRecord {
  return {
    ...createFlowRecord(),
    protocol: 6,
    tcpFlags: 0x1b,
    packets: 10,
    bytes: 5000,
    startMs: T0,
    endMs: T0 + 1000,
    ...p,
  };
}

describe('device model', () => {
  test('the service side: a known service port, else the lower port', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    const c = ctx();
    applyRecord(
      m,
      rec({ srcAddr: '10.1.1.1', dstAddr: '10.9.9.9', srcPort: 50000, dstPort: 104 }),
      c,
      300_000,
    );
    applyRecord(
      m,
      rec({ srcAddr: '10.1.1.1', dstAddr: '10.9.9.8', srcPort: 2575, dstPort: 1000 }),
      c,
      300_000,
    );
    applyRecord(
      m,
      rec({ srcAddr: '10.9.9.7', dstAddr: '10.1.1.1', srcPort: 40000, dstPort: 22 }),
      c,
      300_000,
    );
    const keys = [...m.profile.values()].map((e) => [e.peer, e.port, e.dir]);
    assert.deepEqual(keys, [
      ['10.9.9.9/32', 104, OUTBOUND],
      ['10.9.9.8/32', 2575, INBOUND],
      ['10.9.9.7/32', 22, INBOUND],
    ]);
    assert.equal(m.bytesSent, 10_000);
    assert.equal(m.bytesReceived, 5000);
    assert.equal(m.flowsSent, 2);
    assert.equal(m.flowsReceived, 1);
  });

  test('a long flow spreads over its minutes and the rollups add up exactly', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    applyRecord(
      m,
      rec({
        srcAddr: '10.1.1.1',
        dstAddr: '10.9.9.9',
        dstPort: 443,
        srcPort: 50000,
        bytes: 1_000_003,
        packets: 997,
        startMs: T0 + 30_000,
        endMs: T0 + 30_000 + 4.5 * 60_000,
      }),
      ctx(),
      300_000,
    );
    const minutes = [...m.minutes.values()];
    assert.equal(minutes.length, 5);
    assert.equal(
      minutes.reduce((n, a) => n + a.bytesOut, 0),
      1_000_003,
    );
    assert.equal(
      minutes.reduce((n, a) => n + a.packetsOut, 0),
      997,
    );
    assert.equal(
      minutes.reduce((n, a) => n + a.flows, 0),
      1,
    );
    assert.ok(Math.abs(minutes[1]!.bytesOut - 1_000_003 / 4.5) < 2);
  });

  test('a long flow with few packets: no minute goes negative, and the buckets add up to the record', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    // A keepalive connection: 15 packets over 30 minutes (half a packet a minute).
    applyRecord(
      m,
      rec({
        srcAddr: '10.1.1.1',
        dstAddr: '10.9.9.9',
        dstPort: 443,
        srcPort: 50000,
        bytes: 900,
        packets: 15,
        reverseBytes: 7,
        reversePackets: 3,
        startMs: T0,
        endMs: T0 + 30 * 60_000,
      }),
      ctx(),
      300_000,
    );
    const minutes = [...m.minutes.values()];
    assert.equal(minutes.length, 30);
    for (const a of minutes) {
      assert.ok(
        a.packetsOut >= 0 && a.packetsIn >= 0 && a.bytesOut >= 0 && a.bytesIn >= 0,
        JSON.stringify(a),
      );
    }
    const sum = (f: (a: (typeof minutes)[number]) => number) => minutes.reduce((n, a) => n + f(a), 0);
    assert.equal(
      sum((a) => a.packetsOut),
      15,
    );
    assert.equal(
      sum((a) => a.packetsIn),
      3,
    );
    assert.equal(
      sum((a) => a.bytesIn),
      7,
    );
    const buckets = [...m.buckets.values()];
    assert.equal(buckets.length, 6);
    assert.equal(
      buckets.reduce((n, b) => n + b.packets, 0),
      18,
      'the baselines see the packets the flow carried',
    );
    assert.equal(
      buckets.reduce((n, b) => n + b.bytesOut, 0),
      900,
    );
  });

  test('a record far older than the open buckets is late: it opens no bucket and does not cut learning short', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    const c = ctx();
    // The partition's flow time has closed every bucket before T0; a stray record (a sysUptime glitch)
    // says a day ago.
    c.openFrom = T0;
    const at = (t: number) =>
      rec({ srcAddr: '10.1.1.1', dstAddr: '10.9.9.9', dstPort: 443, startMs: t, endMs: t + 1000 });
    applyRecord(m, at(T0 - 86_400_000), c, 60_000);
    assert.equal(c.late.count, 1, 'counted late');
    assert.equal(m.buckets.size, 0);
    assert.ok(m.learnedAt >= T0 + 60_000, 'learning runs from the open buckets on');
    for (let i = 0; i < 3; i++) applyRecord(m, at(T0 + i * 60_000), c, 60_000);
    closeBuckets(m, T0 + 10 * 60_000, 60_000, 60_000);
    // Three buckets of traffic, not three after a day of zeros folded in between.
    assert.equal(m.stats.get('bytes_out|-1')?.n, 3);
    assert.equal(m.stats.get('bytes_out|-1')?.mean, 5000);
  });

  test('a record stamped ahead of its receive time by more than the skew is clamped to it', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    const c = ctx();
    const year = 365 * 86_400_000;
    const end = applyRecord(
      m,
      rec({
        srcAddr: '10.1.1.1',
        dstAddr: '10.9.9.9',
        dstPort: 443,
        startMs: T0 + year,
        endMs: T0 + year + 5000,
        receivedMs: T0,
      }),
      c,
      60_000,
    );
    assert.equal(end, T0, 'its flow time is its receive time');
    assert.equal(c.clamped.count, 1);
    assert.deepEqual([m.firstSeen, m.lastSeen, m.lastSent], [T0, T0, T0]);
    assert.deepEqual([...m.buckets.keys()], [T0]);
    // Within the skew (an exporter clock a few seconds ahead): kept as stamped.
    assert.equal(
      applyRecord(
        m,
        rec({
          srcAddr: '10.1.1.1',
          dstAddr: '10.9.9.9',
          dstPort: 443,
          startMs: T0 + 1000,
          endMs: T0 + 5000,
          receivedMs: T0,
        }),
        c,
        60_000,
      ),
      T0 + 5000,
    );
    assert.equal(c.clamped.count, 1);
  });

  test('control-only TCP feeds scan windows, not the profile; past the peer cap peers fold into groups', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    const c = ctx();
    for (let h = 1; h <= 5; h++) {
      applyRecord(
        m,
        rec({
          srcAddr: '10.1.1.1',
          dstAddr: `10.2.0.${h}`,
          srcPort: 55000,
          dstPort: 80,
          tcpFlags: 0x02,
          packets: 1,
          bytes: 40,
        }),
        c,
        300_000,
      );
    }
    assert.equal(m.profile.size, 0);
    assert.equal(m.window?.probes.size, 5);
    for (let h = 1; h <= 5; h++) {
      applyRecord(
        m,
        rec({ srcAddr: '10.1.1.1', dstAddr: `10.3.0.${h}`, srcPort: 55000, dstPort: 443 }),
        c,
        300_000,
      );
    }
    const peers = [...m.profile.values()].map((e) => e.peer);
    assert.deepEqual(peers, ['10.3.0.1/32', '10.3.0.2/32', '10.3.0.3/32', '10.3.0.0/24']);
  });

  test('past the peer cap, IPv6 peers fold into their /64 written as PostgreSQL writes it', () => {
    const m = createDeviceModel('fd00::1', 0);
    const c = { ...ctx(), isInternal: (a: string) => a.startsWith('fd00:') };
    const peers = [
      'fd00::a',
      'fd00::b',
      'fd00::c',
      'fd00::d',
      'fd00:0:0:2::9',
      'fd00:7::1:2:3:4',
      '2001:db8::5',
    ];
    for (const peer of peers) {
      applyRecord(m, rec({ srcAddr: 'fd00::1', dstAddr: peer, srcPort: 55000, dstPort: 443 }), c, 300_000);
    }
    // The text PostgreSQL gives back for these cidr values (a reload finds the entries by it).
    assert.deepEqual(
      [...m.profile.values()].map((e) => e.peer),
      ['fd00::a/128', 'fd00::b/128', 'fd00::c/128', 'fd00::/64', 'fd00:0:0:2::/64', 'fd00:7::/64', '::/0'],
    );
  });

  test('external and threat-listed peers are noted for the batch', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    applyRecord(
      m,
      rec({ srcAddr: '10.1.1.1', dstAddr: '203.0.113.66', srcPort: 50000, dstPort: 443 }),
      ctx(),
      300_000,
    );
    applyRecord(
      m,
      rec({ srcAddr: '10.1.1.1', dstAddr: '224.0.0.251', protocol: 17, srcPort: 5353, dstPort: 5353 }),
      ctx(),
      300_000,
    );
    assert.deepEqual([...(m.external?.keys() ?? [])], ['203.0.113.66'], 'multicast is not the internet');
    assert.deepEqual([...(m.threats?.keys() ?? [])], ['203.0.113.66']);
  });

  test('buckets fold into the baselines once flow time passes them by the lateness allowance', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    const c = ctx();
    for (let i = 0; i < 4; i++) {
      applyRecord(
        m,
        rec({
          srcAddr: '10.1.1.1',
          dstAddr: '10.9.9.9',
          srcPort: 50000,
          dstPort: 443,
          startMs: T0 + i * 60_000,
          endMs: T0 + i * 60_000 + 10,
        }),
        c,
        60_000,
      );
    }
    assert.equal(closeBuckets(m, T0 + 3 * 60_000, 60_000, 60_000).length, 2);
    assert.equal(m.stats.get('bytes_out|-1')?.n, 2);
    assert.equal(m.stats.get('bytes_out|-1')?.mean, 5000);
    // Late data for a folded bucket is counted, not added to a baseline.
    applyRecord(
      m,
      rec({
        srcAddr: '10.1.1.1',
        dstAddr: '10.9.9.9',
        srcPort: 50000,
        dstPort: 443,
        startMs: T0 + 5,
        endMs: T0 + 10,
      }),
      c,
      60_000,
    );
    assert.equal(c.late.count, 1);
  });

  test("a sampled exporter's counters are scaled by its sampling rate", () => {
    const m = createDeviceModel('10.1.1.1', 0);
    const c = ctx();
    // 1:100 sampling: 3 packets seen stand for 300 sent. The collector passes counters as exported.
    applyRecord(
      m,
      rec({
        srcAddr: '10.1.1.1',
        dstAddr: '203.0.113.9',
        srcPort: 50000,
        dstPort: 443,
        bytes: 4500,
        packets: 3,
        reverseBytes: 100,
        reversePackets: 2,
        samplingRate: 100,
      }),
      c,
      300_000,
    );
    // A sampled bare SYN is still a probe, not a conversation.
    applyRecord(
      m,
      rec({
        srcAddr: '10.1.1.1',
        dstAddr: '10.2.0.1',
        srcPort: 50000,
        dstPort: 80,
        tcpFlags: 0x02,
        packets: 1,
        bytes: 44,
        samplingRate: 100,
      }),
      c,
      300_000,
    );
    assert.equal(m.bytesSent, 454_400);
    assert.equal(m.packetsSent, 400);
    assert.equal(m.bytesReceived, 10_000);
    const [minute] = [...m.minutes.values()];
    assert.equal(minute?.bytesOut, 454_400);
    assert.equal(minute?.extOut, 450_000);
    assert.equal(minute?.packetsIn, 200);
    assert.equal([...m.buckets.values()][0]?.extOut, 450_000);
    assert.equal(m.external?.get('203.0.113.9')?.bytes, 450_000);
    const [entry] = [...m.profile.values()];
    assert.equal(entry?.bytesOut, 450_000);
    assert.equal(m.profile.size, 1);
    assert.equal(m.window?.probes.size, 1);
  });

  test('an exporter that counts bytes but not packets: the source still sent', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    applyRecord(
      m,
      rec({
        srcAddr: '10.1.1.1',
        dstAddr: '10.9.9.9',
        srcPort: 50000,
        dstPort: 443,
        packets: 0,
        bytes: 5000,
      }),
      ctx(),
      300_000,
    );
    assert.equal(m.flowsSent, 1, 'a sender, hence a device');
    assert.equal(m.bytesSent, 5000);
    assert.equal(m.lastSent, T0 + 1000);
  });

  test('all of fe80::/10 is link-local, not the internet', () => {
    for (const a of ['fe80::1', 'fe9a::1', 'feab::1', 'febf::1']) assert.ok(isSpecial(a), a);
    for (const a of ['fec0::1', 'fe00::1', 'fe8::1', '2001:db8::1']) assert.ok(!isSpecial(a), a);
  });

  test('a record the device is not part of is refused', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    assert.equal(applyRecord(m, rec({ srcAddr: '10.5.5.5', dstAddr: '10.6.6.6' }), ctx(), 300_000), 0);
  });
});
