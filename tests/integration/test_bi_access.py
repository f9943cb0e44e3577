"""The BI login role reads the marts, and only the marts, connected as itself."""

import psycopg
import pytest

from parkdw import settings as settings_mod
from parkdw import warehouse
from parkdw.publishing import refresh_bi_grants
from parkdw.settings import BI_ROLE, get_settings


@pytest.fixture()
def bi_password(monkeypatch):
    monkeypatch.setenv("PARKDW_BI_PASSWORD", "bi-test-password")
    settings_mod.reset_settings()
    yield get_settings().bi_password
    monkeypatch.delenv("PARKDW_BI_PASSWORD")
    settings_mod.reset_settings()


def test_bi_role_reads_marts_and_is_refused_on_raw_staging_and_audit(conn, bi_password):
    conn.execute("create table staging.stg_example as select 1 as x")
    conn.execute("create table marts.mart_example as select 1 as x union all select 2")
    conn.execute("insert into audit.load_batch (feed, source, source_sha256, status) values ('customs', 'f', 'h', 'running')")
    conn.commit()

    result = refresh_bi_grants(conn, bi_password)
    assert result == {"role": BI_ROLE, "marts_tables": 1, "password_set": True}
    # A mart dbt builds after the grants (every rebuild is a new table) is covered by default privileges.
    conn.execute("create table marts.mart_built_later as select 'new' as y")
    conn.commit()

    bi = get_settings().bi_warehouse()
    assert bi.user == BI_ROLE and bi.password == "bi-test-password"
    with warehouse.connect(warehouse=bi, autocommit=True) as bi_conn:
        assert bi_conn.execute("select current_user").fetchone()[0] == BI_ROLE
        assert bi_conn.execute("select sum(x) from marts.mart_example").fetchone()[0] == 3
        assert bi_conn.execute("select y from marts.mart_built_later").fetchone()[0] == "new"
        for table in ("raw.registry_enterprise", "raw.ceb_inventory_head", "staging.stg_example",
                      "audit.load_batch", "audit.validation_run"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                bi_conn.execute(f"select count(*) from {table}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi_conn.execute("create table marts.mart_by_bi (x int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi_conn.execute("delete from marts.mart_example")


def test_refreshing_grants_is_idempotent_and_revokes_strays(conn, bi_password):
    refresh_bi_grants(conn, bi_password)
    conn.execute(f"grant usage on schema raw to {BI_ROLE}")
    conn.execute(f"grant select on raw.registry_enterprise to {BI_ROLE}")
    conn.commit()
    refresh_bi_grants(conn, bi_password)
    assert conn.execute("select has_schema_privilege(%s, 'raw', 'usage'), "
                        "has_table_privilege(%s, 'raw.registry_enterprise', 'select')",
                        (BI_ROLE, BI_ROLE)).fetchone() == (False, False)


def test_each_pipeline_role_can_do_its_job_and_nothing_more(conn):
    """The loader writes raw and audit but cannot drop, alter or read what dbt builds; the
    transform role builds staging and marts and reads raw, but cannot change raw; the BI role can
    neither write nor read raw. None of them is a superuser."""
    from parkdw.settings import LOADER_ROLE, TRANSFORM_ROLE

    roles = conn.execute("select rolname, rolsuper, rolcreaterole, rolcreatedb from pg_roles "
                         "where rolname = any(%s) order by 1", ([LOADER_ROLE, TRANSFORM_ROLE, BI_ROLE],)).fetchall()
    assert roles == [(BI_ROLE, False, False, False), (LOADER_ROLE, False, False, False),
                     (TRANSFORM_ROLE, False, False, False)]
    owners = dict(conn.execute("select nspname, pg_get_userbyid(nspowner) from pg_namespace "
                               "where nspname in ('raw', 'audit', 'staging', 'marts')").fetchall())
    assert owners == {"raw": LOADER_ROLE, "audit": LOADER_ROLE, "staging": TRANSFORM_ROLE, "marts": TRANSFORM_ROLE}
    conn.commit()

    with warehouse.connect(role=TRANSFORM_ROLE, autocommit=True) as dbt:  # what dbt does
        assert dbt.execute("select current_user").fetchone()[0] == TRANSFORM_ROLE
        dbt.execute("create table marts.fct_example as select 1 as x")
        dbt.execute("create view staging.stg_example as select 1 as x")
        assert dbt.execute("select count(*) from raw.registry_enterprise").fetchone()[0] == 0
        for statement in ("insert into raw.registry_enterprise (credit_code, _batch_id, _record_no) values ('x', 1, 1)",
                          "drop table raw.registry_enterprise", "delete from audit.load_batch"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                dbt.execute(statement)

    with warehouse.connect(role=LOADER_ROLE, autocommit=True) as loader:
        assert loader.execute("select current_user").fetchone()[0] == LOADER_ROLE
        batch = loader.execute("insert into audit.load_batch (feed, source, source_sha256, status) "
                               "values ('registry', 'f', 'h', 'running') returning batch_id").fetchone()[0]
        loader.execute("insert into raw.registry_enterprise (credit_code, _batch_id, _record_no) "
                       "values ('91500000MA5U000001', %s, 1)", (batch,))
        loader.execute("create table if not exists raw.new_feed (x text)")  # a new feed's raw table
        for statement in ("drop table marts.fct_example", "alter table marts.fct_example add column y int",
                          "truncate marts.fct_example", "delete from marts.fct_example",
                          "drop view staging.stg_example", "create table marts.by_loader (x int)",
                          "select * from marts.fct_example", "drop schema marts cascade"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as exc:
                loader.execute(statement)
            assert "permission denied" in str(exc.value) or "must be owner" in str(exc.value), statement

    refresh_bi_grants(conn, None)
    with warehouse.connect(warehouse=get_settings().bi_warehouse(), autocommit=True) as bi_conn:
        assert bi_conn.execute("select x from marts.fct_example").fetchone()[0] == 1
        for statement in ("select count(*) from raw.registry_enterprise",
                          "insert into raw.registry_enterprise (credit_code, _batch_id, _record_no) values ('x', 1, 1)",
                          "insert into marts.fct_example values (2)", "create table raw.by_bi (x int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                bi_conn.execute(statement)
    assert conn.execute("select count(*) from raw.registry_enterprise").fetchone()[0] == 1
