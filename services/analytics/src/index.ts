// Analytics: consumes flow records as a consumer group into the device inventory, classification,
// behaviour models (profiles, baselines, rollups) and alerts, exactly once (models and offsets commit together).
// This front door assembles the worker from its parts (worker/): partition offsets and rewind, ingest,
// group commit, detection planning, reloads and the ops server, all sharing one explicit WorkerState.
import type { Server } from 'node:http';
import type { WardwatchConfig } from '@wardwatch/config';
import { createDeviceMatcher, Topics } from '@wardwatch/flow-schema';
import type { Database } from '@wardwatch/storage';
import { type Logger, type Registry, traceConsume } from '@wardwatch/telemetry';
import type { ConsumedBatch, Transport } from '@wardwatch/transport';
import { analyticsSettings } from './config.ts';
import { createGroupingJob, type RegroupResult } from './grouping.ts';
import { createAnalyticsMetrics } from './metrics.ts';
import { loadSignatures } from './signatures.ts';
import { loadModels } from './store/load-models.ts';
import { createThreatIntel } from './threat-intel.ts';
import { createManufacturers } from './vendor.ts';
import { GroupCommit } from './worker/group-commit.ts';
import { Ingest } from './worker/ingest.ts';
import { closeOps, startAnalyticsOps } from './worker/ops.ts';
import { PartitionOffsets } from './worker/partitions.ts';
import { POLICY_WATCH_MS } from './worker/policy-watch.ts';
import { type ReloadResult, regroup, reload, watchPolicies } from './worker/reloads.ts';
import { SerialQueue } from './worker/serial.ts';
import { type AnalyticsCounts, type WorkerEnv, WorkerState } from './worker/state.ts';

export { type AnalyticsSettings, analyticsSettings } from './config.ts';
export type { AlertDraft, AlertKind } from './detect.ts';
export { createGroupingJob, type GroupingJob, type RegroupResult } from './grouping.ts';
export {
  type GroupEntry,
  type GroupInput,
  type Grouping,
  type GroupOptions,
  groupProfiles,
} from './groups.ts';
export {
  BUILTIN_SIGNATURES,
  type Classification,
  type ClassSignature,
  classify,
  type DeviceFeatures,
  loadSignatures,
  SignatureError,
  type Signatures,
} from './signatures.ts';
export {
  createThreatIntel,
  parseThreatIntel,
  type ThreatIntel,
  type ThreatIntelLoad,
} from './threat-intel.ts';
export type { ReloadResult } from './worker/reloads.ts';
export type { AnalyticsCounts } from './worker/state.ts';

/** What an analytics worker needs from its assembly. */
export interface AnalyticsDeps {
  config: WardwatchConfig;
  transport: Transport;
  db: Database;
  logger: Logger;
  registry: Registry;
}

/** A running analytics worker. */
export interface Analytics {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Applies one batch (exposed for tests and benchmarks; the subscriber calls it). */
  handle(batch: ConsumedBatch): Promise<void>;
  /** Commits what is applied and not yet committed, now (a commit is otherwise due after `analytics.commitInterval`). */
  flush(): Promise<void>;
  /** Re-reads policies, class overrides and the threat-intel list now (they are also re-read periodically). */
  reload(): Promise<ReloadResult>;
  /** Counts since start: records applied, records skipped as unusable, batches committed. */
  counts(): AnalyticsCounts;
  /** Regroups the devices by behaviour now (it also runs every `analytics.groupInterval`); issue 17. */
  regroup(): Promise<RegroupResult>;
}

