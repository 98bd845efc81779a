import type { WardwatchConfig } from '@wardwatch/config';

/** The analytics settings in the units the worker computes with (milliseconds of flow time). */
export interface AnalyticsSettings {
  groupId: string;
  monitoredNetworks: readonly string[];
  learningMs: number;
  bucketMs: number;
  latenessMs: number;
  silenceMs: number;
  maxSkewMs: number;
  scanWindowMs: number;
  scanThreshold: number;
  lateralThreshold: number;
  maxProfilePeers: number;
  maxDeviceModels: number;
  maxNewDevicesPerExporterPerMinute: number;
  reloadMs: number;
  commitMs: number;
  commitRecords: number;
  exfilMinBytes: number;
  exfilQuietMinBytes: number;
  spikeMinBytes: number;
  signaturesFile: string | undefined;
  threatIntelFile: string | undefined;
  ouiFiles: readonly string[];
  groupMs: number;
}

/**
 * Derives the analytics settings from the validated configuration (whose durations are milliseconds,
 * their minimums enforced there: nothing is clamped here).
 */
export function analyticsSettings(config: WardwatchConfig): AnalyticsSettings {
  const a = config.analytics;
  return {
    groupId: a.groupId,
    monitoredNetworks: config.monitoredNetworks,
    learningMs: a.learningPeriod,
    bucketMs: a.baselineBucket,
    latenessMs: a.allowedLateness,
    silenceMs: a.silenceAfter,
    maxSkewMs: a.maxClockSkew,
    scanWindowMs: a.scanWindow,
    scanThreshold: a.scanThreshold,
    lateralThreshold: a.lateralThreshold,
    maxProfilePeers: a.maxProfilePeers,
    maxDeviceModels: a.maxDeviceModels,
    maxNewDevicesPerExporterPerMinute: a.maxNewDevicesPerExporterPerMinute,
    reloadMs: a.reloadInterval,
    commitMs: a.commitInterval,
    commitRecords: a.commitRecords,
    exfilMinBytes: a.exfilMinBytes,
    exfilQuietMinBytes: a.exfilQuietMinBytes,
    spikeMinBytes: a.spikeMinBytes,
    signaturesFile: a.signaturesFile,
    threatIntelFile: a.threatIntelFile,
    ouiFiles: a.ouiFiles,
    groupMs: a.groupInterval,
  };
}
