// The device inventory the API and console benchmarks seed: `devices` devices over 10.0.0.0/8 with the
// six classes in turn, risk spread over 0-100, traffic, a label for one in ten and a MAC for one in three.
import type pg from 'pg';

/** Inserts the benchmark devices (10.0.0.1 upward) into a migrated schema. */
export async function seedDevices(pool: pg.Pool, devices: number): Promise<void> {
  await pool.query(
    `INSERT INTO devices (ip, first_seen, last_seen, bytes_sent, packets_sent, flows_sent, class, class_confidence, risk, label, mac)
     SELECT ('10.0.0.0'::inet + i), now() - interval '30 days', now() - (i % 1440) * interval '1 minute',
            i * 1000, i * 10, i, (ARRAY['infusion_pump','patient_monitor','workstation','pacs','printer','unknown'])[1 + i % 6],
            0.9, (i * 37) % 101, CASE WHEN i % 10 = 0 THEN 'device ' || i END,
            CASE WHEN i % 3 = 0 THEN ('02:00:' || lpad(to_hex((i >> 24) & 255), 2, '0') || ':' || lpad(to_hex((i >> 16) & 255), 2, '0') || ':' ||
                  lpad(to_hex((i >> 8) & 255), 2, '0') || ':' || lpad(to_hex(i & 255), 2, '0'))::macaddr END
     FROM generate_series(1, $1::int) AS i`,
    [devices],
  );
}
