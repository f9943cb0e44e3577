"""The one way to open a warehouse connection, the pipeline's roles, and the DDL the project
owns (raw + audit).

Roles (settings.LOADER_ROLE, TRANSFORM_ROLE, BI_ROLE; login roles, never superusers): the loader
owns raw and audit, so ingestion can create and fill its tables but cannot drop or change
staging or marts; the transform role owns staging and marts (dbt builds them), reads raw and
audit and records validations; the BI role reads marts only (publishing.refresh_bi_grants).
`ensure_roles` creates all that idempotently when the configured login may manage roles (a
local server); a deployment's database init script does the same once (deploy/warehouse-init).
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psycopg
from psycopg import sql

from parkdw import settings as settings_mod
from parkdw.settings import (BI_ROLE, LAYER_SCHEMAS, LOADER_ROLE, SCHEMA_AUDIT, SCHEMA_MARTS, SCHEMA_RAW,
                             SCHEMA_STAGING, TRANSFORM_ROLE, WarehouseParams)

log = logging.getLogger(__name__)

# A raw row's load: its batch (audit.load_batch names the source file or API page and its sha256,
# once per batch), its record in that source, its CEB message and when it was loaded.
LINEAGE_DDL = """
    _batch_id      bigint      not null,
    _record_no     integer     not null,
    _message_guid  text        collate "C",
    _loaded_at     timestamptz not null default now()
"""

AUDIT_DDL = f"""
create table if not exists {SCHEMA_AUDIT}.load_batch (
    batch_id        bigserial primary key,
    feed            text        not null,
    source          text        not null,
    source_sha256   text        not null,
    data_interval_start timestamptz,
    data_interval_end   timestamptz,
    status          text        not null check (status in ('running', 'loaded', 'skipped', 'failed')),
    records_received    integer not null default 0,
    records_loaded      integer not null default 0,
    records_quarantined integer not null default 0,
    rows_by_table   jsonb       not null default '{{}}'::jsonb,
    skipped_reason  text,
    duplicate_of_batch_id bigint references {SCHEMA_AUDIT}.load_batch (batch_id),
    started_at      timestamptz not null default now(),
    finished_at     timestamptz,
    constraint load_batch_counts_reconcile
        check (status <> 'loaded' or records_received = records_loaded + records_quarantined)
);
-- Exactly once: a source file (by content) is loaded at most once per feed.
create unique index if not exists load_batch_loaded_once
    on {SCHEMA_AUDIT}.load_batch (feed, source_sha256) where status = 'loaded';

create table if not exists {SCHEMA_AUDIT}.quarantine (
    quarantine_id   bigserial primary key,
    batch_id        bigint      not null references {SCHEMA_AUDIT}.load_batch (batch_id),
    feed            text        not null,
    source          text        not null,
    record_no       integer,
    record_key      text,
    field           text,
    rule            text        not null,
    reason          text        not null,
    raw_text        text,
    raw_bytes       bytea,
    quarantined_at  timestamptz not null default now(),
    replayed_batch_id bigint references {SCHEMA_AUDIT}.load_batch (batch_id)
);

-- Where each API feed has read up to: committed with the page's rows, so a run resumes there.
create table if not exists {SCHEMA_AUDIT}.api_watermark (
    feed            text primary key,
    updated_since   text        not null,
    last_updated_at text,
    last_event_id   text,
    next_cursor     text,
    updated_at      timestamptz not null default now()
);

-- Every API request attempt, faults included, for auditors and operators.
create table if not exists {SCHEMA_AUDIT}.api_request (
    feed        text        not null,
    url         text        not null,
    http_status integer,
    outcome     text        not null,
    seconds     numeric     not null,
    waited_seconds numeric  not null,
    requested_at timestamptz not null default now()
);

-- One row per dbt invocation (its run_results.json), from Cosmos tasks and `parkdw dbt` alike;
-- keyed by dbt's invocation id, so recording the same file again changes nothing.
create table if not exists {SCHEMA_AUDIT}.dbt_invocation (
    invocation_id   text        primary key,
    command         text        not null,  -- build, seed, test, run, docs generate...
    selector        text,                  -- --select / --exclude as given, if any
    invoked_by      text        not null,  -- airflow:<dag>.<task> or cli
    airflow_run_id  text,
    dbt_version     text,
    started_at      timestamptz,
    finished_at     timestamptz not null,
    elapsed_seconds numeric,
    success         boolean     not null,  -- no node errored or failed
    nodes           integer     not null,
    tests           integer     not null,
    passed          integer     not null,  -- pass / success
    failed          integer     not null,  -- fail / error / runtime error
    warned          integer     not null,
    skipped         integer     not null,
    recorded_at     timestamptz not null default now()
);

