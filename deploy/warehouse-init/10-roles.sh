#!/bin/bash
# Runs once, when the warehouse volume is first initialised (postgres image entrypoint), as the
# image's superuser (POSTGRES_USER, parkdw): kept for administration, used by no service.
# The pipeline's login roles, none a superuser (the same layout warehouse.ensure_roles makes on a
# local server):
#   parkdw_loader     ingestion: owns raw and audit (creates and fills its tables), nothing on
#                     staging or marts, so it can neither drop nor alter what dbt builds;
#   parkdw_transform  dbt, validation, publishing: owns staging and marts, reads raw and audit;
#   parkdw_bi         BI tools: USAGE on marts and SELECT on its tables (also on tables dbt
#                     creates later, by default privileges of parkdw_transform); nothing else.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v loader_password="$PARKDW_LOADER_PASSWORD" -v transform_password="$PARKDW_TRANSFORM_PASSWORD" \
     -v bi_password="$PARKDW_BI_PASSWORD" <<'SQL'
create role parkdw_loader login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password :'loader_password';
create role parkdw_transform login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password :'transform_password';
create role parkdw_bi login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password :'bi_password';
revoke all on database parkdw from public;
grant connect, temporary on database parkdw to parkdw_loader, parkdw_transform;
grant connect on database parkdw to parkdw_bi;
create schema raw authorization parkdw_loader;
create schema audit authorization parkdw_loader;
create schema staging authorization parkdw_transform;
create schema marts authorization parkdw_transform;
grant usage on schema raw, audit to parkdw_transform;
alter default privileges for role parkdw_loader in schema raw, audit grant select on tables to parkdw_transform;
grant usage on schema marts to parkdw_bi;
alter default privileges for role parkdw_transform in schema marts grant select on tables to parkdw_bi;
SQL
