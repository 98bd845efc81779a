-- Least-privilege PostgreSQL roles for Wardwatch (docs/security.md). Run as the schema's owner once the
-- services have migrated the schema (the tables and the reporting views exist), and again after an
-- upgrade that adds tables:
--
--   psql "$OWNER_URL" -v schema=wardwatch -f deploy/postgres/service-roles.sql
--
-- Roles (renamable with -v analytics_role=... policy_role=... feeds_role=... grafana_role=...) are
-- created NOLOGIN when missing. A role whose password is in psql's environment gets LOGIN with it (read
-- with \getenv, psql 15+, so no password is on a command line; 16+ characters, no placeholder):
--   WARDWATCH_ANALYTICS_DB_PASSWORD, WARDWATCH_POLICY_DB_PASSWORD, WARDWATCH_FEEDS_DB_PASSWORD,
--   GRAFANA_DB_PASSWORD
-- or give it LOGIN and a password (or a certificate) yourself: ALTER ROLE wardwatch_analytics LOGIN ...
-- The owner role keeps running the migrations (`wardwatch migrate`); each service then connects with its
-- own role and database.migrate false (docker-compose.yml and deploy/k8s do both).
\set ON_ERROR_STOP on
\if :{?analytics_role} \else \set analytics_role wardwatch_analytics \endif
\if :{?policy_role} \else \set policy_role wardwatch_policy \endif
\if :{?feeds_role} \else \set feeds_role wardwatch_feeds \endif
\if :{?grafana_role} \else \set grafana_role grafana \endif
\set reporting :schema '_reporting'

SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'analytics_role') AS make \gset
\if :make
CREATE ROLE :"analytics_role" NOLOGIN;
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'policy_role') AS make \gset
\if :make
CREATE ROLE :"policy_role" NOLOGIN;
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'feeds_role') AS make \gset
\if :make
CREATE ROLE :"feeds_role" NOLOGIN;
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'grafana_role') AS make \gset
\if :make
CREATE ROLE :"grafana_role" NOLOGIN;
\endif

\getenv analytics_password WARDWATCH_ANALYTICS_DB_PASSWORD
\getenv policy_password WARDWATCH_POLICY_DB_PASSWORD
\getenv feeds_password WARDWATCH_FEEDS_DB_PASSWORD
\getenv grafana_password GRAFANA_DB_PASSWORD
\if :{?analytics_password}
SELECT length(:'analytics_password') < 16 OR :'analytics_password' ~* 'change[-_ ]?me|placeholder|example' AS weak \gset
\if :weak
DO $$ BEGIN RAISE EXCEPTION 'the analytics role''s password: 16 characters or more, not a placeholder'; END $$;
\endif
ALTER ROLE :"analytics_role" LOGIN PASSWORD :'analytics_password';
\endif
\if :{?policy_password}
SELECT length(:'policy_password') < 16 OR :'policy_password' ~* 'change[-_ ]?me|placeholder|example' AS weak \gset
\if :weak
DO $$ BEGIN RAISE EXCEPTION 'the policy role''s password: 16 characters or more, not a placeholder'; END $$;
\endif
ALTER ROLE :"policy_role" LOGIN PASSWORD :'policy_password';
\endif
\if :{?feeds_password}
SELECT length(:'feeds_password') < 16 OR :'feeds_password' ~* 'change[-_ ]?me|placeholder|example' AS weak \gset
\if :weak
DO $$ BEGIN RAISE EXCEPTION 'the feeds role''s password: 16 characters or more, not a placeholder'; END $$;
\endif
ALTER ROLE :"feeds_role" LOGIN PASSWORD :'feeds_password';
\endif
\if :{?grafana_password}
SELECT length(:'grafana_password') < 16 OR :'grafana_password' ~* 'change[-_ ]?me|placeholder|example' AS weak \gset
\if :weak
DO $$ BEGIN RAISE EXCEPTION 'the grafana role''s password: 16 characters or more, not a placeholder'; END $$;
\endif
ALTER ROLE :"grafana_role" LOGIN PASSWORD :'grafana_password';
\endif

BEGIN;
GRANT USAGE ON SCHEMA :"schema" TO :"analytics_role", :"policy_role", :"feeds_role";
-- Every service checks the migrations at start.
GRANT SELECT ON :"schema".pgmigrations TO :"analytics_role", :"policy_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA :"schema" TO :"analytics_role", :"policy_role";

-- analytics: the inventory, models and alerts it writes; the policies it checks; the outbox rows its
-- writes raise through triggers. Not: api_keys, webhooks, deliveries, audit_log.
GRANT SELECT, INSERT, UPDATE, DELETE ON
  :"schema".devices, :"schema".device_addresses, :"schema".device_profiles, :"schema".device_baselines,
  :"schema".device_rollups_minute, :"schema".alerts, :"schema".alert_rollups_minute,
  :"schema".analytics_offsets, :"schema".behaviour_groups, :"schema".behaviour_grouping
  TO :"analytics_role";
GRANT SELECT ON :"schema".policies, :"schema".policy_assignments, :"schema".server_groups,
  :"schema".quarantines, :"schema".exporters, :"schema".policy_version
  TO :"analytics_role";
GRANT INSERT ON :"schema".events TO :"analytics_role";

-- policy: the API and its outbox: every table but the analytics workers' own offsets.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA :"schema" TO :"policy_role";
REVOKE INSERT, UPDATE, DELETE ON :"schema".analytics_offsets, :"schema".pgmigrations FROM :"policy_role";

-- feeds: what a firewall-feed reader needs and nothing else.
GRANT SELECT ON :"schema".quarantines TO :"feeds_role";

-- grafana: the reporting views only (no secret columns or tables); not the schema's tables.
REVOKE ALL ON ALL TABLES IN SCHEMA :"schema" FROM :"grafana_role";
REVOKE USAGE ON SCHEMA :"schema" FROM :"grafana_role";
ALTER DEFAULT PRIVILEGES IN SCHEMA :"schema" REVOKE SELECT ON TABLES FROM :"grafana_role";
GRANT USAGE ON SCHEMA :"reporting" TO :"grafana_role";
GRANT SELECT ON ALL TABLES IN SCHEMA :"reporting" TO :"grafana_role";
-- The views are made again at every migration: the grant follows them.
ALTER DEFAULT PRIVILEGES IN SCHEMA :"reporting" GRANT SELECT ON TABLES TO :"grafana_role";
ALTER ROLE :"grafana_role" SET search_path = :"reporting";
COMMIT;
