#!/bin/bash
# Runs once, when the warehouse volume is first initialised (postgres image entrypoint).
# The read-only login for BI tools: USAGE on marts and SELECT on its tables, including tables dbt
# creates later (default privileges of the owner, parkdw). Nothing on raw, staging or audit.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v bi_password="$PARKDW_BI_PASSWORD" <<'SQL'
create role parkdw_bi login password :'bi_password';
create schema if not exists marts authorization parkdw;
grant connect on database parkdw to parkdw_bi;
grant usage on schema marts to parkdw_bi;
grant select on all tables in schema marts to parkdw_bi;
alter default privileges for role parkdw in schema marts grant select on tables to parkdw_bi;
SQL
