import { applyLabels, type RegroupResult } from '../grouping.ts';
import { loadPolicies } from '../policies.ts';
import type { ThreatIntelLoad } from '../threat-intel.ts';
import { policyVersion } from './policy-watch.ts';
import type { SerialQueue } from './serial.ts';
import type { WorkerEnv, WorkerState } from './state.ts';

// Reloads: the threat-intelligence list from its file, the policies and class overrides from the
// database. A failed reload keeps what was loaded before.

/** What a reload found. */
export interface ReloadResult {
  policies: number;
  threatIntel: ThreatIntelLoad;
}

/** Re-reads the threat-intel list, the policies and the class overrides; applies them between batches. */
export async function reload(env: WorkerEnv, state: WorkerState, queue: SerialQueue): Promise<ReloadResult> {
  const { metrics, logger } = env;
  const ti = env.threatIntel.reload();
  if (ti.status === 'loaded') {
    metrics.reloads.inc({ what: 'threat_intel', outcome: 'loaded' });
    logger.info({ entries: ti.entries, invalid: ti.invalid.length }, 'threat-intelligence list loaded');
    if (ti.invalid.length > 0) logger.warn({ lines: ti.invalid.slice(0, 10) }, 'threat-intel lines ignored');
  } else if (ti.status === 'failed') {
    metrics.reloads.inc({ what: 'threat_intel', outcome: 'failed' });
    logger.warn({ error: ti.error }, 'threat-intelligence list not reloaded; keeping the previous one');
  }
  await reloadPolicies(env, state, queue);
  await regroup(env, state, queue, false).catch((err) =>
    logger.warn({ err }, 'behaviour groups not updated'),
  );
  return { policies: state.policies.size(), threatIntel: ti };
}

/** Re-reads the policies and class overrides; applies them between batches. A failure keeps the old ones. */
async function reloadPolicies(env: WorkerEnv, state: WorkerState, queue: SerialQueue): Promise<void> {
  const { metrics, logger } = env;
  try {
    const version = await policyVersion(env.db.pool);
    const next = await loadPolicies(env.db.pool);
    await queue.run(async () => {
      state.policies = next;
      for (const m of state.models.values()) m.classOverride = next.overrides.get(m.ip) ?? null;
    });
    state.policiesVersion = version;
    metrics.reloads.inc({ what: 'policies', outcome: 'loaded' });
  } catch (err) {
    metrics.reloads.inc({ what: 'policies', outcome: 'failed' });
    logger.warn({ err }, 'policies not reloaded; keeping the previous ones');
  }
}

/** Reloads the policies when their version moved (a policy saved through the API applies within seconds). */
export async function watchPolicies(env: WorkerEnv, state: WorkerState, queue: SerialQueue): Promise<void> {
  const v = await policyVersion(env.db.pool).catch(() => state.policiesVersion);
  if (v !== state.policiesVersion) await reloadPolicies(env, state, queue);
}

/** Runs the grouping job (when due, or `force`) and gives cached models their group labels (issue 17). */
export async function regroup(
  env: WorkerEnv,
  state: WorkerState,
  queue: SerialQueue,
  force: boolean,
): Promise<RegroupResult> {
  const r = await env.grouping.run({ force });
  if (!r.ran) await env.grouping.loadLabels();
  await queue.run(async () => applyLabels(state.models.values(), env.grouping));
  return r;
}
