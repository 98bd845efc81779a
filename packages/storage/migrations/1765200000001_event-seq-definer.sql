-- Up Migration
-- Numbering outbox events at commit (ww_event_seq) updates `events`; it runs with its owner's rights
-- and the migration's search path, like the fan-out, so a service role that only inserts events
-- (analytics) needs no UPDATE or SELECT right on the outbox (deploy/postgres/service-roles.sql).
ALTER FUNCTION ww_event_seq() SECURITY DEFINER SET search_path FROM CURRENT;

-- Down Migration
ALTER FUNCTION ww_event_seq() SECURITY INVOKER RESET search_path;
