"""The warehouse's server settings (deploy/postgresql/warehouse.conf): one file, which the compose
stack's server includes, the embedded server gets at start, and `parkdw server-settings --apply`
sets on another server. Checked on a real embedded PostgreSQL 16 (the compose image's major)."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
import yaml

from parkdw import cli, settings, warehouse
from parkdw.settings import REPO_ROOT

CONF = REPO_ROOT / "deploy" / "postgresql" / "warehouse.conf"


def test_the_file_parses_and_a_bad_line_is_named(tmp_path):
    wanted = warehouse.server_settings()
    assert wanted["shared_buffers"] == "2GB" and wanted["max_wal_size"] == "16GB"
    assert wanted["random_page_cost"] == "1.1" and len(wanted) == 7
    bad = tmp_path / "bad.conf"
    bad.write_text("# sizes\nshared_buffers = 1GB\nmax_wal_size\n")
    with pytest.raises(ValueError, match=r"bad\.conf:3: expected 'name = value', got 'max_wal_size'"):
        warehouse.server_settings(bad)


def test_the_compose_warehouse_includes_the_same_file():
    spec = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    assert "./deploy/postgresql/warehouse.conf:/etc/parkdw/warehouse.conf:ro" in spec["services"]["warehouse"]["volumes"]
    script = REPO_ROOT / "deploy" / "warehouse-init" / "00-server-settings.sh"
    assert "include_if_exists '/etc/parkdw/warehouse.conf'" in script.read_text()


def _stop(pgdata: Path) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user="pgserver" if os.geteuid() == 0 else None)


def _postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


def test_the_embedded_server_runs_with_the_settings_and_restarts_only_for_a_change(tmp_path, monkeypatch, capsys,
                                                                                 caplog):
    pgdata = tmp_path / "pgdata"
    wh = settings.start_embedded_postgres(pgdata)  # a new server: created, set, restarted once
    assert "restarting the embedded PostgreSQL to apply shared_buffers, wal_buffers" in caplog.text
    try:
        first_pid = _postmaster_pid(pgdata)
        with psycopg.connect(wh.conninfo) as conn:
            running = dict(conn.execute(
                "select name, current_setting(name) from pg_settings where name = any(%s)",
                (list(warehouse.server_settings()),)).fetchall())
            pending = conn.execute("select count(*) from pg_settings where pending_restart").fetchone()[0]
        assert running == warehouse.server_settings() and pending == 0

        settings.start_embedded_postgres(pgdata)  # started again: nothing to set, no restart
        assert _postmaster_pid(pgdata) == first_pid

        with psycopg.connect(wh.conninfo, autocommit=True) as conn:  # a reloadable change
            assert warehouse.apply_server_settings(conn, {"random_page_cost": "1.5"}) == {
                "changed": ["random_page_cost"], "pending_restart": []}
            assert conn.execute("show random_page_cost").fetchone()[0] == "1.5"
            # a change that needs a restart is reported as such
            assert warehouse.apply_server_settings(conn, {"shared_buffers": "1GB"}) == {
                "changed": ["shared_buffers"], "pending_restart": ["shared_buffers"]}

        caplog.clear()
        settings.start_embedded_postgres(pgdata)  # the file's values back; 2GB still runs, so no restart
        assert _postmaster_pid(pgdata) == first_pid and "restarting" not in caplog.text
        with psycopg.connect(wh.conninfo) as conn:
            assert conn.execute("show shared_buffers").fetchone()[0] == "2GB"
            assert conn.execute("show random_page_cost").fetchone()[0] == "1.1"
            assert conn.execute("select count(*) from pg_settings where pending_restart").fetchone()[0] == 0

        # The CLI shows the file against the server, and --apply finds nothing left to change.
        monkeypatch.setenv("WAREHOUSE_URL", wh.conninfo)
        monkeypatch.delenv("AIRFLOW_CONN_WAREHOUSE", raising=False)
        settings.reset_settings()
        assert cli.main(["server-settings", "--apply"]) == 0
        out = capsys.readouterr().out
        assert "  shared_buffers         2GB      (server: 2GB)" in out
        assert "changed: nothing" in out
    finally:
        settings.reset_settings()
        _stop(pgdata)


def test_apply_refuses_a_setting_the_server_does_not_know(wh):
    with warehouse.connect(warehouse=wh, autocommit=True) as conn:
        with pytest.raises(ValueError, match=r"unknown server settings \['shared_bufers'\]"):
            warehouse.apply_server_settings(conn, {"shared_bufers": "1GB"})
