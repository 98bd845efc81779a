import type { AlertDraft, QuarantineRequest } from '../detect.ts';
import type { DeviceModel } from '../model/device-model.ts';
import type { Classification } from '../signatures.ts';
import { planAlerts } from './alerts.ts';
import { planDevices } from './devices.ts';
import { planModelRows } from './model-rows.ts';
import { planQuarantines } from './quarantines.ts';
import { planRisk } from './risk.ts';
import type { BatchPlan, Statement } from './statements.ts';

/** What one batch changes, gathered by the worker. */
export interface BatchWrites {
  devices: DeviceModel[];
  classifications: Array<[DeviceModel, Classification]>;
  alerts: AlertDraft[];
  quarantines: QuarantineRequest[];
  /** Risk base per device (class criticality) for devices whose risk must be recomputed. */
  risk: Map<string, number>;
}

/**
 * Builds the statements that write one batch's changes, from the models as they are now: the caller may
 * change the models again (apply the next batch) while the plan runs. Alerts come first: the devices
 * statements recompute risk from the open alerts.
 */
export function planBatch(w: BatchWrites): BatchPlan {
  const out: Statement[] = [];
  let rows = planAlerts(out, w.alerts);
  rows += planDevices(out, w.devices, w.classifications, w.risk);
  rows += planModelRows(out, w.devices);
  planQuarantines(out, w.quarantines);
  planRisk(out, w.risk, new Set(w.devices.map((m) => m.ip)));
  return { statements: out, rows };
}
