// Test support (not part of the package's front door): the consumed batches the transport would deliver,
// and the settings, signatures and contexts the detection tests run devices through.
import { createDeviceMatcher, encodeFlowBatch, type FlowRecord } from '@wardwatch/flow-schema';
import type { ConsumedBatch, ConsumedMessage } from '@wardwatch/transport';
import type { AnalyticsSettings } from './config.ts';
import type { DetectEnv } from './detect.ts';
import { applyRecord } from './model/apply-record.ts';
import type { ApplyContext, DeviceModel } from './model/device-model.ts';
import { NO_POLICIES } from './policies.ts';
import { loadSignatures, type Signatures } from './signatures.ts';

/** The baseline bucket of the detection tests (5 minutes). */
export const TEST_BUCKET = 300_000;

/** Settings for the detection tests: a one-hour learning period, 5-minute buckets, defaults elsewhere. */
export const TEST_SETTINGS: AnalyticsSettings = {
  groupId: 'g',
  monitoredNetworks: ['10.0.0.0/8'],
  learningMs: 3_600_000,
  bucketMs: TEST_BUCKET,
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
  exfilQuietMinBytes: 100_000,
  spikeMinBytes: 1_000_000,
  signaturesFile: undefined,
  threatIntelFile: undefined,
  ouiFiles: [],
  groupMs: 300_000,
};

const matcher = createDeviceMatcher(TEST_SETTINGS.monitoredNetworks);
/** Whether an address is one of the monitored networks of {@link TEST_SETTINGS}. */
export const isTestInternal = (a: string): boolean => matcher.isDevice(a);

let signatures: Signatures | undefined;
/** The shipped signatures, loaded once for the tests that use them. */
export function testSignatures(): Signatures {
  signatures ??= loadSignatures();
  return signatures;
}

/** The detections' environment at flow time `watermark`, with no policies. */
export function testDetectEnv(watermark: number): DetectEnv {
  return {
    settings: TEST_SETTINGS,
    signatures: testSignatures(),
    policies: NO_POLICIES,
    isInternal: isTestInternal,
    watermark,
  };
}

/** Applies `records` to `m` as the worker does, with {@link TEST_SETTINGS}. */
export function testApply(m: DeviceModel, records: FlowRecord[]): void {
  const c: ApplyContext = {
    isInternal: isTestInternal,
    servicePorts: testSignatures().servicePorts,
    maxPeers: TEST_SETTINGS.maxProfilePeers,
    learningMs: TEST_SETTINGS.learningMs,
    scanWindowMs: TEST_SETTINGS.scanWindowMs,
    isThreat: () => false,
    late: { count: 0 },
    maxSkewMs: 120_000,
    clamped: { count: 0 },
    openFrom: 0,
  };
  for (const r of records) applyRecord(m, r, c, TEST_BUCKET);
}

/** One consumed batch holding one message per device, with offsets from `firstOffset`. */
export function batchOf(byDevice: Map<string, FlowRecord[]>, partition = 0, firstOffset = 0): ConsumedBatch {
  const messages: ConsumedMessage[] = [];
  let offset = firstOffset;
  for (const [device, records] of byDevice) {
    messages.push({
      key: device,
      value: encodeFlowBatch(records, new Array(records.length).fill(device)),
      headers: {},
      offset: String(offset++),
    });
  }
  return { topic: 'flows-v1', partition, messages };
}
