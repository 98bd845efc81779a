-- Up Migration
-- The policy service's own tables: API key extras, audit log, quarantine records, exporters, the event
-- outbox with webhook subscriptions and their delivery log, and the SIEM forwarder's position.

ALTER TABLE api_keys
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN created_by text;

-- Every write through the API: who (key id, name, role), what (action on a target), before and after.
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor_key_id uuid,
  actor_name text NOT NULL,
  actor_role text NOT NULL,
  action text NOT NULL,
  target_type text NOT NULL,
  target_id text NOT NULL,
  before jsonb,
  after jsonb,
  request_id text,
  source_ip text
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, at DESC);

-- Quarantine history; at most one active (unreleased) record per device. devices.quarantined mirrors it.
CREATE TABLE quarantines (
  id bigserial PRIMARY KEY,
  device_ip inet NOT NULL,
  reason text NOT NULL,
  source text NOT NULL CHECK (source IN ('manual', 'policy')),
  policy_id bigint,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  released_at timestamptz,
  released_by text,
  release_reason text
);
CREATE UNIQUE INDEX quarantines_one_active ON quarantines (device_ip) WHERE released_at IS NULL;
CREATE INDEX quarantines_expiry_idx ON quarantines (expires_at) WHERE released_at IS NULL AND expires_at IS NOT NULL;

-- Routers and probes sending flows, one row per exporter address and observation domain. Filled by the
-- collector side (from the exporters-v1 registry); the API only reads it.
CREATE TABLE exporters (
  address inet NOT NULL,
  observation_domain bigint NOT NULL DEFAULT 0,
  version integer,
  packets bigint NOT NULL DEFAULT 0,
  records bigint NOT NULL DEFAULT 0,
  -- Records per second over the latest reporting interval.
  records_per_second real NOT NULL DEFAULT 0,
  templates integer NOT NULL DEFAULT 0,
  sequence_lost bigint NOT NULL DEFAULT 0,
  sampling_interval integer NOT NULL DEFAULT 1,
  first_seen timestamptz NOT NULL DEFAULT now(),
  last_seen timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (address, observation_domain)
);

-- The outbox: one row per event; the idempotency key travels with every delivery of the event.
CREATE TABLE events (
  id bigserial PRIMARY KEY,
  idempotency_key uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_created_idx ON events (created_at);

-- Webhook subscriptions. secret: "v1:<iv>:<tag>:<ciphertext>" (AES-256-GCM) or "plain:<secret>".
CREATE TABLE webhooks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  url text NOT NULL,
  events text[] NOT NULL,
  secret text NOT NULL,
  description text NOT NULL DEFAULT '',
  enabled boolean NOT NULL DEFAULT true,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per (subscription, event): the delivery state machine pending -> delivered | failed.
CREATE TABLE webhook_deliveries (
  id bigserial PRIMARY KEY,
  webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event_id bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_attempt_at timestamptz,
  last_status_code integer,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id DESC);

-- Every HTTP attempt, for the per-subscription delivery log.
CREATE TABLE webhook_attempts (
  id bigserial PRIMARY KEY,
  delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  webhook_id uuid NOT NULL,
  attempted_at timestamptz NOT NULL DEFAULT now(),
  status_code integer,
  error text,
  duration_ms integer NOT NULL
);
CREATE INDEX webhook_attempts_webhook_idx ON webhook_attempts (webhook_id, id DESC);

-- Where each forwarder (the SIEM sender) has read the outbox up to.
CREATE TABLE outbox_cursors (
  name text PRIMARY KEY,
  last_event_id bigint NOT NULL DEFAULT 0
);

-- Fan-out in the same transaction as the event: a delivery row for each subscription wanting it.
CREATE FUNCTION ww_event_fanout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_deliveries (webhook_id, event_id)
    SELECT w.id, NEW.id FROM webhooks w WHERE w.enabled AND NEW.type = ANY (w.events);
  RETURN NULL;
END $$;
CREATE TRIGGER events_fanout AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION ww_event_fanout();

CREATE FUNCTION ww_alert_json(a alerts) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', a.id, 'deviceIp', host(a.device_ip), 'kind', a.kind, 'severity', a.severity,
    'status', a.status, 'title', a.title, 'firstSeen', a.first_seen, 'lastSeen', a.last_seen,
    'occurrences', a.occurrences, 'assignee', a.assignee, 'resolution', a.resolution)
$$;

-- Alerts are written by analytics; their events are raised here so no writer can forget them.
-- alert.updated fires on status, severity, assignee or resolution changes (not on every new occurrence).
-- An alert whose kind starts with "policy" is also a policy.violated event.
CREATE FUNCTION ww_alert_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO events (type, payload) VALUES ('alert.opened', jsonb_build_object('alert', ww_alert_json(NEW)));
    IF NEW.kind LIKE 'policy%' THEN
      INSERT INTO events (type, payload)
        VALUES ('policy.violated', jsonb_build_object('alert', ww_alert_json(NEW), 'deviceIp', host(NEW.device_ip)));
    END IF;
  ELSIF (NEW.status, NEW.severity, NEW.assignee, NEW.resolution)
        IS DISTINCT FROM (OLD.status, OLD.severity, OLD.assignee, OLD.resolution) THEN
    INSERT INTO events (type, payload) VALUES ('alert.updated', jsonb_build_object(
      'alert', ww_alert_json(NEW),
      'previous', jsonb_build_object('status', OLD.status, 'severity', OLD.severity, 'assignee', OLD.assignee)));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER alerts_events AFTER INSERT OR UPDATE ON alerts FOR EACH ROW EXECUTE FUNCTION ww_alert_events();

-- A device's first appearance in the inventory (AFTER INSERT fires only for rows really inserted, also
-- under INSERT ... ON CONFLICT DO UPDATE).
CREATE FUNCTION ww_device_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (type, payload) VALUES ('device.new', jsonb_build_object('device', jsonb_build_object(
    'ip', host(NEW.ip), 'firstSeen', NEW.first_seen, 'class', NEW.class, 'mac', NEW.mac::text)));
  RETURN NULL;
END $$;
CREATE TRIGGER devices_new AFTER INSERT ON devices FOR EACH ROW EXECUTE FUNCTION ww_device_new();

-- Down Migration
DROP TRIGGER devices_new ON devices;
DROP FUNCTION ww_device_new();
DROP TRIGGER alerts_events ON alerts;
DROP FUNCTION ww_alert_events();
DROP FUNCTION ww_alert_json(alerts);
DROP TRIGGER events_fanout ON events;
DROP FUNCTION ww_event_fanout();
DROP TABLE outbox_cursors;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE events;
DROP TABLE exporters;
DROP TABLE quarantines;
DROP TABLE audit_log;
ALTER TABLE api_keys DROP COLUMN expires_at, DROP COLUMN created_by;
