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
