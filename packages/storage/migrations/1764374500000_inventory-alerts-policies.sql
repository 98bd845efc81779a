-- Up Migration
-- Shared contract between analytics (writes inventory, models, alerts) and policy (serves them, writes
-- analyst fields and policies). Later migrations may add columns and tables; they never repurpose these.

-- Identification and analyst fields on the inventory.
ALTER TABLE devices
  ADD COLUMN mac macaddr,
  ADD COLUMN vlan integer,
  ADD COLUMN exporter inet,
  ADD COLUMN input_if integer,
  -- Inferred class, its confidence (0..1) and the evidence behind it, written by analytics.
  ADD COLUMN class text NOT NULL DEFAULT 'unknown',
  ADD COLUMN class_confidence real NOT NULL DEFAULT 0,
  ADD COLUMN class_evidence jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- Set by an analyst through the API; wins over inference.
  ADD COLUMN class_override text,
  ADD COLUMN label text,
  ADD COLUMN owner text,
  ADD COLUMN department text,
  ADD COLUMN criticality text CHECK (criticality IN ('low', 'medium', 'high', 'critical')),
  -- 0..100, maintained by analytics from open alerts and class.
  ADD COLUMN risk integer NOT NULL DEFAULT 0,
  ADD COLUMN quarantined boolean NOT NULL DEFAULT false;
CREATE INDEX devices_class_idx ON devices (COALESCE(class_override, class));
CREATE INDEX devices_mac_idx ON devices (mac) WHERE mac IS NOT NULL;

-- Alerts: one open alert per device and kind (deduplicated), updated with new evidence.
CREATE TABLE alerts (
  id bigserial PRIMARY KEY,
  device_ip inet NOT NULL,
  kind text NOT NULL,
  severity text NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  title text NOT NULL,
  -- Flows, peers, ports, figures vs baseline: whatever the detection saw.
  evidence jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Flow time of the first and latest evidence.
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  occurrences integer NOT NULL DEFAULT 1,
  assignee text,
  resolution text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alerts_one_open_per_kind ON alerts (device_ip, kind) WHERE status <> 'resolved';
CREATE INDEX alerts_device_idx ON alerts (device_ip, last_seen DESC);
CREATE INDEX alerts_status_idx ON alerts (status, severity, last_seen DESC);

CREATE TABLE alert_comments (
  id bigserial PRIMARY KEY,
  alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  author text NOT NULL,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Device-specific policies in the spirit of RFC 8520 (MUD): an allowlist of rules plus an action.
-- rules: [{ "peer": {"cidr"|"class"|"group"|"local": ...}, "ports": [..], "protocol": 6|17|..,
--           "direction": "from-device"|"to-device"|"either", "maxBytesPerMinute": n? }]
CREATE TABLE policies (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  description text NOT NULL DEFAULT '',
  rules jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- Whether the device may talk to addresses outside the monitored networks at all.
  internal_only boolean NOT NULL DEFAULT false,
  action text NOT NULL DEFAULT 'alert' CHECK (action IN ('alert', 'quarantine')),
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A policy applies to one device or to every device of a class; a device assignment wins.
CREATE TABLE policy_assignments (
  id bigserial PRIMARY KEY,
  policy_id bigint NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
  device_ip inet,
  device_class text,
  CHECK ((device_ip IS NULL) <> (device_class IS NULL))
);
CREATE UNIQUE INDEX policy_assignments_device ON policy_assignments (device_ip) WHERE device_ip IS NOT NULL;
CREATE UNIQUE INDEX policy_assignments_class ON policy_assignments (device_class) WHERE device_class IS NOT NULL;

-- Named server groups a policy can refer to ("controller", "pacs", ...).
CREATE TABLE server_groups (
  name text PRIMARY KEY,
  cidrs cidr[] NOT NULL DEFAULT '{}'
);

-- Down Migration
DROP TABLE server_groups;
DROP TABLE policy_assignments;
DROP TABLE policies;
DROP TABLE alert_comments;
DROP TABLE alerts;
DROP INDEX devices_mac_idx;
DROP INDEX devices_class_idx;
ALTER TABLE devices
  DROP COLUMN mac, DROP COLUMN vlan, DROP COLUMN exporter, DROP COLUMN input_if, DROP COLUMN class,
  DROP COLUMN class_confidence, DROP COLUMN class_evidence, DROP COLUMN class_override, DROP COLUMN label,
  DROP COLUMN owner, DROP COLUMN department, DROP COLUMN criticality, DROP COLUMN risk, DROP COLUMN quarantined;
