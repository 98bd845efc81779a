-- Up Migration
-- Analytics: behaviour models, baselines, rollups and the consumed Kafka offsets, written by the analytics
-- worker in one transaction per batch (exactly once). Documented in docs/analytics.md; names are stable.

-- Model state on the inventory row (flow time throughout).
ALTER TABLE devices
  -- Kafka partition the device's flows arrive on: the worker that owns the partition owns the model.
  ADD COLUMN kafka_partition integer,
  -- Flow time from which the device's profile counts as learned ("normal").
  ADD COLUMN learned_at timestamptz,
  -- Latest end of a flow the device sent, and the longest gap between its sending seen so far (ms).
  ADD COLUMN last_sent timestamptz,
  ADD COLUMN max_send_gap_ms bigint NOT NULL DEFAULT 0,
  -- Baseline buckets ending at or before this flow time are folded into device_baselines; later ones are
  -- still open (their figures are the device's device_rollups_minute rows from here on).
  ADD COLUMN baseline_through timestamptz,
  -- Open detection windows (scan / lateral movement sets); NULL when nothing is pending.
  ADD COLUMN detect_state jsonb;
CREATE INDEX devices_partition_idx ON devices (kafka_partition);

-- Communication profile: who the device talks to, on which service, in which direction.
-- direction 'outbound': the device opened the conversation to the peer's service_port;
-- 'inbound': the peer opened it to the device's service_port. peer is a host (/32, /128) or a peer
-- group (a wider prefix) once the device has more distinct peers than the profile keeps.
CREATE TABLE device_profiles (
  device_ip inet NOT NULL,
  peer cidr NOT NULL,
  service_port integer NOT NULL,
  protocol smallint NOT NULL,
  direction text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
  peer_internal boolean NOT NULL,
  flows bigint NOT NULL DEFAULT 0,
  bytes_out bigint NOT NULL DEFAULT 0,
  bytes_in bigint NOT NULL DEFAULT 0,
  packets bigint NOT NULL DEFAULT 0,
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  PRIMARY KEY (device_ip, peer, service_port, protocol, direction)
);

-- Baselines per device, metric and time-of-day slot (hour 0..23 UTC; -1 = every hour): running count,
-- mean and M2 (Welford; variance = m2 / (n - 1)) of the per-bucket figures.
-- metric: bytes_out, bytes_in, packets, flows, peers, ext_bytes_out.
CREATE TABLE device_baselines (
  device_ip inet NOT NULL,
  metric text NOT NULL,
  slot smallint NOT NULL,
  n bigint NOT NULL DEFAULT 0,
  mean double precision NOT NULL DEFAULT 0,
  m2 double precision NOT NULL DEFAULT 0,
  last_bucket timestamptz NOT NULL,
  PRIMARY KEY (device_ip, metric, slot)
);

-- Per device per minute traffic (flow time; a long flow's counters are spread over its minutes).
CREATE TABLE device_rollups_minute (
  device_ip inet NOT NULL,
  minute timestamptz NOT NULL,
  bytes_out bigint NOT NULL DEFAULT 0,
  bytes_in bigint NOT NULL DEFAULT 0,
  packets_out bigint NOT NULL DEFAULT 0,
  packets_in bigint NOT NULL DEFAULT 0,
  flows bigint NOT NULL DEFAULT 0,
  -- Bytes sent to peers outside the monitored networks.
  ext_bytes_out bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (device_ip, minute)
);
CREATE INDEX device_rollups_minute_time_idx ON device_rollups_minute (minute);

-- Alerts over time: detections per minute (flow time of the evidence), kind and severity.
CREATE TABLE alert_rollups_minute (
  minute timestamptz NOT NULL,
  kind text NOT NULL,
  severity text NOT NULL,
  count bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (minute, kind, severity)
);

-- Addresses a MAC has used (IP changes tracked by MAC, when exporters send MACs).
CREATE TABLE device_addresses (
  mac macaddr NOT NULL,
  ip inet NOT NULL,
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  PRIMARY KEY (mac, ip)
);

-- The next Kafka offset to consume per consumer group and partition, committed with the models.
CREATE TABLE analytics_offsets (
  group_id text NOT NULL,
  topic text NOT NULL,
  partition integer NOT NULL,
  next_offset bigint NOT NULL,
  -- Newest flow time seen on the partition (closes baseline buckets, measures silence).
  flow_watermark timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);

-- Down Migration
DROP TABLE analytics_offsets;
DROP TABLE device_addresses;
DROP TABLE alert_rollups_minute;
DROP TABLE device_rollups_minute;
DROP TABLE device_baselines;
DROP TABLE device_profiles;
DROP INDEX devices_partition_idx;
ALTER TABLE devices
  DROP COLUMN kafka_partition, DROP COLUMN learned_at, DROP COLUMN last_sent, DROP COLUMN max_send_gap_ms,
  DROP COLUMN baseline_through, DROP COLUMN detect_state;
