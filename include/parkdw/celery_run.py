"""Scale-out proven with real processes: the DAG chain for one day on the CeleryExecutor.

`parkdw celery-demo` starts Redis as the broker (the one on 127.0.0.1:6379 when it answers, else a
redis-server on a free loopback port), a fresh PostgreSQL metadata database (Celery cannot run on
SQLite), the api-server (task processes report to its execution API), a scheduler, a dag-processor
and two Celery workers with distinct names; it triggers the chain over the REST API (ingest for the
day, then transform, validate, publish), waits for success, and reads task_instance.hostname back
from the metadata database to show which worker ran what. Whatever it started, it stops.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from parkdw import airflow_local, airflow_stack, transform
from parkdw.settings import WarehouseParams, get_settings

log = logging.getLogger(__name__)

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_DAY = date(2024, 11, 6)


@dataclass
class CeleryRunResult:
    landing: Path
    queue: str
    runs: list[tuple[str, str]]
    stage_seconds: dict[str, float]
    tasks_by_worker: dict[str, int]
    seconds: float


def redis_answers(url: str, timeout: float = 2) -> bool:
    """True when a Redis server answers PING at the URL's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_broker(services: airflow_stack.Services, url: str, progress) -> str:
    """The given Redis if it answers; else a private redis-server on a free loopback port (no persistence)."""
    if redis_answers(url):
        return url
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise airflow_stack.ServiceFailed(f"no Redis answers at {url} and redis-server is not installed")
    port = airflow_stack.free_port()
    services.start("redis", [redis_server, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no"])
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 30
    while not redis_answers(url):
        services.check()
        if time.monotonic() > deadline:
            raise airflow_stack.ServiceFailed(f"redis-server did not answer on port {port}")
        time.sleep(0.2)
    progress(f"started redis-server on 127.0.0.1:{port}")
    return url


def forget_queue(url: str, queue: str) -> None:
    """Remove the run's queue and its binding from the shared broker (a private one is gone already)."""
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2).delete(queue, f"_kombu.binding.{queue}")
    except redis.RedisError:
        pass


def tasks_by_worker(metadata: WarehouseParams, queue: str) -> dict[str, int]:
    with psycopg.connect(metadata.conninfo) as conn:
        rows = conn.execute("select hostname, count(*) from task_instance where queue = %s and state = 'success' "
                            "group by hostname order by hostname", (queue,)).fetchall()
    return dict(rows)


def run(day: date = DEFAULT_DAY, *, workers: int = 2, concurrency: int = 2, scale: float = 0.005,
        broker_url: str = DEFAULT_BROKER, metadata_server: WarehouseParams | None = None,
        timeout: float = 900, progress=print) -> CeleryRunResult:
    from parkdw.sandbox.generate import SimulationConfig, simulate

    started = time.monotonic()
    settings = get_settings()
    wh = settings.warehouse()
    airflow_stack.prepare_warehouse(wh)
    run_dir = settings.home / "celery-demo"
    shutil.rmtree(run_dir, ignore_errors=True)
    landing = run_dir / "landing"
    totals = simulate(SimulationConfig(day, day, scale=scale), landing)
    progress(f"simulated {day}: {totals['orders']} orders into {landing}")
    transform.ensure_manifest()

    server = metadata_server or settings.airflow_metadata()
    metadata = airflow_stack.ensure_fresh_database(server, f"parkdw_celery_{os.getpid()}")
    port = airflow_stack.free_port()
    queue = f"parkdw-{secrets.token_hex(4)}"  # a queue of its own: a shared broker never mixes runs
    home = run_dir / "airflow"
    try:
        with (airflow_local.sandbox_tracking_api(landing),
              airflow_stack.Services({}, home / "logs" / "services") as services):
            broker = start_broker(services, broker_url, progress)
            env = airflow_stack.stack_environment(settings, wh, metadata, port, executor="CeleryExecutor")
            env.update({
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
                "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos_cache"),
                "PARKDW_LANDING_DIR": str(landing),
                "AIRFLOW_CONN_TRACKING_API": get_settings().tracking_api().airflow_uri(),
                "AIRFLOW__CELERY__BROKER_URL": broker,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata.sqlalchemy_url.replace("+psycopg2", ""),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
                "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "parkdw.celery_config.CELERY_CONFIG",  # warm dbt start
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
                "AIRFLOW__CORE__PARALLELISM": str(workers * concurrency),
                # Only the runs triggered here: no cron or asset-triggered runs beside them.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                # Workers share this machine, so each reports its own name as task_instance.hostname.
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "parkdw.settings.worker_hostname",
            })
            services.env = env
            progress(f"metadata {metadata.redacted()}, broker {broker}, queue {queue}")
            services.run("db-migrate", "db", "migrate")
            airflow_stack.start_components(services, port)
            for n in range(1, workers + 1):
                name = f"celery-worker-{n}"
                services.airflow(name, "celery", "worker", "--queues", queue, "--concurrency", str(concurrency),
                                 "--celery-hostname", f"{name}@{queue}", "--skip-serve-logs",
                                 extra_env={"PARKDW_WORKER_NAME": name})
            progress(f"started api-server, scheduler, dag-processor and {workers} Celery workers")
            password = airflow_stack.wait_for_password(home, services, 300)
            api = airflow_stack.AirflowApi(f"http://127.0.0.1:{port}", airflow_stack.ADMIN_USER, password)
            airflow_stack.wait_until_ready(api, services, 300, ("metadatabase", "scheduler", "dag_processor"))
            runs, stage_seconds = airflow_stack.run_chain_via_api(api, services, day, timeout, progress)
            by_worker = tasks_by_worker(metadata, queue)
    finally:
        airflow_stack.drop_database(metadata)
        forget_queue(broker_url, queue)
    return CeleryRunResult(landing, queue, runs, stage_seconds, by_worker, time.monotonic() - started)
