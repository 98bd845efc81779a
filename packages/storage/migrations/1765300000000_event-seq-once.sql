-- Up Migration
-- ww_event_seq fires once per inserted event at commit (a deferred row trigger), and its first firing
-- numbers every event of the transaction. Each later firing used to scan the transaction's unnumbered
-- events again through the partial index, whose entries for the rows just numbered stay until vacuum:
-- O(n^2) in the events of one transaction (100k new devices in one batch, so 100k `device.new` events,
-- took minutes to commit). A firing whose own event is already numbered now returns at once after one
-- primary-key lookup; an event inserted during commit (by another deferred trigger) is still unnumbered
-- when its own firing comes, and is numbered then.
CREATE OR REPLACE FUNCTION ww_event_seq() RETURNS trigger LANGUAGE plpgsql
  SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM events WHERE id = NEW.id AND seq IS NULL) THEN
    RETURN NULL;
  END IF;
  -- One lock for every writer of the outbox in this database (key: 'wardwatch.events.seq').
  PERFORM pg_advisory_xact_lock(7301734101);
  UPDATE events e SET seq = n.seq
  FROM (SELECT id, nextval('events_seq') AS seq
        FROM (SELECT id FROM events WHERE txid = pg_current_xact_id() AND seq IS NULL ORDER BY id) o) n
  WHERE e.id = n.id;
  RETURN NULL;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION ww_event_seq() RETURNS trigger LANGUAGE plpgsql
  SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7301734101);
  UPDATE events e SET seq = n.seq
  FROM (SELECT id, nextval('events_seq') AS seq
        FROM (SELECT id FROM events WHERE txid = pg_current_xact_id() AND seq IS NULL ORDER BY id) o) n
  WHERE e.id = n.id;
  RETURN NULL;
END $$;
