#!/bin/sh
# Runs once, when the PostgreSQL volume is created (docker-entrypoint-initdb.d): the Wardwatch schema,
# owned by the services' role, and a read-only "grafana" role that sees it first on its search_path.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v grafana_password="${GRAFANA_DB_PASSWORD:?set GRAFANA_DB_PASSWORD}" <<'SQL'
CREATE SCHEMA IF NOT EXISTS wardwatch AUTHORIZATION CURRENT_USER;
CREATE ROLE grafana LOGIN PASSWORD :'grafana_password';
ALTER ROLE grafana SET search_path = wardwatch;
ALTER ROLE grafana SET default_transaction_read_only = on;
ALTER ROLE grafana SET statement_timeout = '30s';
GRANT CONNECT ON DATABASE :"DBNAME" TO grafana;
GRANT USAGE ON SCHEMA wardwatch TO grafana;
-- Tables the services create later (migrations run as the services' role) are readable by grafana.
ALTER DEFAULT PRIVILEGES IN SCHEMA wardwatch GRANT SELECT ON TABLES TO grafana;
SQL
