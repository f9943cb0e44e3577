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
from datetime import datetime, timedelta, timezone
from pathlib import Path

from parkdw.settings import WarehouseParams, get_settings

log = logging.getLogger(__name__)

DAG_CHAIN = ("parkdw_transform", "parkdw_validate", "parkdw_publish")
REFERENCE_LOOKBACK_DAYS = 7


class DagRunFailed(RuntimeError):
    pass


def prepare_environment(wh: WarehouseParams) -> dict[str, str]:
    """Export the local Airflow settings into this process (before Airflow is imported)."""
    env = get_settings().airflow_environment(wh)
    os.environ.update(env)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return env


def airflow_cli(*args: str) -> None:
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), *args], check=True, env=os.environ.copy(),
                   stdout=subprocess.DEVNULL if args[:2] == ("db", "migrate") else None)


def migrate_and_sync() -> None:
    """Create/upgrade the metadata DB and serialise the DAG folder (Assets need the producers known)."""
    started = time.monotonic()
    airflow_cli("db", "migrate")
    airflow_cli("dags", "reserialize")
    log.info("airflow metadata ready in %.1fs", time.monotonic() - started)


def load_dags() -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(get_settings().dags_folder))
    if bag.import_errors:
        raise DagRunFailed(f"DAG import errors: {bag.import_errors}")
    return bag.dags


def run_dag(dags: dict, dag_id: str, logical_date: datetime, conf: dict | None = None) -> float:
    """Run one DAG for one logical date; raise unless every task succeeded. Returns seconds."""
    started = time.monotonic()
    dag = dags[dag_id]
    for task in dag.tasks:  # a local run fails fast; retries are the scheduler's business
        task.retries = 0
    dag_run = dag.test(logical_date=logical_date, run_conf=conf or {})
    state = str(getattr(dag_run, "state", "missing"))
    if not state.endswith("success"):
        failed = [ti.task_id for ti in dag_run.get_task_instances() if str(ti.state).endswith("failed")] if dag_run else []
        raise DagRunFailed(f"{dag_id} run for {logical_date:%Y-%m-%d} ended {state}; failed tasks: {failed}")
    seconds = time.monotonic() - started
    log.info("%s %s: success in %.1fs", dag_id, logical_date.date(), seconds)
    return seconds


def run_chain(start_day, end_day, progress=print) -> dict[str, float]:
    """Ingest every partner for each day in [start, end], then transform, validate and publish."""
    dags = load_dags()
    timings: dict[str, float] = {}
    # Reference data starts a week early: an export on a Monday needs the previous week's FX.
    day = start_day - timedelta(days=REFERENCE_LOOKBACK_DAYS)
    while day <= end_day:
        logical = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        partners = ("reference", "customs") if day >= start_day else ("reference",)
        for partner in partners:
            dag_id = f"parkdw_ingest_{partner}"
            timings[dag_id] = timings.get(dag_id, 0.0) + run_dag(dags, dag_id, logical)
        progress(f"  ingested {day.isoformat()} ({', '.join(partners)})")
        day += timedelta(days=1)
    logical = datetime(end_day.year, end_day.month, end_day.day, tzinfo=timezone.utc) + timedelta(hours=23)
    for dag_id in DAG_CHAIN:
        timings[dag_id] = run_dag(dags, dag_id, logical)
        progress(f"  {dag_id}: success ({timings[dag_id]:.0f}s)")
    return timings
