-- Up Migration
-- Sampled packets a device sent during its learning period (issue 17), written by analytics: under packet
-- sampling its silence is judged on the rate of these (services/analytics/src/sampling.ts), not on the
-- sampled gaps. 0 for a device whose learnt sending was not sampled. No index: the devices rows stay HOT.
ALTER TABLE devices ADD COLUMN learned_samples bigint NOT NULL DEFAULT 0;

-- Down Migration
ALTER TABLE devices DROP COLUMN learned_samples;
