import type pg from 'pg';

// The behaviour model is analytics' (docs/analytics.md): device_profiles, device_baselines and model
// columns on devices, read here for the API. One migration folder applies whole, so the tables exist.

/** One profile entry: a peer (host or prefix), service port, protocol and who opened the conversation. */
export interface ProfileEntry {
  peer: string;
  servicePort: number;
  protocol: number;
  direction: 'outbound' | 'inbound';
  peerInternal: boolean;
  flows: number;
  bytesOut: number;
  bytesIn: number;
  packets: number;
  firstSeen: string;
  lastSeen: string;
}

/** Reads the profile entries of a device seen since `since` (all when absent), largest first. */
export async function readProfile(
  pool: pg.Pool,
  ip: string,
  since?: Date,
  limit = 1000,
): Promise<ProfileEntry[] | undefined> {
  const { rows } = await pool.query<{
    peer: string;
    service_port: number;
    protocol: number;
    direction: 'outbound' | 'inbound';
    peer_internal: boolean;
    flows: number;
    bytes_out: number;
    bytes_in: number;
    packets: number;
    first_seen: Date;
    last_seen: Date;
  }>(
    `SELECT peer::text AS peer, service_port, protocol, direction, peer_internal, flows, bytes_out, bytes_in, packets,
            first_seen, last_seen
     FROM device_profiles WHERE device_ip = $1::inet AND ($2::timestamptz IS NULL OR last_seen >= $2::timestamptz)
     ORDER BY flows DESC, peer LIMIT $3`,
    [ip, since ?? null, limit],
  );
  return rows.map((r) => ({
    peer: r.peer,
    servicePort: r.service_port,
    protocol: r.protocol,
    direction: r.direction,
    peerInternal: r.peer_internal,
    flows: r.flows,
    bytesOut: r.bytes_out,
    bytesIn: r.bytes_in,
    packets: r.packets,
    firstSeen: r.first_seen.toISOString(),
    lastSeen: r.last_seen.toISOString(),
  }));
}

/**
 * Extra columns for the device detail query (alias `d` for devices): the profile (largest 500 entries),
 * baselines with their standard deviation, and the learning state, as JSON text. One statement per detail
 * request keeps the hot path to a single round trip. (The pool argument is unused since the tables are no
 * longer probed; kept so the callers stay as they are.)
 */
export async function modelColumns(_pool: pg.Pool): Promise<string> {
  const profile = `(SELECT COALESCE(json_agg(json_build_object('peer', x.peer::text, 'servicePort', x.service_port,
         'protocol', x.protocol, 'direction', x.direction, 'peerInternal', x.peer_internal, 'flows', x.flows,
         'bytesOut', x.bytes_out, 'bytesIn', x.bytes_in, 'packets', x.packets, 'firstSeen', x.first_seen,
         'lastSeen', x.last_seen)), '[]'::json)
       FROM (SELECT * FROM device_profiles WHERE device_ip = d.ip ORDER BY flows DESC, peer LIMIT 500) x)`;
  const baselines = `(SELECT COALESCE(json_agg(json_build_object('metric', b.metric, 'slot', b.slot, 'n', b.n, 'mean', b.mean,
         'stddev', CASE WHEN b.n > 1 THEN sqrt(b.m2 / (b.n - 1)) ELSE 0 END, 'lastBucket', b.last_bucket)
         ORDER BY b.metric, b.slot), '[]'::json)
       FROM device_baselines b WHERE b.device_ip = d.ip)`;
  const state = `json_build_object('learnedAt', d.learned_at, 'lastSent', d.last_sent, 'maxSendGapMs', d.max_send_gap_ms)`;
  return `, (${profile})::text AS model_profile, (${baselines})::text AS model_baselines, (${state})::text AS model_state`;
}
