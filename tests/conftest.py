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


def _empty_warehouse(conn) -> None:
    """Drop the layer schemas and recreate the project's (raw, audit) tables."""
    from parkdw import warehouse

    conn.autocommit = True
    for schema in ("raw", "staging", "marts", "audit"):
        conn.execute(f"drop schema if exists {schema} cascade")
    conn.autocommit = False
    warehouse.ensure_schemas(conn)


@pytest.fixture(scope="session")
def empty_warehouse():
    return _empty_warehouse


@pytest.fixture()
def conn(wh):
    """A connection to a freshly emptied warehouse (layer schemas dropped and recreated)."""
    from parkdw import warehouse

    with warehouse.connect(warehouse=wh) as c:
        _empty_warehouse(c)
        yield c


def _wait_for(conn, query: str, params: tuple, what: str, proc=None, limit: float = 300):
    """Poll until the query returns a row; a bound so a broken run fails instead of hanging."""
    import time

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        row = conn.execute(query, params).fetchone()
        conn.rollback()
        if row:
            return row
        if proc is not None and proc.poll() is not None:
            stderr = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"process exited ({proc.returncode}) before {what}: {stderr}")
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture(scope="session")
def wait_for():
    return _wait_for


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


@pytest.fixture(scope="session")
def snapshot_tables():
    """Row count and content checksum per table (parkdw.warehouse.table_fingerprints)."""
    from parkdw.warehouse import table_fingerprints

    return table_fingerprints


def _age_all_loads(conn, days: int) -> None:
    """Move every load (raw rows and the models' watermarks) back in time, as if the loads had
    happened days ago: beyond the incremental lookback, so only new files count as new."""
    for schema, table, column in conn.execute(
            """select c.table_schema, c.table_name, c.column_name from information_schema.columns c
               join information_schema.tables t using (table_schema, table_name)
               where c.column_name in ('_loaded_at', '_group_loaded_at') and t.table_type = 'BASE TABLE'
                 and c.table_schema in ('raw', 'staging', 'marts')""").fetchall():
        conn.execute(f'update "{schema}"."{table}" set "{column}" = "{column}" - interval \'{days} days\'')
    conn.commit()


@pytest.fixture(scope="session")
def age_all_loads():
    return _age_all_loads
