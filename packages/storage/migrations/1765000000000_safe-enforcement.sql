-- Up Migration
-- Safe enforcement (issue #14): outbox readers follow commit order, exporters carry a trust state, automatic
-- quarantines are decided by the policy service from requests, life-critical devices wait for a person.

-- The outbox in commit order. `id` is taken when a row is inserted, not when its transaction commits, so a
-- reader that passes id N may later see a smaller id commit, and skip it for good. Each event now also
-- gets `seq`, numbered at commit: a deferred trigger takes one transaction-scoped advisory lock, numbers
-- the transaction's events, and the lock is released only once the commit is visible. So seq order is
-- commit order: when a reader sees seq N committed, every smaller seq is committed too, and readers read
-- `seq > cursor`. (A watermark from pg_snapshot_xmin would also work, but any long transaction anywhere
-- on the PostgreSQL server, even in another database, would stall every reader meanwhile.)
-- Existing events are numbered by id; existing cursors keep their place.
ALTER TABLE events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE events ADD COLUMN seq bigint;
UPDATE events SET seq = id;
CREATE SEQUENCE events_seq;
SELECT setval('events_seq', COALESCE((SELECT max(id) FROM events), 0) + 1, false);
CREATE UNIQUE INDEX events_seq_idx ON events (seq);
CREATE INDEX events_unnumbered_idx ON events (txid) WHERE seq IS NULL;
ALTER TABLE outbox_cursors ADD COLUMN last_seq bigint NOT NULL DEFAULT 0;
UPDATE outbox_cursors SET last_seq = last_event_id;

CREATE FUNCTION ww_event_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- One lock for every writer of the outbox in this database (key: 'wardwatch.events.seq').
  PERFORM pg_advisory_xact_lock(7301734101);
  UPDATE events e SET seq = n.seq
  FROM (SELECT id, nextval('events_seq') AS seq
        FROM (SELECT id FROM events WHERE txid = pg_current_xact_id() AND seq IS NULL ORDER BY id) o) n
  WHERE e.id = n.id;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER events_seq AFTER INSERT ON events DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION ww_event_seq();

-- Exporter trust, owned by the policy service. trusted: its flows are evidence for automatic enforcement
-- and its templates are shared; pending: its flows build the inventory and raise alerts only; blocked:
-- the collectors drop its packets. Keyed by address (all observation domains of a router together).
CREATE TABLE exporter_trust (
  address inet PRIMARY KEY,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('trusted', 'pending', 'blocked')),
  -- 'allowlist' (seeded from collector.exporterAllowlist), 'seen' (first packet), 'api'
  source text NOT NULL DEFAULT 'seen',
  first_seen timestamptz NOT NULL DEFAULT now(),
  changed_at timestamptz NOT NULL DEFAULT now(),
  changed_by text NOT NULL DEFAULT 'system'
);

-- Life-critical devices are never quarantined automatically. NULL: the class decides (the built-in
-- signatures flag the class); true/false: an analyst's override for this one device.
ALTER TABLE devices ADD COLUMN life_critical boolean;
CREATE TABLE life_critical_classes (
  class text PRIMARY KEY
);
INSERT INTO life_critical_classes (class) VALUES
  ('infusion_pump'), ('patient_monitor'), ('ventilator'), ('anaesthesia_workstation');

-- A policy in dry run records what it would have quarantined instead of quarantining.
ALTER TABLE policies ADD COLUMN dry_run boolean NOT NULL DEFAULT false;

-- The evidence a policy quarantine rests on; automatic ones (created_by 'analytics') are counted by the
-- circuit breaker over the last hour.
ALTER TABLE quarantines ADD COLUMN evidence jsonb;
CREATE INDEX quarantines_automatic_idx ON quarantines (created_at) WHERE created_by = 'analytics';

-- Quarantines waiting for a person: life-critical devices, and every request once the breaker is open.
CREATE TABLE quarantine_requests (
  id bigserial PRIMARY KEY,
  device_ip inet NOT NULL,
  policy_id bigint,
  reason text NOT NULL,
  -- 'life-critical' | 'breaker'
  why text NOT NULL,
  evidence jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
  created_at timestamptz NOT NULL DEFAULT now(),
  decided_at timestamptz,
  decided_by text,
  decision_note text,
  quarantine_id bigint
);
CREATE UNIQUE INDEX quarantine_requests_one_pending ON quarantine_requests (device_ip) WHERE status = 'pending';

-- Every decision the enforcer took on a request from analytics: what it did and why (dry runs included).
CREATE TABLE enforcement_decisions (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  event_id bigint NOT NULL,
  device_ip inet NOT NULL,
  policy_id bigint,
  -- quarantined | dry-run | untrusted | requested | already | no-policy | not-quarantine | no-device
  outcome text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX enforcement_decisions_device_idx ON enforcement_decisions (device_ip, at DESC);

-- A saved policy applies within seconds: every change to policies, their assignments or server groups bumps
-- one counter, which the analytics workers poll each second (one row read) and reload on change.
CREATE TABLE policy_version (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  v bigint NOT NULL DEFAULT 0
);
INSERT INTO policy_version DEFAULT VALUES;
CREATE FUNCTION ww_policy_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE policy_version SET v = v + 1;
  RETURN NULL;
END $$;
CREATE TRIGGER policies_bump AFTER INSERT OR UPDATE OR DELETE ON policies
  FOR EACH STATEMENT EXECUTE FUNCTION ww_policy_bump();
CREATE TRIGGER policy_assignments_bump AFTER INSERT OR UPDATE OR DELETE ON policy_assignments
  FOR EACH STATEMENT EXECUTE FUNCTION ww_policy_bump();
CREATE TRIGGER server_groups_bump AFTER INSERT OR UPDATE OR DELETE ON server_groups
  FOR EACH STATEMENT EXECUTE FUNCTION ww_policy_bump();

-- Down Migration
DROP TRIGGER server_groups_bump ON server_groups;
DROP TRIGGER policy_assignments_bump ON policy_assignments;
DROP TRIGGER policies_bump ON policies;
DROP FUNCTION ww_policy_bump();
DROP TABLE policy_version;
DROP TABLE enforcement_decisions;
DROP TABLE quarantine_requests;
DROP INDEX quarantines_automatic_idx;
ALTER TABLE quarantines DROP COLUMN evidence;
ALTER TABLE policies DROP COLUMN dry_run;
DROP TABLE life_critical_classes;
ALTER TABLE devices DROP COLUMN life_critical;
DROP TABLE exporter_trust;
DROP TRIGGER events_seq ON events;
DROP FUNCTION ww_event_seq();
ALTER TABLE outbox_cursors DROP COLUMN last_seq;
DROP INDEX events_unnumbered_idx;
DROP INDEX events_seq_idx;
DROP SEQUENCE events_seq;
ALTER TABLE events DROP COLUMN seq;
ALTER TABLE events DROP COLUMN txid;
