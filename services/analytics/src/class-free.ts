import { isSpecial } from './model/addresses.ts';
import {
  ALL_HOURS,
  type DeviceModel,
  type ExternalContact,
  type ProfileEntry,
} from './model/device-model.ts';
import { enoughSightings } from './sampling.ts';

// Detections that need no device class: they judge a device against its own learned history, so a device no
// signature recognises (`unknown`) is watched as closely as a known one.

/** A profile peer (`cidr` text) outside the monitored networks that is the internet (not multicast etc.). */
function isInternetPeer(e: ProfileEntry): boolean {
  if (e.internal) return false;
  if (e.peer === '0.0.0.0/0' || e.peer === '::/0') return true;
  const slash = e.peer.indexOf('/');
  return !isSpecial(slash < 0 ? e.peer : e.peer.slice(0, slash));
}

/** Whether the device's profile, as learned (conversations begun before `learnedAt`), holds an internet peer. */
export function learnedInternet(m: DeviceModel): boolean {
  for (const e of m.profile.values()) if (e.first < m.learnedAt && isInternetPeer(e)) return true;
  return false;
}

/**
 * The internet peers the device conversed with for the first time in this batch, after learning, when its
 * learned profile had none: a first contact with the internet (empty otherwise). Under sampling, only
 * entries that rest on enough sampled packets count (`sampling.ts`).
 */
export function firstInternetContacts(m: DeviceModel): ProfileEntry[] {
  if (!m.stored || m.newEntries.length === 0) return [];
  const fresh: ProfileEntry[] = [];
  for (const [e] of m.newEntries) if (isInternetPeer(e) && enoughSightings(m, e)) fresh.push(e);
  if (fresh.length === 0 || learnedInternet(m)) return [];
  return fresh;
}

/** The outbound bytes of the batch's external contacts with the given peers (host addresses). */
export function contactsOf(
  external: Map<string, ExternalContact> | undefined,
  entries: ProfileEntry[],
): Array<{ peer: string; port: number; bytes: number }> {
  return entries.slice(0, 10).map((e) => {
    const host = e.peer.slice(0, e.peer.indexOf('/'));
    return { peer: host, port: e.port, bytes: external?.get(host)?.bytes ?? 0 };
  });
}

/**
 * Whether the device never sent anything to the internet in its folded history (every bucket's external
 * bytes were zero, over at least `minSamples` buckets): such a device's exfiltration floor is
 * `exfilQuietMinBytes`, far below `exfilMinBytes`.
 */
export function neverSentOutside(m: DeviceModel, minSamples: number): boolean {
  const all = m.stats.get(`ext_bytes_out|${ALL_HOURS}`);
  return all !== undefined && all.n >= minSamples && all.mean === 0 && all.m2 === 0;
}
