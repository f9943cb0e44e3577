"""Test fixtures: a real PostgreSQL (the server on 127.0.0.1:5432 when reachable, else an
embedded one), a fresh warehouse database per session, and local Airflow settings."""

from __future__ import annotations

import atexit
import os
import socket
import tempfile
from datetime import date
from pathlib import Path

import psycopg
import pytest

TEST_DB = f"parkdw_test_{os.getpid()}"  # one per session: concurrent runs never share a database
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="parkdw-test-"))


def _server_url() -> str:
    """The machine's PostgreSQL when it answers on 127.0.0.1:5432, else an embedded one."""
    if os.environ.get("PARKDW_TEST_SERVER_URL"):
        return os.environ["PARKDW_TEST_SERVER_URL"]
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            pass
        url = "postgresql://postgres:test@127.0.0.1:5432/postgres"
        psycopg.connect(url, connect_timeout=5).close()
        return url
    except OSError:
        from parkdw.settings import start_embedded_postgres

        return start_embedded_postgres(_SESSION_HOME / "pgdata").conninfo


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _drop_database(conninfo: str) -> None:
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"drop database if exists {TEST_DB} with (force)")
    except psycopg.Error:
        pass  # the next session removes it


def _configure() -> None:
    """Point every settings consumer (and Airflow, before it is imported) at test resources."""
    from parkdw import settings
    from parkdw.airflow_local import prepare_environment

    server = settings.parse_connection(_server_url())
    wh = server.with_dbname(TEST_DB)
    with psycopg.connect(server.with_dbname("postgres").conninfo, autocommit=True) as conn:
        # Drop databases left by test sessions that no longer run (killed runs), then make ours.
        for (name,) in conn.execute("select datname from pg_database where datname ~ '^parkdw_test_[0-9]+$'").fetchall():
            if not _alive(int(name.rsplit("_", 1)[1])):
                conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"drop database if exists {TEST_DB} with (force)")
        conn.execute(f"create database {TEST_DB}")
    atexit.register(_drop_database, server.with_dbname("postgres").conninfo)
    os.environ.pop("AIRFLOW_CONN_WAREHOUSE", None)
    os.environ["WAREHOUSE_URL"] = wh.conninfo
    os.environ["PARKDW_HOME"] = str(_SESSION_HOME)
    settings.reset_settings()
    prepare_environment(wh)
    settings.reset_settings()


_configure()


@pytest.fixture(scope="session")
def wh():
    from parkdw.settings import get_settings

    return get_settings().warehouse()


@pytest.fixture()
def conn(wh):
    """A connection to a freshly emptied warehouse (layer schemas dropped and recreated)."""
    from parkdw import warehouse

    with warehouse.connect(warehouse=wh) as c:
        c.autocommit = True
        for schema in ("raw", "staging", "marts", "audit"):
            c.execute(f"drop schema if exists {schema} cascade")
        c.autocommit = False
        warehouse.ensure_schemas(c)
        yield c


@pytest.fixture(scope="session")
def landing(tmp_path_factory):
    """Two simulated days (a Sunday and 11.11) with their reference lookback week, with the
    sandbox's default defects injected (listed in its manifest). Seed 11 is one at which every
    file-level defect (malformed, GBK, BOM) occurs at this small scale and the registry changes
    between the two days."""
    from parkdw.sandbox.generate import SimulationConfig, simulate

    out = tmp_path_factory.mktemp("landing")
    cfg = SimulationConfig(date(2024, 11, 10), date(2024, 11, 11), seed=11, scale=0.005)
    simulate(cfg, out)
    return cfg, out


@pytest.fixture(scope="session")
def clean_landing(tmp_path_factory):
    """The same two days without injected defects, for exact count checks."""
    from parkdw.sandbox.generate import DefectRates, SimulationConfig, simulate

    out = tmp_path_factory.mktemp("clean_landing")
    cfg = SimulationConfig(date(2024, 11, 10), date(2024, 11, 11), seed=7, scale=0.005, defects=DefectRates.none())
    simulate(cfg, out)
    return cfg, out


def table_snapshot(conn, schemas=("raw", "staging", "marts")) -> dict:
    """Row count and a content checksum of every table in the schemas (load time left out)."""
    snapshot = {}
    tables = conn.execute("""select table_schema, table_name from information_schema.tables
                             where table_schema = any(%s) and table_type = 'BASE TABLE'
                             order by 1, 2""", (list(schemas),)).fetchall()
    for schema, table in tables:
        cols = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
            "and column_name not in ('_loaded_at') order by ordinal_position", (schema, table)).fetchall()]
        col_list = ", ".join(f'"{c}"' for c in cols)
        snapshot[f"{schema}.{table}"] = conn.execute(
            f'select count(*), md5(coalesce(string_agg(md5(row({col_list})::text), \'\' order by md5(row({col_list})::text)), \'\')) '
            f'from "{schema}"."{table}"').fetchone()
    conn.commit()  # no open transaction may hold locks that a later dbt run needs
    return snapshot


@pytest.fixture(scope="session")
def snapshot_tables():
    return table_snapshot
