#!/bin/sh
# Runs once, when the PostgreSQL volume is created (docker-entrypoint-initdb.d): the Wardwatch schema,
# owned by the services' role, and a read-only "grafana" role that reads only the reporting views
# (wardwatch_reporting: the inventory and alerts, no keys, webhook secrets or audit log; the services
# make the views at every migration). deploy/postgres/service-roles.sql adds the per-service roles.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v grafana_password="${GRAFANA_DB_PASSWORD:?set GRAFANA_DB_PASSWORD}" <<'SQL'
CREATE SCHEMA IF NOT EXISTS wardwatch AUTHORIZATION CURRENT_USER;
CREATE SCHEMA IF NOT EXISTS wardwatch_reporting AUTHORIZATION CURRENT_USER;
CREATE ROLE grafana LOGIN PASSWORD :'grafana_password';
ALTER ROLE grafana SET search_path = wardwatch_reporting;
ALTER ROLE grafana SET default_transaction_read_only = on;
ALTER ROLE grafana SET statement_timeout = '30s';
GRANT CONNECT ON DATABASE :"DBNAME" TO grafana;
GRANT USAGE ON SCHEMA wardwatch_reporting TO grafana;
-- The views the services (re)create at each migration are readable by grafana; the tables are not.
ALTER DEFAULT PRIVILEGES IN SCHEMA wardwatch_reporting GRANT SELECT ON TABLES TO grafana;
SQL
