-- Up Migration
-- The device inventory: every endpoint inside the monitored networks that has sent traffic.
CREATE TABLE devices (
  ip inet PRIMARY KEY,
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  bytes_sent bigint NOT NULL DEFAULT 0,
  packets_sent bigint NOT NULL DEFAULT 0,
  flows_sent bigint NOT NULL DEFAULT 0,
  bytes_received bigint NOT NULL DEFAULT 0,
  packets_received bigint NOT NULL DEFAULT 0,
  flows_received bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_last_seen_idx ON devices (last_seen DESC);

-- API keys: only a SHA-256 of the key is stored; the prefix lets an admin recognise a key.
CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
  key_hash text NOT NULL UNIQUE,
  key_prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

-- Down Migration
DROP TABLE api_keys;
DROP TABLE devices;
