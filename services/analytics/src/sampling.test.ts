import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createFlowRecord, type FlowRecord } from '@wardwatch/flow-schema';
import { checkSilence, finishDevice } from './detect.ts';
import { createDeviceModel, type DeviceModel, markCommitted } from './model/device-model.ts';
import { profileCoverage, sampledFloorBytes, sampledSilenceMs, silenceEvidenceMs } from './sampling.ts';
import { TEST_BUCKET, testApply, testDetectEnv } from './test-support.ts';

// Detections on sampled exports (issue 17): what is absent from a sampled profile or heartbeat is weak
// evidence, and a byte estimate from one or two sampled packets is noise. Each case runs a device through the
// model as the worker does, at 1:1 and 1:N, and checks what the detections make of it.

const T0 = Date.UTC(2026, 2, 9, 10, 0, 0);
const HOUR = 3_600_000;
const BUCKET = TEST_BUCKET;
const env = testDetectEnv;
const apply = testApply;

/** A small xorshift generator: the sampled sightings of each case are random but repeatable. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** One TCP record the device sent to `dst`:`port`, exported at 1:`rate` (counters as exported). */
function sent(m: DeviceModel, dst: string, port: number, at: number, rate: number, packets = 1): FlowRecord {
  return {
    ...createFlowRecord(),
    srcAddr: m.ip,
    dstAddr: dst,
    protocol: 6,
    srcPort: 50000,
    dstPort: port,
    tcpFlags: 0x18,
    packets,
    bytes: packets * 1400,
    samplingRate: rate,
    startMs: at,
    endMs: at + 100,
  };
}

/**
 * An infusion pump (stable peers, internal only; or another class) through learning and 20 more minutes, a commit every 5 minutes: 4 packets
 * to its server every 15 s, a DNS query every 10 minutes and an NTP query every 30 minutes, exported at
 * 1:`rate` (each packet sampled with probability 1/rate, so at 1:1 every one is).
 */
function pump(
  rate: number,
  seed: number,
  cls = 'infusion_pump',
): { m: DeviceModel; now: number; kinds: string[] } {
  const m = createDeviceModel('10.20.7.3', 0);
  m.classOverride = cls;
  const pick = rng(seed);
  const kinds: string[] = [];
  let now = T0;
  for (let step = 0; step < 16; step++) {
    const records: FlowRecord[] = [];
    const seen = (n: number) => {
      let k = 0;
      for (let i = 0; i < n; i++) if (pick() < 1 / rate) k++;
      return k;
    };
    for (let t = now; t < now + BUCKET; t += 15_000) {
      const k = seen(4);
      if (k > 0) records.push(sent(m, '10.10.0.10', 3613, t, rate, k));
      if (t % 600_000 === 0 && seen(1) > 0) records.push(sent(m, '10.10.0.53', 53, t + 10, rate));
      if (t % 1_800_000 === 0 && seen(1) > 0) records.push(sent(m, '10.10.0.123', 123, t + 20, rate));
    }
    apply(m, records);
    m.stored = true;
    now += BUCKET;
    kinds.push(...finishDevice(m, env(now)).alerts.map((a) => a.kind));
    markCommitted(m);
  }
  return { m, now, kinds };
}

