-- Up Migration
-- The rest of an exporters-v1 status (packages/flow-schema ExporterStatus) that the API serves.
ALTER TABLE exporters
  ADD COLUMN decode_errors bigint NOT NULL DEFAULT 0,
  ADD COLUMN sequence_unit text NOT NULL DEFAULT '',
  ADD COLUMN sequence_resets bigint NOT NULL DEFAULT 0,
  ADD COLUMN transports text[] NOT NULL DEFAULT '{}',
  ADD COLUMN collector text NOT NULL DEFAULT '',
  ADD COLUMN reported_at timestamptz;

-- Down Migration
ALTER TABLE exporters
  DROP COLUMN decode_errors, DROP COLUMN sequence_unit, DROP COLUMN sequence_resets, DROP COLUMN transports,
  DROP COLUMN collector, DROP COLUMN reported_at;
