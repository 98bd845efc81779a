import type { AnalyticsSettings } from './config.ts';
import type { DeviceGroup } from './grouping.ts';
import { entryFeatures } from './groups.ts';
import { type DeviceModel, DIRECTION_NAMES, type ProfileEntry } from './model/device-model.ts';

// Detections judged against the device's behaviour group (issue 17): a device with a short history has a
// thin profile of its own, so what its group shares is not new for it; a group that uses the internet
// makes the internet less telling for its young members.

/** Least members for a group to speak for its members. */
export const MIN_GROUP_MEMBERS = 3;

/** What a group already knows of one profile entry: its service, its peer. */
export interface GroupKnowledge {
  service: boolean;
  peer: boolean;
}

/** Nothing known (no group, or the device's own history is long enough). */
export const NOTHING_KNOWN: GroupKnowledge = { service: false, peer: false };

/** A device's own history is short: it has been seen for less than twice its learning period. */
export function isYoung(m: DeviceModel, s: AnalyticsSettings): boolean {
  return m.lastSeen - m.firstSeen < 2 * s.learningMs;
}

/**
 * Whether the group's shared profile holds the entry's service (`uses tcp/443`, `serves tcp/22`,
 * `internet tcp/443`) and its peer (`uses tcp/443 at 10.1.2.3`; only internal servers are named).
 */
export function groupKnows(group: DeviceGroup, e: ProfileEntry): GroupKnowledge {
  const [service, peer] = entryFeatures({
    peer: e.peer,
    port: e.port,
    proto: e.proto,
    dir: DIRECTION_NAMES[e.dir]!,
    internal: e.internal,
  });
  return {
    service: service !== undefined && group.shared.has(service),
    peer: peer !== undefined && group.shared.has(peer),
  };
}

/** Whether the group's members share some use of the internet. */
export function groupUsesInternet(group: DeviceGroup | undefined): boolean {
  if (!group || group.members < MIN_GROUP_MEMBERS) return false;
  for (const f of group.shared) if (f.startsWith('internet ')) return true;
  return false;
}
