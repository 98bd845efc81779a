import type pg from 'pg';
import type { DeviceDelta } from './aggregate.ts';

const cols = (ds: DeviceDelta[]) => [
  ds.map((d) => d.ip),
  ds.map((d) => new Date(d.firstMs).toISOString()),
  ds.map((d) => new Date(d.lastMs).toISOString()),
  ds.map((d) => d.bytesSent),
  ds.map((d) => d.packetsSent),
  ds.map((d) => d.flowsSent),
  ds.map((d) => d.bytesReceived),
  ds.map((d) => d.packetsReceived),
  ds.map((d) => d.flowsReceived),
];

const UNNEST = `unnest($1::inet[], $2::timestamptz[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[],
  $7::bigint[], $8::bigint[], $9::bigint[])
  AS u(ip, first_seen, last_seen, bytes_sent, packets_sent, flows_sent, bytes_received, packets_received, flows_received)`;

/**
 * Writes a batch's deltas in two set-based statements: addresses that sent traffic become (or stay)
 * devices; addresses that only received update a device that already exists and are otherwise not
 * devices (a scan target is not a device).
 */
export async function applyDeltas(client: pg.PoolClient, deltas: Iterable<DeviceDelta>): Promise<void> {
  const senders: DeviceDelta[] = [];
  const receivers: DeviceDelta[] = [];
  for (const d of deltas) (d.flowsSent > 0 ? senders : receivers).push(d);
  if (senders.length > 0) {
    await client.query(
      `INSERT INTO devices AS d (ip, first_seen, last_seen, bytes_sent, packets_sent, flows_sent,
         bytes_received, packets_received, flows_received)
       SELECT * FROM ${UNNEST}
       ON CONFLICT (ip) DO UPDATE SET
         first_seen = LEAST(d.first_seen, EXCLUDED.first_seen),
         last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen),
         bytes_sent = d.bytes_sent + EXCLUDED.bytes_sent,
         packets_sent = d.packets_sent + EXCLUDED.packets_sent,
         flows_sent = d.flows_sent + EXCLUDED.flows_sent,
         bytes_received = d.bytes_received + EXCLUDED.bytes_received,
         packets_received = d.packets_received + EXCLUDED.packets_received,
         flows_received = d.flows_received + EXCLUDED.flows_received,
         updated_at = now()`,
      cols(senders),
    );
  }
  if (receivers.length > 0) {
    await client.query(
      `UPDATE devices AS d SET
         last_seen = GREATEST(d.last_seen, u.last_seen),
         bytes_received = d.bytes_received + u.bytes_received,
         packets_received = d.packets_received + u.packets_received,
         flows_received = d.flows_received + u.flows_received,
         updated_at = now()
       FROM ${UNNEST}
       WHERE d.ip = u.ip`,
      cols(receivers),
    );
  }
}
