import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createFlowRecord, type FlowRecord } from '@wardwatch/flow-schema';
import { checkSilence, finishDevice } from './detect.ts';
import { createDeviceModel, type DeviceModel, markCommitted } from './model/device-model.ts';
import { TEST_BUCKET, testApply, testDetectEnv } from './test-support.ts';

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const BUCKET = TEST_BUCKET;
const env = testDetectEnv;
const apply = testApply;

/** A bare TCP SYN the device sent, unanswered. */
function syn(p: Partial<FlowRecord>): FlowRecord {
  return {
    ...createFlowRecord(),
    protocol: 6,
    tcpFlags: 0x02,
    packets: 1,
    bytes: 44,
    startMs: T0,
    endMs: T0,
    ...p,
  };
}

/** A patient monitor (analyst's class, stored) that sent every 30 s from T0 for `minutes`. */
function monitor(minutes: number): DeviceModel {
  const m = createDeviceModel('10.30.1.5', 0);
  m.classOverride = 'patient_monitor';
  const beats: FlowRecord[] = [];
  for (let t = T0; t < T0 + minutes * 60_000; t += 30_000)
    beats.push({
      ...createFlowRecord(),
      srcAddr: m.ip,
      dstAddr: '10.30.0.1',
      protocol: 17,
      srcPort: 2000,
      dstPort: 7000,
      packets: 4,
      bytes: 1200,
      startMs: t,
      endMs: t + 100,
    });
  apply(m, beats);
  m.stored = true;
  return m;
}

