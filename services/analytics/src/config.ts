import type { WardwatchConfig } from '@wardwatch/config';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration such as `500ms`, `30s`, `5m`, `2h` or `7d` (the config schema validated the form). */
export function parseDuration(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(s);
  if (!m) throw new Error(`invalid duration ${JSON.stringify(s)}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

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

/** Derives the analytics settings from the validated configuration. */
export function analyticsSettings(config: WardwatchConfig): AnalyticsSettings {
  const a = config.analytics;
  return {
    groupId: a.groupId,
    monitoredNetworks: config.monitoredNetworks,
    learningMs: parseDuration(a.learningPeriod),
    bucketMs: Math.max(60_000, parseDuration(a.baselineBucket)),
    latenessMs: parseDuration(a.allowedLateness),
    silenceMs: parseDuration(a.silenceAfter),
    maxSkewMs: parseDuration(a.maxClockSkew),
    scanWindowMs: Math.max(1000, parseDuration(a.scanWindow)),
    scanThreshold: a.scanThreshold,
    lateralThreshold: a.lateralThreshold,
    maxProfilePeers: a.maxProfilePeers,
    reloadMs: Math.max(1000, parseDuration(a.reloadInterval)),
    commitMs: parseDuration(a.commitInterval),
    commitRecords: a.commitRecords,
    exfilMinBytes: a.exfilMinBytes,
    exfilQuietMinBytes: a.exfilQuietMinBytes,
    spikeMinBytes: a.spikeMinBytes,
    signaturesFile: a.signaturesFile,
    threatIntelFile: a.threatIntelFile,
    ouiFiles: a.ouiFiles,
    groupMs: Math.max(1000, parseDuration(a.groupInterval)),
  };
}
