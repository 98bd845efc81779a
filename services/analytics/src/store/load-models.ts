import type pg from 'pg';
import { bucketAt } from '../model/baselines.ts';
import {
  type Bucket,
  createDeviceModel,
  type DeviceModel,
  INBOUND,
  OUTBOUND,
  type ProfileEntry,
} from '../model/device-model.ts';
import { addProfileEntry } from '../model/profile.ts';
import { type SerializedState, toWindow } from './detect-state.ts';
import { ms } from './sql.ts';

// Reads device models from PostgreSQL: inventory row, profile, baselines and the open buckets rebuilt
// from the minute rollups.

interface DeviceRow {
  ip: string;
  kafka_partition: number | null;
  first_seen: number;
  last_seen: number;
  learned_at: number | null;
  last_sent: number | null;
  max_send_gap_ms: number;
  learned_samples: string;
  baseline_through: number | null;
  detect_state: SerializedState | null;
  silence_reported: number | null;
  class: string;
  class_confidence: number;
  class_override: string | null;
}

/**
 * Loads the stored models of the devices matching `where` ('ip': addresses; 'partition': every device
 * of those partitions), with their profiles, baselines and open baseline buckets (rebuilt from the
 * minute rollups after `baseline_through`). Addresses without a row are absent from the result.
 */
