"""Scale-out with real processes: one simulated day's DAG chain on the CeleryExecutor, Redis as the
broker and two Celery workers; the marts equal what the input implies and both workers ran tasks."""

import os

import psutil
import psycopg
import pytest
import redis

from parkdw import celery_run, warehouse
from parkdw.pipeline import progress_rows
from parkdw.sandbox.generate import SimulationConfig, expected_progress
from parkdw.settings import parse_connection

pytestmark = [pytest.mark.services, pytest.mark.celery]


def test_one_day_chain_runs_on_two_celery_workers(wh):
    with warehouse.connect(warehouse=wh, autocommit=True) as conn:
        for schema in ("raw", "staging", "marts", "audit"):
            conn.execute(f"drop schema if exists {schema} cascade")
    server = parse_connection(wh.conninfo).with_dbname("postgres")

    result = celery_run.run(metadata_server=server, progress=lambda m: None)

    assert [dag_id for dag_id, _ in result.runs][-3:] == ["parkdw_transform", "parkdw_validate", "parkdw_publish"]
    assert set(result.tasks_by_worker) == {"celery-worker-1", "celery-worker-2"}
    assert min(result.tasks_by_worker.values()) > 0
    day = celery_run.DEFAULT_DAY
    expected = expected_progress(SimulationConfig(day, day, scale=0.005), result.landing)
    with warehouse.connect(warehouse=wh) as conn:
        rows = {r["metric"]: r for r in progress_rows(conn)}
        assert rows["export_volume_cny"]["cumulative_actual"] == expected["export_volume_cny"] > 0
        assert conn.execute("select count(*) from marts.fct_export_declaration_lines").fetchone()[0] == \
            expected["released_lines"]
    # Nothing is left behind: no process of the run, no metadata database, no queue on the broker.
    left = [p for p in psutil.process_iter(["cmdline"]) if result.queue in " ".join(p.info["cmdline"] or [])]
    assert left == []
    with psycopg.connect(server.conninfo) as conn:
        assert conn.execute("select count(*) from pg_database where datname = %s",
                            (f"parkdw_celery_{os.getpid()}",)).fetchone()[0] == 0
    if celery_run.redis_answers(celery_run.DEFAULT_BROKER):
        assert redis.Redis.from_url(celery_run.DEFAULT_BROKER).exists(result.queue, f"_kombu.binding.{result.queue}") == 0
