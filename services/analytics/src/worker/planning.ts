import {
  type AlertDraft,
  checkSilence,
  type DetectEnv,
  finishDevice,
  type QuarantineRequest,
} from '../detect.ts';
import { type DeviceModel, effectiveClass, markCommitted } from '../model/device-model.ts';
import type { Classification } from '../signatures.ts';
import { type BatchWrites, planBatch } from '../store/plan-batch.ts';
import type { BatchPlan } from '../store/statements.ts';
import type { Group } from './group.ts';
import { MAX_NOT_DEVICES, type WorkerEnv, type WorkerState } from './state.ts';

// Detection planning and risk: the end of a group, where the detections run over its devices and every
// write (with the offsets it brings the partitions to) is planned from the models as they are then.

/** Risk points of a device's class criticality. */
const CRITICALITY_RISK: Record<string, number> = { low: 5, medium: 10, high: 15, critical: 20 };

/** A group's writes, planned: statements, offsets and what to count once they are committed. */
export interface GroupPlan {
  group: Group;
  batch: BatchPlan;
  /** Partition -> [stored next offset expected, new next offset, watermark]. */
  offsets: Array<[number, bigint, bigint, number]>;
  devices: number;
  alerts: AlertDraft[];
  tApplied: number;
  tPlanned: number;
}

/**
 * Runs the detections over the group's devices and plans every write from the models as they are
 * now; the models' pending changes are then taken (as committed) so the next group starts from zero.
 */
export function planGroup(env: WorkerEnv, state: WorkerState, g: Group): GroupPlan {
  const tApplied = performance.now();
  const writes = detect(env, state, g);
  const batch = planBatch(writes);
  batch.statements.push(...env.manufacturers.plan(writes.devices)); // issue 17: after the devices upsert
  for (const m of writes.devices) {
    markCommitted(m);
    state.notDevices.delete(m.ip);
  }
  const offsets: GroupPlan['offsets'] = [];
  for (const [p, { next, watermark }] of g.partitions) {
    const st = state.partitions.get(p);
    offsets.push([p, st?.planned ?? -1n, next, watermark]);
    if (st) st.planned = next;
  }
  return {
    group: g,
    batch,
    offsets,
    devices: writes.devices.length,
    alerts: writes.alerts,
    tApplied,
    tPlanned: performance.now(),
  };
}

/** The detections over a group's touched devices and the silence of its partitions' devices. */
function detect(env: WorkerEnv, state: WorkerState, g: Group): BatchWrites {
  const { settings, signatures, isInternal } = env;
  const policies = state.policies;
  const envs = new Map<number, DetectEnv>();
  const envOf = (p: number): DetectEnv => {
    let de = envs.get(p);
    if (!de) {
      const watermark = state.partitions.get(p)?.watermark ?? 0;
      de = { settings, signatures, policies, isInternal, watermark };
      // Issue 17: manufacturers (vendor rule), group labels and groups (group-judge.ts).
      de.manufacturerOf = env.manufacturers.manufacturerOf;
      de.groupLabelOf = env.grouping.labelOf;
      de.groupOf = env.grouping.groupOf;
      envs.set(p, de);
    }
    return de;
  };
  const devices: DeviceModel[] = [];
  const classifications: Array<[DeviceModel, Classification]> = [];
  const alerts: AlertDraft[] = [];
  const quarantines: QuarantineRequest[] = [];
  const risk = new Map<string, number>();
  const riskBase = (m: DeviceModel) =>
    CRITICALITY_RISK[signatures.byClass.get(effectiveClass(m))?.criticality ?? ''] ?? 0;
  for (const m of g.touched) {
    // An address that only receives (a scan target) is not a device: nothing to store.
    if (!m.stored && m.flowsSent === 0) {
      state.models.delete(m.ip);
      if (state.notDevices.size < MAX_NOT_DEVICES) state.notDevices.add(m.ip);
      continue;
    }
    devices.push(m);
    const out = finishDevice(m, envOf(m.partition));
    if (out.classification) classifications.push([m, out.classification]);
    if (out.quarantine) quarantines.push(out.quarantine);
    for (const a of out.alerts) alerts.push(a);
    // A new row always gets its risk (it is written in the same statement as the row).
    if (out.alerts.length > 0 || out.classification || !m.stored) risk.set(m.ip, riskBase(m));
  }
  for (const m of state.models.values()) {
    if (!g.partitions.has(m.partition)) continue;
    const silent = checkSilence(m, envOf(m.partition));
    if (silent) {
      alerts.push(silent);
      risk.set(m.ip, riskBase(m));
    }
  }
  return { devices, classifications, alerts, quarantines, risk };
}