/** Creates an analytics worker; it joins the consumer group on `start()`. Throws SignatureError on bad signatures. */
export function createAnalytics(deps: AnalyticsDeps): Analytics {
  const { config, transport, db, logger } = deps;
  const settings = analyticsSettings(config);
  const metrics = createAnalyticsMetrics(deps.registry);
  const matcher = createDeviceMatcher(settings.monitoredNetworks);
  const exactlyOnce = transport.kind === 'kafka';
  const env: WorkerEnv = {
    settings,
    metrics,
    logger,
    db,
    signatures: loadSignatures(settings.signaturesFile),
    threatIntel: createThreatIntel(settings.threatIntelFile),
    isInternal: (addr) => matcher.isDevice(addr),
    exactlyOnce,
    spanFetches: exactlyOnce && settings.commitMs > 0,
    topic: Topics.flows,
    manufacturers: createManufacturers(settings.ouiFiles),
    grouping: createGroupingJob(db.pool, { intervalMs: settings.groupMs }),
  };
  const state = new WorkerState(metrics, settings.maxNewDevicesPerExporterPerMinute);
  const queue = new SerialQueue();
  const offsets = new PartitionOffsets(env, state);
  const commits = new GroupCommit(env, state, offsets);
  const ingest = new Ingest(env, state, offsets, commits);
  let timer: NodeJS.Timeout | undefined;
  let policyWatch: NodeJS.Timeout | undefined;
  let commitTimer: NodeJS.Timeout | undefined;
  let ops: Server | undefined;

  function onAssign(assigned: number[]): Promise<Map<number, string>> {
    return queue.run(async () => {
      // A write in flight lands first: the offsets read below then include it.
      await commits.writing;
      commits.abandon(new Error('partitions reassigned'));
      const seek = await offsets.assign(assigned);
      // Every model of the new partitions, so that silence is noticed for devices that never send again.
      if (assigned.length > 0) {
        const loaded = await loadModels(
          db.pool,
          { partitions: assigned },
          settings.learningMs,
          settings.bucketMs,
        );
        for (const [ip, m] of loaded) {
          m.classOverride = state.overrideOf(ip) ?? m.classOverride;
          state.models.set(ip, m);
        }
      }
      metrics.models.set(state.models.size);
      logger.info(
        { partitions: assigned, devices: state.models.size },
        'partitions assigned; resuming from stored offsets',
      );
      return seek;
    });
  }

  /**
   * Handles one batch: applies it (serially with every other batch), then waits for the commit of the
   * group it joined. The commit is queued behind the batches already waiting, so batches handed in
   * together (kafkajs consuming several partitions at once) commit in one transaction.
   */
  async function handle(batch: ConsumedBatch): Promise<void> {
    // A CONSUMER span, child of (or linked to) the collector's publish span when tracing is on.
    await traceConsume(batch.topic, batch.messages, async () => {
      const joined = await queue.run(() => ingest.ingest(batch));
      if (!joined) return;
      if (env.spanFetches) {
        // Handed back once the write has started (a failed write seeks the partitions back).
        if (commits.due(joined)) await queue.run(() => commits.commit());
        return;
      }
      queue.run(() => commits.commit()).catch(() => {});
      await joined.done;
    });
  }

  /** Commits the open group now; rejects when that commit fails. */
  async function flush(): Promise<void> {
    const g = commits.group;
    if (!g) return commits.writing;
    queue.run(() => commits.commit()).catch(() => {});
    await g.done;
  }

  /** The open group commits when due even if no further batch arrives; dropped work is read again. */
  function startCommitTimer(): NodeJS.Timeout {
    const t = setInterval(
      () => {
        const due = () => commits.group !== undefined && commits.due(commits.group);
        if (due() || offsets.needRewind)
          queue
            .run(async () => {
              if (due()) await commits.commit();
              await offsets.rewind();
            })
            .catch(() => {});
      },
      Math.max(50, Math.floor(settings.commitMs / 4)),
    );
    t.unref();
    return t;
  }

  return {
    handle,
    flush,
    reload: () => reload(env, state, queue),
    counts: () => ({ ...state.counts }),
    regroup: () => regroup(env, state, queue, true),
    async start() {
      await reload(env, state, queue);
      timer = setInterval(() => void reload(env, state, queue), settings.reloadMs);
      timer.unref();
      policyWatch = setInterval(() => void watchPolicies(env, state, queue), POLICY_WATCH_MS);
      policyWatch.unref();
      if (env.spanFetches) commitTimer = startCommitTimer();
      await transport.ensureTopic(env.topic, config.kafka.flowPartitions);
      const subscriber = await transport.createSubscriber(settings.groupId);
      offsets.subscriber = subscriber;
      await subscriber.start(env.topic, handle, { onAssign, concurrency: config.kafka.flowPartitions });
      ops = await startAnalyticsOps(config, deps.registry, db, transport);
      logger.info(
        {
          groupId: settings.groupId,
          exactlyOnce,
          classes: env.signatures.classes.length,
          threatIntel: env.threatIntel.size(),
        },
        'analytics consuming flow records',
      );
    },
    async stop() {
      if (timer) clearInterval(timer);
      if (policyWatch) clearInterval(policyWatch);
      if (commitTimer) clearInterval(commitTimer);
      await closeOps(ops);
      await offsets.subscriber?.close();
      // What was applied and not committed yet (fenced if the partitions moved on meanwhile).
      await flush().catch(() => {});
      await queue.idle();
    },
  };
}
