import type { DeviceModel, ProfileEntry } from './model/device-model.ts';

// Evidence under packet sampling (issue 17). A record exported at 1:N stands for N times what it counts, so
// byte estimates stay unbiased (the model scales them), but what a detection reads as *absent* (a peer never
// seen while learning, a heartbeat not seen for a while) is weak evidence when most packets are never
// exported. These rules judge a detection on what the device's own learnt traffic leads one to expect, so
// they hold at any rate: at 1:1 they change nothing for devices whose profile covers their traffic.

/** False alerts per clean device-day the rules below are built to stay under (the product's goal). */
export const FALSE_ALERTS_PER_DEVICE_DAY = 0.01;
/** Least share of a device's records its learnt profile must cover for a new entry to be news. */
export const MIN_PROFILE_COVERAGE = 0.99;
/** Least sampled packets behind a never-seen entry, in the batch that shows it, for it to be news. */
export const MIN_SAMPLED_SIGHTINGS = 3;
/** Least sampled packets learnt before silence is judged on a sampled heartbeat. */
export const MIN_LEARNT_SAMPLES = 20;
/** Least full-size sampled frames a byte estimate must rest on before it can make a volume alert. */
export const MIN_SAMPLED_FRAMES = 5;
/** A full-size Ethernet payload: what one sampled packet can stand for at most, per unit of the rate. */
export const FULL_FRAME_BYTES = 1500;
const DAY_MS = 86_400_000;

/**
 * Good–Turing coverage of the device's profile: 1 − (entries seen in exactly one record) / (records), over
 * the entries older than this batch's new ones. It estimates the share of the device's next records that go
 * to an entry the profile already holds; a profile learnt from sampled flows is mostly single sightings, so
 * its coverage is low and a "new" peer or service is as likely an unsampled old one. 1 when it has no records.
 */
export function profileCoverage(m: DeviceModel): number {
  let records = 0;
  let singles = 0;
  for (const e of m.profile.values()) {
    if (isNewInBatch(m, e)) continue;
    records += e.seen;
    if (e.seen === 1) singles++;
  }
  return records === 0 ? 1 : 1 - singles / records;
}

/** Whether the entry is one of the batch's new entries (created after learning). */
export function isNewInBatch(m: DeviceModel, e: ProfileEntry): boolean {
  for (const [n] of m.newEntries) if (n === e) return true;
  return false;
}

/** Whether the learnt profile covers the device's traffic well enough for a never-seen entry to be news. */
export function profileCoversNews(m: DeviceModel): boolean {
  return profileCoverage(m) >= MIN_PROFILE_COVERAGE;
}

/**
 * Whether a never-seen entry rests on enough sampled packets to be news: at 1:N (N > 1) one or two sampled
 * packets stand for anything from one packet to a few N, as likely a rare conversation learning did not
 * sample as a new one; it needs {@link MIN_SAMPLED_SIGHTINGS} in the batch that shows it. Unsampled, a
 * record is the conversation itself: always enough.
 */
export function enoughSightings(
  m: Pick<DeviceModel, 'samplingRate'>,
  e: Pick<ProfileEntry, 'packets'>,
): boolean {
  const rate = m.samplingRate;
  return rate <= 1 || e.packets / rate >= MIN_SAMPLED_SIGHTINGS;
}

/**
 * The shortest silence that a sampled heartbeat makes by chance less than {@link FALSE_ALERTS_PER_DEVICE_DAY}
 * times a day. Sampled packets of a device that still sends arrive at about `perMs` (a Poisson process: 1-in-N
 * sampling thins the device's packets among everyone's), so a gap longer than T happens `perMs · day ·
 * e^(−perMs·T)` times a day: T = ln(perMs · day / budget) / perMs. 0 for a device sending too few sampled
 * packets a day for a gap to matter.
 */
export function sampledSilenceMs(perMs: number): number {
  if (!(perMs > 0)) return 0;
  const gapsPerDay = perMs * DAY_MS;
  if (gapsPerDay <= FALSE_ALERTS_PER_DEVICE_DAY) return 0;
  return Math.log(gapsPerDay / FALSE_ALERTS_PER_DEVICE_DAY) / perMs;
}

/**
 * How long a device must have sent nothing, by its sampled heartbeat, before silence is evidence: 0 when its
 * learnt sending was not sampled (the learnt gaps judge it), `Infinity` when learning saw too few sampled
 * packets to say (silence is not judged), else {@link sampledSilenceMs} of its learnt sampled rate.
 */
export function silenceEvidenceMs(
  m: Pick<DeviceModel, 'learnedSamples' | 'learnedAt' | 'firstSeen'>,
): number {
  if (m.learnedSamples === 0) return 0;
  if (m.learnedSamples < MIN_LEARNT_SAMPLES) return Number.POSITIVE_INFINITY;
  const span = m.learnedAt - m.firstSeen;
  return span > 0 ? sampledSilenceMs(m.learnedSamples / span) : Number.POSITIVE_INFINITY;
}

/**
 * The least bytes a sampled estimate must reach before a volume alert (spike, exfiltration) can rest on
 * it: {@link MIN_SAMPLED_FRAMES} full frames at the device's sampling rate (0 unsampled). Below it, one or two
 * sampled packets make the estimate (at 1:100 one 1500-byte packet reads as 150 kB).
 */
export function sampledFloorBytes(rate: number): number {
  return rate > 1 ? MIN_SAMPLED_FRAMES * rate * FULL_FRAME_BYTES : 0;
}