create table if not exists {SCHEMA_AUDIT}.dbt_node_result (
    invocation_id   text        not null references {SCHEMA_AUDIT}.dbt_invocation (invocation_id),
    unique_id       text        not null,
    resource_type   text        not null,  -- model, test, seed, snapshot...
    node_name       text,
    layer           text,                  -- raw (source tests), staging, intermediate, marts, seeds
    tested_node     text,                  -- tests: the model or source they test
    severity        text,                  -- tests: error (blocks the build) or warn
    status          text        not null,  -- pass, fail, warn, error, skipped, success
    failures        bigint,
    message         text,
    execution_seconds numeric,
    compiled_relation text,
    started_at      timestamptz,
    completed_at    timestamptz,
    primary key (invocation_id, unique_id)
);

create table if not exists {SCHEMA_AUDIT}.validation_run (
    validation_run_id   bigserial primary key,
    run_key             text        not null,  -- groups the suites of one validate DAG run (its Airflow run id)
    suite               text        not null,
    layer               text        not null,
    asset               text        not null,
    data_interval_start timestamptz,
    data_interval_end   timestamptz,
    success             boolean     not null,
    blocking_success    boolean     not null,
    evaluated           integer     not null,
    passed              integer     not null,
    failed_blocking     integer     not null,
    failed_warning      integer     not null,
    run_at              timestamptz not null default now()
);

create table if not exists {SCHEMA_AUDIT}.validation_result (
    validation_run_id   bigint      not null references {SCHEMA_AUDIT}.validation_run (validation_run_id),
    expectation_type    text        not null,
    column_name         text,
    severity            text        not null,
    success             boolean     not null,
    observed_value      text,
    unexpected_count    bigint,
    unexpected_sample   jsonb,
    kwargs              jsonb       not null
);
-- Added with the GX file context (existing warehouses gain them on the next ensure_schemas):
-- the checkpoint (layer) run, the GX batch and result ids (Data Docs), and each check's name.
alter table {SCHEMA_AUDIT}.validation_run add column if not exists checkpoint text;
alter table {SCHEMA_AUDIT}.validation_run add column if not exists batch_id text;
alter table {SCHEMA_AUDIT}.validation_run add column if not exists gx_result_id text;
alter table {SCHEMA_AUDIT}.validation_result add column if not exists check_name text;
alter table {SCHEMA_AUDIT}.validation_result add column if not exists description text;
"""


def params() -> WarehouseParams:
    return settings_mod.get_settings().warehouse()


@contextmanager
def connect(autocommit: bool = False, warehouse: WarehouseParams | None = None,
            role: str | None = None) -> Iterator[psycopg.Connection]:
    """Open a warehouse connection from settings (the only place connections are made): as the
    configured login, or as one of the pipeline's roles (settings.warehouse_as)."""
    wh = warehouse or (settings_mod.get_settings().warehouse_as(role) if role else params())
    conn = psycopg.connect(wh.conninfo, autocommit=autocommit, application_name="parkdw")
    try:
        yield conn
    finally:
        conn.close()


def ensure_database(wh: WarehouseParams) -> None:
    """Create the warehouse database if the server lacks it (connects to 'postgres' to do so)."""
    try:
        psycopg.connect(wh.conninfo, connect_timeout=10).close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    with psycopg.connect(wh.with_dbname("postgres").conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(wh.dbname)))
    log.info("created database %s", wh.dbname)


# The server settings the warehouse is sized for (bulk loads, full rebuilds): one file, which the
# compose stack's server includes and apply_server_settings sets on any other server.
SERVER_SETTINGS_FILE = settings_mod.REPO_ROOT / "deploy" / "postgresql" / "warehouse.conf"


def server_settings(path: Path = SERVER_SETTINGS_FILE) -> dict[str, str]:
    """name -> value from a postgresql.conf-style file (comments and blank lines skipped)."""
    wanted = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"{path}:{number}: expected 'name = value', got {line!r}")
        wanted[name.strip()] = value.strip().strip("'")
    return wanted


