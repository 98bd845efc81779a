-- Up Migration
-- sFlow agents' part of an exporters-v1 status (packages/flow-schema ExporterStatus): datagram loss, and
-- interface health from counter samples (an array of InterfaceHealth, as the collector reported it).
ALTER TABLE exporters
  ADD COLUMN datagrams_lost bigint NOT NULL DEFAULT 0,
  ADD COLUMN interfaces jsonb;

-- Down Migration
ALTER TABLE exporters DROP COLUMN datagrams_lost, DROP COLUMN interfaces;