export async function loadModels(
  db: pg.Pool | pg.PoolClient,
  where: { ips: string[] } | { partitions: number[] },
  learningMs: number,
  bucketMs: number,
): Promise<Map<string, DeviceModel>> {
  const [cond, param] =
    'ips' in where
      ? ['d.ip = ANY($1::inet[])', where.ips]
      : ['d.kafka_partition = ANY($1::int[])', where.partitions];
  const devices = await db.query<DeviceRow>(
    `SELECT host(d.ip) AS ip, d.kafka_partition, ${ms('d.first_seen')} AS first_seen, ${ms('d.last_seen')} AS last_seen,
       ${ms('d.learned_at')} AS learned_at, ${ms('d.last_sent')} AS last_sent, d.max_send_gap_ms, d.learned_samples,
       ${ms('d.baseline_through')} AS baseline_through, d.detect_state, d.class, d.class_confidence, d.class_override,
       (SELECT ${ms("(a.evidence->>'lastSent')::timestamptz")} FROM alerts a
        WHERE a.device_ip = d.ip AND a.kind = 'device_silent' AND a.status <> 'resolved') AS silence_reported
     FROM devices d WHERE ${cond}`,
    [param],
  );
  const models = new Map<string, DeviceModel>();
  if (devices.rows.length === 0) return models;
  for (const r of devices.rows) {
    const m = createDeviceModel(r.ip, r.kafka_partition ?? -1);
    m.stored = true;
    m.firstSeen = r.first_seen;
    m.lastSeen = r.last_seen;
    m.learnedAt = r.learned_at ?? r.first_seen + learningMs;
    m.lastSent = r.last_sent ?? 0;
    m.maxSendGap = Number(r.max_send_gap_ms);
    m.learnedSamples = Number(r.learned_samples);
    m.baselineThrough = r.baseline_through ?? 0;
    m.window = toWindow(r.detect_state);
    // The silence the open device_silent alert reports (its evidence names the last sending): not again.
    m.silenceReported = r.silence_reported ?? 0;
    m.inferredClass = r.class;
    m.classConfidence = r.class_confidence;
    m.classOverride = r.class_override;
    models.set(r.ip, m);
  }
  const ips = [...models.keys()];
  const [profiles, baselines, rollups] = await Promise.all([
    db.query<{
      ip: string;
      peer: string;
      service_port: number;
      protocol: number;
      direction: string;
      peer_internal: boolean;
      flows: string;
      first_seen: number;
      last_seen: number;
    }>(
      `SELECT host(device_ip) AS ip, peer::text AS peer, service_port, protocol, direction, peer_internal, flows,
         ${ms('first_seen')} AS first_seen, ${ms('last_seen')} AS last_seen
       FROM device_profiles WHERE device_ip = ANY($1::inet[])`,
      [ips],
    ),
    db.query<{ ip: string; metric: string; slot: number; n: number; mean: number; m2: number; last: number }>(
      `SELECT host(device_ip) AS ip, metric, slot, n, mean, m2, ${ms('last_bucket')} AS last
       FROM device_baselines WHERE device_ip = ANY($1::inet[])`,
      [ips],
    ),
    db.query<{ ip: string; minute: number; bo: number; bi: number; pk: number; flows: number; eo: number }>(
      `SELECT host(r.device_ip) AS ip, ${ms('r.minute')} AS minute, r.bytes_out AS bo, r.bytes_in AS bi,
         r.packets_out + r.packets_in AS pk, r.flows, r.ext_bytes_out AS eo
       FROM device_rollups_minute r JOIN devices d ON d.ip = r.device_ip
       WHERE r.device_ip = ANY($1::inet[]) AND r.minute >= COALESCE(d.baseline_through, '-infinity')`,
      [ips],
    ),
  ]);
  for (const p of profiles.rows) {
    const m = models.get(p.ip);
    if (!m) continue;
    const slash = p.peer.indexOf('/');
    const bits = Number(p.peer.slice(slash + 1));
    const host = p.peer.slice(0, slash);
    const isHost = bits === 32 || bits === 128;
    const peerKey = isHost ? host : p.peer;
    const dir = p.direction === 'inbound' ? INBOUND : OUTBOUND;
    const key = `${peerKey}|${p.service_port}|${p.protocol}|${dir}`;
    const e: ProfileEntry = {
      key,
      peer: p.peer,
      port: p.service_port,
      proto: p.protocol,
      dir,
      internal: p.peer_internal,
      seen: Number(p.flows),
      flows: 0,
      bytesOut: 0,
      bytesIn: 0,
      packets: 0,
      first: p.first_seen,
      last: p.last_seen,
      dirty: false,
      stored: true,
      rateMinute: 0,
      rateBytes: 0,
    };
    addProfileEntry(m, peerKey, e);
    if (isHost) m.peers.add(host);
  }
  for (const b of baselines.rows) {
    models.get(b.ip)?.stats.set(`${b.metric}|${b.slot}`, {
      n: Number(b.n),
      mean: b.mean,
      m2: b.m2,
      last: b.last,
      dirty: false,
    });
  }
  for (const r of rollups.rows) {
    const m = models.get(r.ip);
    if (!m) continue;
    m.rollupMinutes.add(r.minute);
    const b = bucketAt(m, r.minute, bucketMs);
    if (!b) continue;
    b.bytesOut += Number(r.bo);
    b.bytesIn += Number(r.bi);
    b.packets += Number(r.pk);
    b.flows += Number(r.flows);
    b.extOut += Number(r.eo);
  }
  // Alert kinds already raised for the open buckets.
  for (const r of devices.rows) {
    const reported = r.detect_state?.buckets;
    if (!Array.isArray(reported)) continue;
    const m = models.get(r.ip)!;
    for (const [start, bits] of reported) {
      const b = bucketAt(m, start, bucketMs);
      if (b) b.reported |= bits;
    }
  }
  // Distinct peers of an open bucket, approximated by the profile entries last seen within it; a host
  // peer by its address, as applying a record adds it (not its /32 or /128, which would count it twice).
  for (const m of models.values()) {
    if (m.buckets.size === 0) continue;
    for (const e of m.profile.values()) {
      const start = e.last - (e.last % bucketMs);
      const b: Bucket | undefined = m.buckets.get(start);
      if (!b) continue;
      const slash = e.peer.indexOf('/');
      const bits = e.peer.slice(slash + 1);
      b.peers.add(bits === '32' || bits === '128' ? e.peer.slice(0, slash) : e.peer);
    }
  }
  return models;
}
