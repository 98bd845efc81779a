import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createDeviceMatcher, createFlowRecord, type FlowRecord } from '@wardwatch/flow-schema';
import type { AnalyticsSettings } from './config.ts';
import { checkSilence, type DetectEnv, finishDevice } from './detect.ts';
import { applyRecord } from './model/apply-record.ts';
import { type ApplyContext, createDeviceModel, type DeviceModel } from './model/device-model.ts';
import { NO_POLICIES } from './policies.ts';
import { loadSignatures } from './signatures.ts';

const matcher = createDeviceMatcher(['10.0.0.0/8']);
const isInternal = (a: string) => matcher.isDevice(a);
const signatures = loadSignatures();
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const BUCKET = 300_000;

const settings: AnalyticsSettings = {
  groupId: 'g',
  monitoredNetworks: ['10.0.0.0/8'],
  learningMs: 3_600_000,
  bucketMs: BUCKET,
  latenessMs: 300_000,
  silenceMs: 120_000,
  maxSkewMs: 120_000,
  scanWindowMs: 60_000,
  scanThreshold: 20,
  lateralThreshold: 6,
  maxProfilePeers: 256,
  maxDeviceModels: 500_000,
  maxNewDevicesPerExporterPerMinute: 1000,
  reloadMs: 30_000,
  commitMs: 0,
  commitRecords: 1_000_000,
  exfilMinBytes: 10_000_000,
  spikeMinBytes: 1_000_000,
  signaturesFile: undefined,
  threatIntelFile: undefined,
};

const ctx = (): ApplyContext => ({
  isInternal,
  servicePorts: signatures.servicePorts,
  maxPeers: settings.maxProfilePeers,
  learningMs: settings.learningMs,
  scanWindowMs: settings.scanWindowMs,
  isThreat: () => false,
  late: { count: 0 },
  maxSkewMs: 120_000,
  clamped: { count: 0 },
  openFrom: 0,
});

const env = (watermark: number): DetectEnv => ({
  settings,
  signatures,
  policies: NO_POLICIES,
  isInternal,
  watermark,
});

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

function apply(m: DeviceModel, records: FlowRecord[]): void {
  const c = ctx();
  for (const r of records) applyRecord(m, r, c, BUCKET);
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
});
