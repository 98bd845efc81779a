import type { Database } from '@wardwatch/storage';
import type { Logger } from '@wardwatch/telemetry';
import type { AnalyticsSettings } from '../config.ts';
import type { GroupingJob } from '../grouping.ts';
import type { AnalyticsMetrics } from '../metrics.ts';
import type { DeviceModel } from '../model/device-model.ts';
import { NO_POLICIES, type PolicySet } from '../policies.ts';
import type { Signatures } from '../signatures.ts';
import type { ThreatIntel } from '../threat-intel.ts';
import type { Manufacturers } from '../vendor.ts';
import { createNewDeviceLimit, type NewDeviceLimit } from './new-device-limit.ts';

// The analytics worker's shared state, explicit: what every part reads (its environment, fixed at
// creation) and the caches they change (models, partition positions, policies, counts).

/** What the worker's parts share and never change after creation. */
export interface WorkerEnv {
  settings: AnalyticsSettings;
  metrics: AnalyticsMetrics;
  logger: Logger;
  db: Database;
  signatures: Signatures;
  threatIntel: ThreatIntel;
  isInternal(addr: string): boolean;
  /** Offsets are stored with the models only on Kafka: the in-process bus restarts from zero every run. */
  exactlyOnce: boolean;
  /**
   * On Kafka a commit spans several fetches (a device's rows are written once for many of its records):
   * the handler returns before its records are committed, and the stored offsets say where to read
   * again after a failure. The in-process bus commits every batch before it returns.
   */
  spanFetches: boolean;
  topic: string;
  /** Manufacturers from MACs (issue 17: vendor.ts). */
  manufacturers: Manufacturers;
  /** The behaviour-grouping job and the groups it found (issue 17: grouping.ts). */
  grouping: GroupingJob;
}

/**
 * Counts since start: records applied, records skipped as unusable, batches committed, duplicates
 * skipped, commits (transactions) and model rows they wrote.
 */
export interface AnalyticsCounts {
  records: number;
  skipped: number;
  batches: number;
  duplicates: number;
  commits: number;
  rows: number;
}

/** A partition's position: stored, planned, applied in memory. */
export interface PartitionState {
  /** Next offset to consume as stored (-1: nothing stored yet). */
  next: bigint;
  /** Next offset as the last planned write stores it (ahead of `next` while that write runs). */
  planned: bigint;
  /** Next offset to consume as applied in memory (ahead of `next` while a group is open). */
  applied: bigint;
  /** Newest flow time seen, applied in memory. */
  watermark: number;
}

/** Addresses known not to be devices are remembered up to this many. */
export const MAX_NOT_DEVICES = 100_000;

/** The caches the worker's parts change; the database is the truth, these are dropped when in doubt. */
export class WorkerState {
  readonly models = new Map<string, DeviceModel>();
  /** Addresses known not to be devices (never sent): no need to look them up again (bounded). */
  readonly notDevices = new Set<string>();
  readonly partitions = new Map<number, PartitionState>();
  /** Bumped whenever the cache is dropped: a plan from an older epoch must not be written. */
  epoch = 0;
  policies: PolicySet = NO_POLICIES;
  /** The policies' version as last loaded (policy-watch.ts): a change reloads them within seconds. */
  policiesVersion = '';
  /** New devices per exporter per minute (a forged or broken exporter cannot flood the inventory). */
  readonly newDevices: NewDeviceLimit;
  readonly counts: AnalyticsCounts = {
    records: 0,
    skipped: 0,
    batches: 0,
    duplicates: 0,
    commits: 0,
    rows: 0,
  };

  constructor(
    private readonly metrics: AnalyticsMetrics,
    maxNewDevicesPerExporterPerMinute: number,
  ) {
    this.newDevices = createNewDeviceLimit(maxNewDevicesPerExporterPerMinute);
  }

  /** Forgets every cached model and offset: after a failed write or a rebalance the database is the truth. */
  drop(): void {
    this.epoch++;
    this.models.clear();
    this.notDevices.clear();
    this.partitions.clear();
    this.metrics.models.set(0);
  }

  /** The analyst's class override of a device, as of the latest policy load. */
  overrideOf(ip: string): string | undefined {
    return this.policies.overrides.get(ip);
  }
}
