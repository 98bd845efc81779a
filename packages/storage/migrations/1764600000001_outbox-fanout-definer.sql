-- Up Migration
-- The outbox fan-out reads the webhook subscriptions (webhooks: sealed secrets, receiver URLs) to queue
-- deliveries. It now runs with its owner's rights and the migration's search path, so a service role
-- that only writes events through its tables' triggers (analytics: alerts, devices) needs no right on
-- webhooks or webhook_deliveries (deploy/postgres/service-roles.sql, docs/security.md).
ALTER FUNCTION ww_event_fanout() SECURITY DEFINER SET search_path FROM CURRENT;

-- Down Migration
ALTER FUNCTION ww_event_fanout() SECURITY INVOKER RESET search_path;
