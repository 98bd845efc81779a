-- Up Migration
-- Analytics updates its profile and rollup rows in place on every commit (counters only; no indexed column
-- changes): free space on each page lets PostgreSQL make those HOT updates (no new index entries, less WAL).
-- Affects pages written from now on; names and meanings of the tables are unchanged.
ALTER TABLE device_profiles SET (fillfactor = 70);
ALTER TABLE device_rollups_minute SET (fillfactor = 80);

-- Down Migration
ALTER TABLE device_rollups_minute RESET (fillfactor);
ALTER TABLE device_profiles RESET (fillfactor);