describe('detections under packet sampling', () => {
  test('the silence a sampled heartbeat makes by chance: rarer than 0.01 a day', () => {
    // One sampled packet every 10 s on average: ln(8640 / 0.01) * 10 s = 137 s.
    assert.equal(Math.round(sampledSilenceMs(1 / 10_000) / 1000), 137);
    // The budget holds: a day's gaps times the chance of one longer than the limit.
    for (const perMs of [1 / 1000, 1 / 60_000, 1 / 600_000]) {
      const t = sampledSilenceMs(perMs);
      assert.ok(perMs * 86_400_000 * Math.exp(-perMs * t) <= 0.0100001, `budget at ${perMs}`);
    }
    // Unsampled learning leaves the learnt gaps to judge; too few sampled packets judge nothing.
    assert.equal(silenceEvidenceMs({ learnedSamples: 0, learnedAt: T0 + HOUR, firstSeen: T0 }), 0);
    assert.equal(
      silenceEvidenceMs({ learnedSamples: 19, learnedAt: T0 + HOUR, firstSeen: T0 }),
      Number.POSITIVE_INFINITY,
    );
  });

  test('a sampled heartbeat is silent only past what its sampled rate explains; an unsampled one as before', () => {
    // A patient monitor whose sampled packets came every 30 s through learning (one hour): the learnt gaps
    // say 2 minutes + lateness; its sampled rate (one in 30 s) says ln(2880 / 0.01) * 30 s = 377 s + lateness.
    const monitor = (rate: number) => {
      const m = createDeviceModel('10.30.7.5', 0);
      m.classOverride = 'patient_monitor';
      const beats: FlowRecord[] = [];
      for (let t = T0; t < T0 + 70 * 60_000; t += 30_000) beats.push(sent(m, '10.30.0.1', 2000, t, rate));
      apply(m, beats);
      m.stored = true;
      return m;
    };
    const sampled = monitor(100);
    assert.equal(sampled.learnedSamples, 120);
    const last = sampled.lastSent;
    assert.equal(checkSilence(sampled, env(last + 500_000)), undefined, '500 s: the sampling explains it');
    const alert = checkSilence(sampled, env(last + 700_000));
    assert.equal(alert?.kind, 'device_silent');
    assert.equal(alert?.evidence.sampledSilenceMs, 377_121);
    // The same heartbeat unsampled: its learnt gaps judge it (120 s + 300 s lateness).
    const plain = monitor(1);
    assert.equal(plain.learnedSamples, 0);
    assert.equal(checkSilence(plain, env(plain.lastSent + 500_000))?.kind, 'device_silent');
  });

  test('a new peer is news unsampled; sampled, only when more than a stray packet or two shows it', () => {
    // Unsampled: every entry seen many times (coverage 1), so one conversation with a new server is news.
    const plain = pump(1, 11);
    assert.deepEqual(plain.kinds, [], 'quiet through learning and after');
    assert.equal(profileCoverage(plain.m), 1);
    apply(plain.m, [sent(plain.m, '10.10.0.77', 3613, plain.now + 10_000, 1)]);
    assert.deepEqual(
      finishDevice(plain.m, env(plain.now + 20_000)).alerts.map((a) => a.kind),
      ['new_peer'],
    );
    // At 1:100 learning sampled the server and (by chance) little else: the DNS and NTP servers, first
    // sampled now in one packet each, and a new server seen in one packet are no evidence of anything new.
    for (const seed of [11, 12, 13]) {
      const thin = pump(100, seed);
      assert.deepEqual(thin.kinds, [], `seed ${seed}: quiet`);
      apply(thin.m, [
        sent(thin.m, '10.10.0.77', 3613, thin.now + 10_000, 100),
        sent(thin.m, '10.10.0.53', 53, thin.now + 11_000, 100),
        sent(thin.m, '10.10.0.123', 123, thin.now + 12_000, 100),
      ]);
      assert.deepEqual(finishDevice(thin.m, env(thin.now + 20_000)).alerts, [], `seed ${seed}`);
      // A new server that six sampled packets show (of small requests: no volume alert) is news.
      const again = pump(100, seed);
      apply(again.m, [{ ...sent(again.m, '10.10.0.88', 3613, again.now + 10_000, 100, 6), bytes: 360 }]);
      assert.deepEqual(
        finishDevice(again.m, env(again.now + 20_000)).alerts.map((a) => a.kind),
        ['new_peer'],
        `seed ${seed}`,
      );
    }
  });

  test('a profile learnt as single sightings covers too little for anything to be news', () => {
    // Sampled sightings of six servers, each once, and one often: Good-Turing coverage 1 - 6/26.
    const m = createDeviceModel('10.20.7.4', 0);
    m.classOverride = 'infusion_pump';
    const records: FlowRecord[] = [];
    for (let i = 0; i < 20; i++) records.push(sent(m, '10.10.0.10', 3613, T0 + i * 180_000, 100));
    for (let i = 0; i < 6; i++) records.push(sent(m, `10.10.1.${i + 1}`, 3613, T0 + i * 60_000 + 5000, 100));
    apply(m, records);
    m.stored = true;
    markCommitted(m);
    assert.equal(profileCoverage(m).toFixed(3), (1 - 6 / 26).toFixed(3));
    apply(m, [sent(m, '10.10.0.99', 3613, T0 + 2 * HOUR, 100, 6)]);
    assert.deepEqual(finishDevice(m, env(T0 + 2 * HOUR + 10_000)).alerts, []);
  });

  test('one sampled packet to the internet is neither exfiltration nor a first contact; an upload is both', () => {
    // A workstation that never used the internet while learning. At 1:100 one 1400-byte packet reads as
    // 140 kB, over the quiet device's 100 kB floor.
    const thin = pump(100, 21, 'workstation');
    apply(thin.m, [{ ...sent(thin.m, '203.0.113.9', 443, thin.now + 10_000, 100), bytes: 1400 }]);
    assert.deepEqual(finishDevice(thin.m, env(thin.now + 20_000)).alerts, []);
    // A real upload (7 MB: about 50 packets sampled at 1:100) is still exfiltration.
    const up = pump(100, 22, 'workstation');
    apply(up.m, [sent(up.m, '203.0.113.9', 443, up.now + 10_000, 100, 50)]);
    const kinds = finishDevice(up.m, env(up.now + 20_000)).alerts.map((a) => a.kind);
    assert.deepEqual(kinds.sort(), ['exfiltration', 'external_contact', 'volume_spike']);
    assert.equal(sampledFloorBytes(100), 750_000);
    assert.equal(sampledFloorBytes(1), 0);
  });
});
