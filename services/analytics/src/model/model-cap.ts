import type { DeviceModel } from './device-model.ts';

/**
 * Bounds the device models a worker holds: past `max`, the least recently seen (flow time) are dropped
 * down to 90 % of `max`, so a flood of forged addresses cannot exhaust memory. Only models whose changes
 * are all committed are dropped (`touched` ones wait): the database holds them, and a dropped device's
 * next record loads it again. Returns how many were dropped.
 */
export function evictModels(models: Map<string, DeviceModel>, max: number): number {
  if (models.size <= max) return 0;
  const idle = [...models.values()].filter((m) => !m.touched).sort((a, b) => a.lastSeen - b.lastSeen);
  const drop = Math.min(idle.length, models.size - Math.floor(max * 0.9));
  for (let i = 0; i < drop; i++) models.delete(idle[i]!.ip);
  return drop;
}