def apply_server_settings(conn: psycopg.Connection, wanted: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Set the warehouse's server settings with ALTER SYSTEM (a superuser's connection in
    autocommit) and reload. Returns which settings changed and which of them wait for a restart."""
    wanted = server_settings() if wanted is None else wanted

    def running() -> dict[str, str]:
        return dict(conn.execute("select name, setting from pg_settings where name = any(%s)", (list(wanted),)).fetchall())

    before = running()
    unknown = sorted(set(wanted) - set(before))
    if unknown:
        raise ValueError(f"{SERVER_SETTINGS_FILE}: unknown server settings {unknown}")
    pending_query = "select name from pg_settings where pending_restart and name = any(%s) order by 1"
    already = dict(conn.execute("select name, setting from pg_file_settings "
                                "where sourcefile like '%%postgresql.auto.conf' and error is null").fetchall())
    if all(already.get(name) == value for name, value in wanted.items()):  # set before: nothing to reload
        return {"changed": [], "pending_restart": [r[0] for r in conn.execute(pending_query, (list(wanted),))]}
    for name, value in wanted.items():
        conn.execute(sql.SQL("alter system set {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    conn.execute("select pg_reload_conf()")
    time.sleep(0.5)  # the postmaster re-reads the files and signals each backend, this one included
    after = running()
    pending = [r[0] for r in conn.execute(pending_query, (list(wanted),))]
    changed = sorted(n for n in wanted if after[n] != before[n] or n in pending)
    return {"changed": changed, "pending_restart": pending}


# Raw columns the dbt models look documents up by besides the document key: waybills find
# their lists, the document match finds an order's documents by platform + order number, the
# settlement view resolves versions per record, a late central parity re-values by date.
RAW_LOOKUP_COLUMNS = {
    "ceb_inventory_head": [("logistics_no",), ("ebp_code", "order_no"), ("ie_date",)],
    "ceb_order_head": [("ebp_code", "order_no"), ("app_time",)],
    "ceb_receipts": [("ebp_code", "order_no")],
    "ceb_logistics": [("logistics_no",)],
    "payment_settlement": [("record_id",)],
    "tracking_event": [("event_id",)],
}


# Who owns each layer schema and everything in it.
SCHEMA_OWNERS = {SCHEMA_RAW: LOADER_ROLE, SCHEMA_AUDIT: LOADER_ROLE,
                 SCHEMA_STAGING: TRANSFORM_ROLE, SCHEMA_MARTS: TRANSFORM_ROLE}
# Audit tables the transform role writes (validation runs); it reads every audit table.
TRANSFORM_WRITES_AUDIT = ("validation_run", "validation_result", "dbt_invocation", "dbt_node_result")


def can_manage_roles(conn: psycopg.Connection) -> bool:
    return bool(conn.execute("select rolsuper or rolcreaterole from pg_roles where rolname = current_user").fetchone()[0])


# Serialises the setup of one database: concurrent first runs would otherwise race on the same
# catalog rows ("tuple concurrently updated").
SETUP_LOCK = "select pg_advisory_xact_lock(hashtext('parkdw.warehouse.setup'))"
ROLE_ATTRIBUTES = "login nosuperuser nocreatedb nocreaterole noreplication nobypassrls"


def ensure_role(conn: psycopg.Connection, role: str, password: str | None) -> None:
    """A login role that is no superuser and may create neither roles nor databases. The password
    is set when the role is created, or when one is configured; it goes over the wire as a SCRAM
    verifier, never in clear (statement logs would keep it). Roles are shared by every database
    of the server: nothing is altered that is already as wanted."""
    ident = sql.Identifier(role)
    row = conn.execute("select rolcanlogin and not (rolsuper or rolcreatedb or rolcreaterole or rolreplication "
                       "or rolbypassrls) from pg_roles where rolname = %s", (role,)).fetchone()
    created = row is None
    if created:  # another database's first run may create it at the same moment: that is fine
        conn.execute(sql.SQL("do $$ begin create role {} {}; exception when duplicate_object or unique_violation "
                             "then null; end $$").format(ident, sql.SQL(ROLE_ATTRIBUTES)))
    elif not row[0]:
        conn.execute(sql.SQL("alter role {} with {}").format(ident, sql.SQL(ROLE_ATTRIBUTES)))
    if password and (created or settings_mod.get_settings().role_password(role) is not None):
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
        conn.execute(sql.SQL("alter role {} with password {}").format(ident, sql.Literal(verifier)))
    conn.commit()


def ensure_roles(conn: psycopg.Connection) -> None:
    """The pipeline's roles, the layer schemas with their owners, and the grants between them
    (idempotent; needs a login that may manage roles). Commits."""
    settings = settings_mod.get_settings()
    for role in (LOADER_ROLE, TRANSFORM_ROLE):
        ensure_role(conn, role, settings.role_password(role) or conn.info.password)
    ensure_role(conn, BI_ROLE, settings.bi_password)
    conn.execute(SETUP_LOCK)
    db = sql.Identifier(conn.info.dbname)
    loader, transform, bi = (sql.Identifier(r) for r in (LOADER_ROLE, TRANSFORM_ROLE, BI_ROLE))
    conn.execute(sql.SQL("grant connect, temporary on database {} to {}, {}").format(db, loader, transform))
    conn.execute(sql.SQL("grant connect on database {} to {}").format(db, bi))
    for schema, owner in SCHEMA_OWNERS.items():
        ident, owner_ident = sql.Identifier(schema), sql.Identifier(owner)
        conn.execute(sql.SQL("create schema if not exists {} authorization {}").format(ident, owner_ident))
        conn.execute(sql.SQL("alter schema {} owner to {}").format(ident, owner_ident))
        # Objects made before the roles existed (an older warehouse) change hands too; owned
        # sequences follow their tables.
        for kind, name in conn.execute(
                """select case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                              when 'S' then 'sequence' else 'table' end, c.relname
                   from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm', 'S')
                     and pg_get_userbyid(c.relowner) <> %s
                     and not (c.relkind = 'S' and exists (select 1 from pg_depend d where d.objid = c.oid
                              and d.deptype in ('a', 'i')))""", (schema, owner)).fetchall():
            conn.execute(sql.SQL("alter {} {}.{} owner to {}").format(
                sql.SQL(kind), ident, sql.Identifier(name), owner_ident))
    # The loader gets nothing on what dbt builds; BI nothing outside the marts (publishing grants those).
    for schema, role in ((SCHEMA_STAGING, loader), (SCHEMA_MARTS, loader), (SCHEMA_RAW, bi), (SCHEMA_AUDIT, bi),
                         (SCHEMA_STAGING, bi)):
        conn.execute(sql.SQL("revoke all on schema {} from {}").format(sql.Identifier(schema), role))
        conn.execute(sql.SQL("revoke all on all tables in schema {} from {}").format(sql.Identifier(schema), role))
    # dbt reads what ingestion loaded, now and in tables the loader creates later.
    for schema in (SCHEMA_RAW, SCHEMA_AUDIT):
        ident = sql.Identifier(schema)
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(ident, transform))
        conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(ident, transform))
        conn.execute(sql.SQL("alter default privileges for role {} in schema {} grant select on tables to {}")
                     .format(loader, ident, transform))
    conn.commit()
    log.info("roles %s, %s, %s and the layer schemas' owners are in place", LOADER_ROLE, TRANSFORM_ROLE, BI_ROLE)


def prepare(wh: WarehouseParams | None = None) -> None:
    """Before the pipeline logs in as its roles: when the configured login may manage roles (a
    local server), make sure the database, roles, schemas and tables exist. A deployment's login
    may not, and its init script made them: then this only checks the database is there."""
    wh = wh or params()
    ensure_database(wh)
    with connect(warehouse=wh) as conn:
        if can_manage_roles(conn):
            ensure_schemas(conn)


def ensure_schemas(conn: psycopg.Connection) -> None:
    """Create the layer schemas, the audit tables and every raw table (idempotent).

    As a login that may manage roles it sets up the roles first and creates the tables as the
    loader (their owner); as the loader itself it creates what is missing in the schemas it owns.
    """
    from parkdw.ingest.feeds import all_raw_tables  # local import: feeds import this module

    privileged = can_manage_roles(conn)
    if privileged:
        ensure_roles(conn)
    conn.execute(SETUP_LOCK)
    if privileged:
        _migrate_raw_tables(conn)
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(LOADER_ROLE)))
    _create_raw_and_audit(conn, all_raw_tables())
    conn.commit()  # also ends `set local role`


# Lineage columns older releases wrote on every raw row; the batch's audit row holds them.
OBSOLETE_LINEAGE_COLUMNS = ("_source", "_source_sha256")


def _migrate_raw_tables(conn: psycopg.Connection) -> None:
    """Raw tables an older release made: text columns get collate "C", and the per-row copies of
    the batch's source and checksum go (audit.load_batch keeps both for every batch).

    dbt's views over raw pin their columns, so they are dropped first (with what depends on
    them, all views dbt builds); the next dbt run creates them again. No table is rewritten:
    only the raw indexes on text are rebuilt, and a dropped column's space is reused as rows
    are updated or the table is vacuumed full."""
    obsolete = conn.execute(
        """select c.relname, a.attname from pg_attribute a
           join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = %s and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
             and a.attname = any(%s) order by 1, 2""", (SCHEMA_RAW, list(OBSOLETE_LINEAGE_COLUMNS))).fetchall()
    columns = conn.execute(
        """select c.relname, a.attname
           from pg_attribute a
           join pg_class c on c.oid = a.attrelid
           join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = %s and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
             and a.atttypid = 'text'::regtype and a.attcollation <> 'pg_catalog."C"'::regcollation
           order by 1, a.attnum""", (SCHEMA_RAW,)).fetchall()
    columns = [c for c in columns if c not in obsolete]
    if not columns and not obsolete:
        return
    views = conn.execute(
        """select distinct vn.nspname, v.relname
           from pg_depend d
           join pg_rewrite r on r.oid = d.objid
           join pg_class v on v.oid = r.ev_class
           join pg_namespace vn on vn.oid = v.relnamespace
           join pg_class t on t.oid = d.refobjid
           join pg_namespace tn on tn.oid = t.relnamespace
           where tn.nspname = %s and v.relkind = 'v' and v.oid <> t.oid""", (SCHEMA_RAW,)).fetchall()
    for schema, view in views:
        log.info("dropping view %s.%s over raw (dbt creates it again) to migrate raw tables", schema, view)
        conn.execute(sql.SQL("drop view if exists {}.{} cascade").format(sql.Identifier(schema), sql.Identifier(view)))
    changes: dict[str, list[sql.Composable]] = {}
    for table, column in obsolete:
        changes.setdefault(table, []).append(sql.SQL("drop column {}").format(sql.Identifier(column)))
    for table, column in columns:
        changes.setdefault(table, []).append(
            sql.SQL('alter column {} type text collate "C"').format(sql.Identifier(column)))
    for table, actions in changes.items():
        conn.execute(sql.SQL("alter table {}.{} {}").format(
            sql.Identifier(SCHEMA_RAW), sql.Identifier(table), sql.SQL(", ").join(actions)))
    log.info("raw tables migrated: %d obsolete lineage columns dropped, %d text columns collated bytewise",
             len(obsolete), len(columns))


def _create_raw_and_audit(conn: psycopg.Connection, raw_tables: dict[str, list[str]]) -> None:
    missing = [s for s in (SCHEMA_RAW, SCHEMA_AUDIT) if not conn.execute(
        "select 1 from pg_namespace where nspname = %s", (s,)).fetchone()]
    if missing:
        raise RuntimeError(f"schemas {', '.join(missing)} are missing and {conn.info.user} may not create them: "
                           "run the pipeline once with a login that may manage roles, or the database init "
                           "script (deploy/warehouse-init)")
    audit = sql.Identifier(SCHEMA_AUDIT)
    conn.execute(AUDIT_DDL)
    # The transform role records validation runs and dbt results (granted each time: idempotent,
    # and an audit table added by a later release gets its grant too).
    transform = sql.Identifier(TRANSFORM_ROLE)
    conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(audit, transform))
    for table in TRANSFORM_WRITES_AUDIT:
        conn.execute(sql.SQL("grant insert on {}.{} to {}").format(audit, sql.Identifier(table), transform))
    conn.execute(sql.SQL("grant usage on all sequences in schema {} to {}").format(audit, transform))
    # Raw text is collated "C": byte order, which for UTF-8 is code point order (what a C.UTF-8
    # database gives too; nothing relies on a linguistic order). PostgreSQL compares it with memcmp and abbreviated keys instead of strcoll, so the raw
    # indexes the loads insert into, and every sort, index and merge dbt derives from these
    # columns (they inherit the collation), cost a fraction: 2M md5 keys sort in 0.7 s, not 3.2.
    for table, columns in raw_tables.items():
        column_ddl = sql.SQL(",\n").join(sql.SQL('{} text collate "C"').format(sql.Identifier(c)) for c in columns)
        conn.execute(
            sql.SQL("create table if not exists {}.{} ({}, {})").format(
                sql.Identifier(SCHEMA_RAW), sql.Identifier(table), column_ddl, sql.SQL(LINEAGE_DDL)
            )
        )
        conn.execute(
            sql.SQL("create index if not exists {} on {}.{} (_batch_id)").format(
                sql.Identifier(f"{table}__batch_idx"), sql.Identifier(SCHEMA_RAW), sql.Identifier(table)
            )
        )
        # Staging resolves versions per document key; incremental models look changed keys up,
        # and find what loaded since their watermark by _loaded_at.
        keys = [(c,) for c in ("guid", "head_guid") if c in columns] + RAW_LOOKUP_COLUMNS.get(table, [])
        for key in [*keys, ("_loaded_at",)]:
            conn.execute(
                sql.SQL("create index if not exists {} on {}.{} ({})").format(
                    sql.Identifier(f"{table}__{'_'.join(key).lstrip('_')}_idx"), sql.Identifier(SCHEMA_RAW),
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, key)),
                )
            )


def table_counts(conn: psycopg.Connection, schemas: tuple[str, ...] = LAYER_SCHEMAS) -> dict[str, int]:
    """Exact row counts of every table and view in the given schemas, keyed schema.table."""
    rows = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema = any(%s) order by 1, 2",
        (list(schemas),),
    ).fetchall()
    counts = {}
    for schema, table in rows:
        query = sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        counts[f"{schema}.{table}"] = conn.execute(query).fetchone()[0]
    return counts


# Columns that differ between two runs over the same input without the content differing: when
# a row was loaded. Two warehouses that loaded the same files in another order (a backfill out of
# order) also differ in LOAD_ORDER_COLUMNS: batch ids number loads as they happened, a group's
# latest load time follows them, and the lineage of a record delivered twice with the same content
# (a resent document, an identical file in two day folders) names whichever copy came first.
LOAD_TIME_COLUMNS = ("_loaded_at",)
LOAD_ORDER_COLUMNS = LOAD_TIME_COLUMNS + ("_group_loaded_at", "_batch_id", "_source")


def table_fingerprints(
    conn: psycopg.Connection,
    schemas: tuple[str, ...] = (SCHEMA_RAW, "staging", "marts"),
    ignore_columns: tuple[str, ...] = LOAD_TIME_COLUMNS,
) -> dict[str, tuple[int, str]]:
    """(row count, content checksum) of every table in the schemas, keyed schema.table.

    The checksum is an md5 over the sorted md5s of the rows (all columns but `ignore_columns`),
    so it does not depend on physical row order. Two warehouses hold the same data exactly when
    their fingerprints are equal. Commits, so no lock is held afterwards.
    """
    tables = conn.execute("""select table_schema, table_name from information_schema.tables
                             where table_schema = any(%s) and table_type = 'BASE TABLE'
                             order by 1, 2""", (list(schemas),)).fetchall()
    fingerprints = {}
    for schema, table in tables:
        columns = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
            "and column_name <> all(%s) order by ordinal_position", (schema, table, list(ignore_columns))).fetchall()]
        row = sql.SQL("md5(row({})::text)").format(sql.SQL(", ").join(map(sql.Identifier, columns)))
        query = sql.SQL("select count(*), md5(coalesce(string_agg({row}, '' order by {row}), '')) from {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table), row=row)
        count, checksum = conn.execute(query).fetchone()
        fingerprints[f"{schema}.{table}"] = (count, checksum)
    conn.commit()  # no open transaction may hold locks that a later dbt run needs
    return fingerprints


def fingerprint_differences(a: dict, b: dict) -> dict[str, tuple]:
    """The tables whose fingerprints differ (or exist on one side only): name -> (a, b)."""
    return {t: (a.get(t), b.get(t)) for t in sorted(set(a) | set(b)) if a.get(t) != b.get(t)}