describe('detections', () => {
  test('device_silent waits for the heartbeat to be learned: not during learning, then at once', () => {
    // Learning is one hour. A monitor that sent for ten minutes and stopped is not silent by its
    // learned heartbeat while it is still learning...
    const early = monitor(10);
    assert.equal(checkSilence(early, env(T0 + 30 * 60_000)), undefined, 'silent during learning');
    // ...and once learning is over, a silence still lasting is reported.
    const late = checkSilence(early, env(T0 + 61 * 60_000));
    assert.equal(late?.kind, 'device_silent');
    // A monitor that kept sending through learning and then stopped: critical, a safety event.
    const learned = monitor(70);
    assert.equal(
      checkSilence(learned, env(T0 + 72 * 60_000)),
      undefined,
      'within max(silenceAfter, 3 gaps) + lateness',
    );
    const silent = checkSilence(learned, env(T0 + 80 * 60_000));
    assert.deepEqual([silent?.kind, silent?.severity], ['device_silent', 'critical']);
  });

  test('a scan sent from a low source port (nmap -g 53) is still a scan', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    const records: FlowRecord[] = [];
    // Every port of one host above the scanner's source port.
    for (let i = 0; i < 30; i++)
      records.push(
        syn({ srcAddr: '10.1.1.1', dstAddr: '10.2.0.9', srcPort: 53, dstPort: 1000 + i, startMs: T0 + i }),
      );
    // SSH on many hosts, from source port 20.
    for (let h = 1; h <= 25; h++)
      records.push(
        syn({ srcAddr: '10.1.1.1', dstAddr: `10.3.0.${h}`, srcPort: 20, dstPort: 22, startMs: T0 + 100 + h }),
      );
    apply(m, records);
    const kinds = finishDevice(m, env(T0 + 1000)).alerts.map((a) => a.kind);
    assert.ok(kinds.includes('port_scan'), `port_scan in ${kinds}`);
    assert.ok(kinds.includes('host_scan'), `host_scan in ${kinds}`);
    assert.ok(kinds.includes('lateral_movement'), `lateral_movement in ${kinds}`);
  });

  test('a server answering many clients from a low port is not scanning', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    const records: FlowRecord[] = [];
    // SYN-ACKs (and resets) a server sends back from port 22 to clients on ephemeral ports.
    for (let h = 1; h <= 30; h++) {
      records.push(
        syn({ srcAddr: '10.1.1.1', dstAddr: `10.3.0.${h}`, srcPort: 22, dstPort: 40000 + h, tcpFlags: 0x12 }),
        syn({ srcAddr: '10.1.1.1', dstAddr: `10.3.0.${h}`, srcPort: 22, dstPort: 40000 + h, tcpFlags: 0x14 }),
      );
    }
    apply(m, records);
    assert.deepEqual(
      finishDevice(m, env(T0 + 1000)).alerts.map((a) => a.kind),
      [],
    );
  });

  test('a scan split across two tumbling windows is caught (the window slides)', () => {
    // 12 hosts in the last 20 s of one minute and 12 in the first 20 s of the next: 24 hosts within 40 s,
    // but never 20 within one tumbling window that opened at the first probe.
    const m = createDeviceModel('10.1.1.1', 0);
    const records: FlowRecord[] = [];
    records.push(
      syn({ srcAddr: '10.1.1.1', dstAddr: '10.4.0.1', srcPort: 40000, dstPort: 443, startMs: T0 }),
    );
    for (let h = 2; h <= 13; h++)
      records.push(
        syn({
          srcAddr: '10.1.1.1',
          dstAddr: `10.4.0.${h}`,
          srcPort: 40000 + h,
          dstPort: 443,
          startMs: T0 + 40_000 + h * 1000,
        }),
      );
    for (let h = 14; h <= 25; h++)
      records.push(
        syn({
          srcAddr: '10.1.1.1',
          dstAddr: `10.4.0.${h}`,
          srcPort: 40000 + h,
          dstPort: 443,
          startMs: T0 + 47_000 + h * 1000,
        }),
      );
    // Lateral movement split the same way: 3 + 3 hosts on SMB around the window's edge.
    for (let h = 1; h <= 6; h++)
      records.push(
        syn({
          srcAddr: '10.1.1.1',
          dstAddr: `10.5.0.${h}`,
          srcPort: 50000 + h,
          dstPort: 445,
          startMs: T0 + 55_000 + h * 2000,
        }),
      );
    // Applied in two batches, judged after each, as the worker does.
    const first = records.filter((r) => r.startMs < T0 + 60_000);
    const second = records.filter((r) => r.startMs >= T0 + 60_000);
    apply(m, first);
    const a1 = finishDevice(m, env(T0 + 60_000)).alerts.map((a) => a.kind);
    apply(m, second);
    const a2 = finishDevice(m, env(T0 + 90_000)).alerts;
    const kinds = [...a1, ...a2.map((a) => a.kind)];
    assert.ok(kinds.includes('host_scan'), `host_scan in ${kinds}`);
    assert.ok(kinds.includes('lateral_movement'), `lateral_movement in ${kinds}`);
    const scan = a2.find((a) => a.kind === 'host_scan');
    assert.ok(scan && (scan.evidence.hosts as number) >= 20);
  });

  test('a slow sweep (one host every 10 s) is not a scan, and an old window does not add to a new one', () => {
    const m = createDeviceModel('10.1.1.1', 0);
    const records: FlowRecord[] = [];
    for (let h = 1; h <= 40; h++)
      records.push(
        syn({
          srcAddr: '10.1.1.1',
          dstAddr: `10.4.1.${h}`,
          srcPort: 40000 + h,
          dstPort: 443,
          startMs: T0 + h * 10_000,
        }),
      );
    apply(m, records);
    assert.deepEqual(
      finishDevice(m, env(T0 + 500_000)).alerts.map((a) => a.kind),
      [],
    );
  });

  describe('without a class', () => {
    /** A device no signature knows: HTTPS to one internal server every 30 s (and, if asked, to the internet), run
     *  through learning and two more hours with a commit every 5 minutes, as the worker does. */
    function learned(
      ip: string,
      internet: boolean,
      steps = 36,
    ): { m: DeviceModel; now: number; kinds: string[] } {
      const m = createDeviceModel(ip, 0);
      const kinds: string[] = [];
      let now = T0;
      for (let step = 0; step < steps; step++) {
        const records: FlowRecord[] = [];
        for (let t = now; t < now + BUCKET; t += 30_000) {
          records.push({
            ...createFlowRecord(),
            srcAddr: ip,
            dstAddr: `10.9.0.${1 + ((t / 30_000) % 3)}`,
            protocol: 6,
            srcPort: 50000,
            dstPort: 9999,
            tcpFlags: 0x1b,
            packets: 10,
            bytes: 3000,
            reversePackets: 8,
            reverseBytes: 4000,
            startMs: t,
            endMs: t + 200,
          });
          if (internet && t % 600_000 === 0)
            records.push({ ...records.at(-1)!, dstAddr: '198.51.100.7', dstPort: 443, bytes: 20_000 });
        }
        apply(m, records);
        now += BUCKET;
        kinds.push(...finishDevice(m, env(now)).alerts.map((a) => a.kind));
        markCommitted(m);
      }
      return { m, now, kinds };
    }

    function upload(m: DeviceModel, at: number, bytes: number): FlowRecord {
      return {
        ...createFlowRecord(),
        srcAddr: m.ip,
        dstAddr: '203.0.113.9',
        protocol: 6,
        srcPort: 51000,
        dstPort: 443,
        tcpFlags: 0x1b,
        packets: Math.ceil(bytes / 1400),
        bytes,
        reversePackets: 20,
        reverseBytes: 2000,
        startMs: at,
        endMs: at + 5000,
      };
    }

    test('after learning, the first contact with the internet raises external_contact whatever the class', () => {
      const { m, now, kinds } = learned('10.7.0.1', false);
      assert.deepEqual(kinds, [], 'quiet while learning and after');
      assert.equal(m.inferredClass, 'unknown');
      apply(m, [upload(m, now + 10_000, 300_000)]);
      const out = finishDevice(m, env(now + 20_000)).alerts;
      const contact = out.find((a) => a.kind === 'external_contact');
      assert.ok(contact, `external_contact in ${out.map((a) => a.kind)}`);
      assert.deepEqual(contact.evidence.peers, [{ peer: '203.0.113.9', port: 443, bytes: 300_000 }]);
      markCommitted(m);
      // The same peer again is not a first contact.
      apply(m, [upload(m, now + 40_000, 1000)]);
      assert.ok(!finishDevice(m, env(now + 50_000)).alerts.some((a) => a.kind === 'external_contact'));
    });

    test('a device that never sent outside: 300 kB to the internet in a bucket is exfiltration (floor 100 kB)', () => {
      const { m, now } = learned('10.7.0.2', false);
      apply(m, [upload(m, now + 10_000, 300_000)]);
      const kinds = finishDevice(m, env(now + 20_000)).alerts.map((a) => a.kind);
      assert.ok(kinds.includes('exfiltration'), `exfiltration in ${kinds}`);
    });

    test('a young device that never sent outside but whose group uses the internet: judged as its group', () => {
      // 80 minutes: past learning (one hour), still young (under two).
      const { m, now } = learned('10.7.0.4', false, 16);
      apply(m, [upload(m, now + 10_000, 300_000)]);
      const e = {
        ...env(now + 20_000),
        groupOf: () => ({ id: 2, members: 6, shared: new Set(['internet tcp/443']) }),
      };
      const kinds = finishDevice(m, e).alerts.map((a) => a.kind);
      assert.ok(!kinds.includes('exfiltration'), `no exfiltration in ${kinds}`);
      assert.ok(
        !kinds.includes('external_contact'),
        `no first contact in ${kinds}: its group uses the internet`,
      );
    });

    test('a device that used the internet while learning: neither alert for the same upload', () => {
      const { m, now, kinds: during } = learned('10.7.0.3', true);
      assert.deepEqual(during, []);
      apply(m, [upload(m, now + 10_000, 300_000)]);
      const kinds = finishDevice(m, env(now + 20_000)).alerts.map((a) => a.kind);
      assert.deepEqual(kinds, []);
    });
  });

  describe('judged against the behaviour group', () => {
    /** A pump (stable peers) that talked to its server for 70 minutes (learning: one hour), then to another. */
    function pumpWithNewServer(): DeviceModel {
      const m = createDeviceModel('10.20.1.9', 0);
      m.classOverride = 'infusion_pump';
      const records: FlowRecord[] = [];
      for (let t = T0; t < T0 + 70 * 60_000; t += 30_000)
        records.push({
          ...createFlowRecord(),
          srcAddr: m.ip,
          dstAddr: '10.10.0.10',
          protocol: 6,
          srcPort: 50000,
          dstPort: 3613,
          tcpFlags: 0x18,
          packets: 4,
          bytes: 900,
          startMs: t,
          endMs: t + 100,
        });
      apply(m, records);
      m.stored = true;
      markCommitted(m);
      apply(m, [
        { ...records[0]!, dstAddr: '10.10.0.11', startMs: T0 + 71 * 60_000, endMs: T0 + 71 * 60_000 + 100 },
      ]);
      return m;
    }
    const group = (shared: string[], members = 8) => ({ id: 4, members, shared: new Set(shared) });

    test("a young device's new peer that its group shares is not new; one the group lacks is", () => {
      const alone = finishDevice(pumpWithNewServer(), env(T0 + 72 * 60_000)).alerts.map((a) => a.kind);
      assert.deepEqual(alone, ['new_peer']);
      const withGroup = {
        ...env(T0 + 72 * 60_000),
        groupOf: () => group(['uses tcp/3613', 'uses tcp/3613 at 10.10.0.10', 'uses tcp/3613 at 10.10.0.11']),
      };
      assert.deepEqual(finishDevice(pumpWithNewServer(), withGroup).alerts, []);
      const otherGroup = {
        ...env(T0 + 72 * 60_000),
        groupOf: () => group(['uses tcp/3613', 'uses tcp/3613 at 10.10.0.10']),
      };
      assert.deepEqual(
        finishDevice(pumpWithNewServer(), otherGroup).alerts.map((a) => a.kind),
        ['new_peer'],
      );
      // Too small a group does not speak for its members.
      const small = {
        ...env(T0 + 72 * 60_000),
        groupOf: () => group(['uses tcp/3613 at 10.10.0.11', 'uses tcp/3613'], 2),
      };
      assert.deepEqual(
        finishDevice(pumpWithNewServer(), small).alerts.map((a) => a.kind),
        ['new_peer'],
      );
    });
  });
});
