"""`parkdw airflow` for real: the components start, report healthy, list the DAGs, run a triggered
DAG through the scheduler, serve its task log, and all stop on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pytest
import requests

from parkdw import airflow_stack
from parkdw.settings import parse_connection

pytestmark = pytest.mark.services


def processes_using_home(home: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("PARKDW_HOME") == str(home):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def wait_for(what: str, probe, timeout: float, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"parkdw airflow exited with {proc.returncode} while waiting for {what}"
        try:
            value = probe()
            if value:
                return value
        except (OSError, KeyError, ValueError, requests.RequestException):
            pass
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def test_parkdw_airflow_serves_runs_and_stops(wh, landing, tmp_path):
    cfg, landing_dir = landing
    metadata = airflow_stack.ensure_fresh_database(parse_connection(wh.conninfo), f"parkdw_af_{os.getpid()}")
    port = airflow_stack.free_port()
    env = {**os.environ, "PARKDW_HOME": str(tmp_path), "PARKDW_LANDING_DIR": str(landing_dir),
           "WAREHOUSE_URL": wh.conninfo, "PARKDW_AIRFLOW_DB_URL": metadata.conninfo}
    env.pop("AIRFLOW_HOME", None)
    out = open(tmp_path / "parkdw-airflow.out", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("parkdw")), "airflow", "--port", str(port)],
                            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        password = wait_for("admin password", lambda: airflow_stack.admin_password(tmp_path / "airflow"), 180, proc)
        api = airflow_stack.AirflowApi(f"http://127.0.0.1:{port}", airflow_stack.ADMIN_USER, password)
        wait_for("the printed UI address",
                 lambda: f"http://localhost:{port}" in (tmp_path / "parkdw-airflow.out").read_text(), 180, proc)

        health = api.health()
        assert {c: health[c]["status"] for c in ("metadatabase", "scheduler", "triggerer", "dag_processor")} == {
            "metadatabase": "healthy", "scheduler": "healthy", "triggerer": "healthy", "dag_processor": "healthy"}
        api.login()
        assert api.dag_ids() >= set(airflow_stack.PROJECT_DAGS)

        # A run triggered over the REST API goes through the scheduler and the LocalExecutor.
        dag_id = "parkdw_ingest_reference"
        api.set_paused(dag_id, False)
        run_id = api.trigger(dag_id, datetime(cfg.end.year, cfg.end.month, cfg.end.day, tzinfo=timezone.utc))
        api.wait_for_runs([(dag_id, run_id)], timeout=180)
        log = api.request("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/ingest_reference/logs/1",
                          headers={"Accept": "application/json"})
        events = [line.get("event", "") for line in log["content"] if isinstance(line, dict)]
        assert any(e.startswith("ingest reference") for e in events), events[-5:]
        # Wrong credentials are refused.
        with pytest.raises(requests.HTTPError):
            airflow_stack.AirflowApi(api.base_url, airflow_stack.ADMIN_USER, password + "x").login()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            returncode = proc.wait(timeout=90)
        finally:
            out.close()
            leftovers = processes_using_home(tmp_path)
            for p in leftovers:
                p.kill()
            airflow_stack.drop_database(metadata)
    assert returncode == 0, (tmp_path / "parkdw-airflow.out").read_text()[-2000:]
    assert leftovers == []
