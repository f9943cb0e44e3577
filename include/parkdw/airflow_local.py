"""Run the project's DAGs through Airflow itself, locally (SQLite metadata under PARKDW_HOME).

Used by `parkdw demo` and the end-to-end test: each DAG run goes through `dag.test()`, and a
run that does not end in success raises (dag.test() itself does not raise on a failed task).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext, redirect_stderr, redirect_stdout
from datetime import datetime, timedelta, timezone
from pathlib import Path

from parkdw.settings import WarehouseParams, get_settings

log = logging.getLogger(__name__)

DAG_CHAIN = ("parkdw_transform", "parkdw_validate", "parkdw_publish")
REFERENCE_LOOKBACK_DAYS = 7


class DagRunFailed(RuntimeError):
    pass


def prepare_environment(wh: WarehouseParams, log_level: str = "WARNING") -> dict[str, str]:
    """Export the local Airflow settings into this process (before Airflow is imported)."""
    env = get_settings().airflow_environment(wh, log_level)
    os.environ.update(env)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return env


def _local_log(name: str) -> Path:
    return get_settings().airflow_home / "logs" / "local_runs" / name


def airflow_cli(*args: str) -> None:
    """Run an `airflow` CLI command of this environment; its output goes to a log file."""
    airflow = Path(sys.executable).with_name("airflow")
    path = _local_log(f"airflow_{'_'.join(args)}.log")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        result = subprocess.run([str(airflow), *args], env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT)
    if result.returncode:
        raise DagRunFailed(f"`airflow {' '.join(args)}` failed (exit {result.returncode}); log: {path}")


def migrate_and_sync() -> None:
    """Create/upgrade the metadata DB and serialise the DAG folder (Assets need the producers known)."""
    started = time.monotonic()
    airflow_cli("db", "migrate")
    airflow_cli("dags", "reserialize")
    log.info("airflow metadata ready in %.1fs", time.monotonic() - started)


def load_dags() -> dict:
    with _output_to(_local_log("dagbag.log")):
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(get_settings().dags_folder))
    if bag.import_errors:
        raise DagRunFailed(f"DAG import errors: {bag.import_errors}")
    return bag.dags


@contextmanager
def _output_to(path: Path):
    """Send everything written to stdout/stderr (also by dbt and Airflow, at fd level) to a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab", buffering=0) as f, open(path, "a", buffering=1) as text:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            # Python-level streams too, for when they are not the process' fds (e.g. under pytest).
            with redirect_stdout(text), redirect_stderr(text):
                yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_dag(dags: dict, dag_id: str, run_after: datetime, quiet: bool = True) -> float:
    """Run one DAG as the scheduler would at `run_after`; raise unless every task succeeded.

    For the daily ingest DAGs a run at D+1 00:00 covers the data interval [D, D+1). With
    quiet=True the run's own output (Airflow, dbt, GX) goes to a log file named in errors.
    """
    started = time.monotonic()
    dag = dags[dag_id]
    for task in dag.tasks:  # a local run fails fast; retries are the scheduler's business
        task.retries = 0
    run_log = _local_log(f"{dag_id}_{run_after:%Y%m%dT%H%M}.log")
    with _output_to(run_log) if quiet else nullcontext():
        dag_run = dag.test(logical_date=run_after)
    state = str(getattr(dag_run, "state", "missing"))
    if not state.endswith("success"):
        failed = [ti.task_id for ti in dag_run.get_task_instances() if str(ti.state).endswith("failed")] if dag_run else []
        raise DagRunFailed(f"{dag_id} run at {run_after:%Y-%m-%d %H:%M} ended {state}; failed tasks: {failed}; "
                           f"log: {run_log}")
    seconds = time.monotonic() - started
    log.info("%s %s: success in %.1fs", dag_id, run_after, seconds)
    return seconds


@contextmanager
def sandbox_tracking_api(landing_dir: Path):
    """Serve the sandbox's tracking API on loopback for the DAGs, with one-off credentials."""
    import secrets

    from parkdw.sandbox.api import TrackingApiServer
    from parkdw.settings import ApiCredentials, reset_settings

    client_id, client_secret = f"parkdw-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    with TrackingApiServer(landing_dir, port=0, client_id=client_id, client_secret=client_secret,
                           rate_limit_per_second=200, burst=400) as server:
        previous = os.environ.get("AIRFLOW_CONN_TRACKING_API")
        os.environ["AIRFLOW_CONN_TRACKING_API"] = ApiCredentials(server.url, client_id, client_secret).airflow_uri()
        reset_settings()
        try:
            yield server
        finally:
            if previous is None:
                os.environ.pop("AIRFLOW_CONN_TRACKING_API", None)
            else:
                os.environ["AIRFLOW_CONN_TRACKING_API"] = previous
            reset_settings()


def run_chain(start_day, end_day, progress=print) -> dict[str, float]:
    """Ingest every partner for each day in [start, end], then transform, validate and publish.

    The carriers' tracking API is the sandbox's, served on loopback for the duration.
    """
    with sandbox_tracking_api(get_settings().landing_dir):
        return _run_chain(start_day, end_day, progress)


def _run_chain(start_day, end_day, progress) -> dict[str, float]:
    dags = load_dags()
    timings: dict[str, float] = {}
    # Reference data starts a week early: an export on a Monday needs the previous week's FX.
    day = start_day - timedelta(days=REFERENCE_LOOKBACK_DAYS)
    while day <= end_day:
        run_after = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
        partners = ("reference", "customs", "payments", "logistics") if day >= start_day else ("reference",)
        for partner in partners:
            dag_id = f"parkdw_ingest_{partner}"
            timings[dag_id] = timings.get(dag_id, 0.0) + run_dag(dags, dag_id, run_after)
        progress(f"  ingested {day.isoformat()} ({', '.join(partners)})")
        day += timedelta(days=1)
    run_after = datetime(end_day.year, end_day.month, end_day.day, tzinfo=timezone.utc) + timedelta(days=1, hours=1)
    for dag_id in DAG_CHAIN:
        timings[dag_id] = run_dag(dags, dag_id, run_after)
        progress(f"  {dag_id}: success ({timings[dag_id]:.0f}s)")
    return timings
