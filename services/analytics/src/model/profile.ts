import type { DeviceModel, ProfileEntry } from './device-model.ts';

// A device's communication profile: entries by key and by (peer, slot) for the hot path.

/** A (service port, protocol, direction) as one small integer (ports < 65536, protocols < 256). */
export function profileSlot(port: number, proto: number, dir: number): number {
  return port * 512 + proto * 2 + dir;
}

/** Adds an entry to a device's profile; `peer` is the host address or the peer group's CIDR. */
export function addProfileEntry(m: DeviceModel, peer: string, e: ProfileEntry): void {
  m.profile.set(e.key, e);
  let slots = m.profileByPeer.get(peer);
  if (!slots) {
    slots = new Map();
    m.profileByPeer.set(peer, slots);
  }
  slots.set(profileSlot(e.port, e.proto, e.dir), e);
}
