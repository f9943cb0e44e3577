"""Airflow's long-running components as real local processes, and a small client of its REST API.

`parkdw airflow` (serve) runs the UI stack: api-server, scheduler, dag-processor and triggerer
with the LocalExecutor, the metadata in PostgreSQL, the project's DAGs, the warehouse connection
and the sandbox tracking API on loopback. parkdw.celery_run builds the Celery stack on the same
pieces. Each component runs in a session of its own; stopping signals every process of those
sessions (task processes and worker children included), so nothing outlives the command.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psutil
import requests
from psycopg import sql

from parkdw.settings import Settings, WarehouseParams, get_settings

log = logging.getLogger(__name__)

ADMIN_USER = "admin"
INGEST_PARTNERS = ("reference", "customs", "payments", "logistics")
CHAIN_DAGS = ("parkdw_transform", "parkdw_validate", "parkdw_publish")
PROJECT_DAGS = tuple(f"parkdw_ingest_{p}" for p in INGEST_PARTNERS) + CHAIN_DAGS


class ServiceFailed(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


def airflow_executable() -> str:
    """`airflow` from this interpreter's environment (the venv), whatever PATH says."""
    return str(Path(sys.executable).with_name("airflow"))


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log_path: Path


@dataclass
class Services:
    """Processes started here, each the leader of its own session, stopped together on exit."""

    env: dict[str, str]
    log_dir: Path
    services: list[Service] = field(default_factory=list)

    def start(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> Service:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"{name}.log"
        with open(path, "ab") as out:
            process = subprocess.Popen(argv, env={**self.env, **(extra_env or {})}, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        service = Service(name, process, path)
        self.services.append(service)
        log.info("started %s (pid %d), log %s", name, process.pid, path)
        return service

    def airflow(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> Service:
        return self.start(name, [airflow_executable(), *args], extra_env)

    def run(self, name: str, *args: str, timeout: float = 600) -> None:
        """A one-off `airflow` command (e.g. db migrate) in the same environment; raise on failure."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"{name}.log"
        with open(path, "ab") as out:
            result = subprocess.run([airflow_executable(), *args], env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout)
        if result.returncode:
            raise ServiceFailed(f"`airflow {' '.join(args)}` failed (exit {result.returncode}); log: {path}")

    def check(self) -> None:
        """Raise when a long-running component has exited."""
        for s in self.services:
            if s.process.poll() is not None:
                raise ServiceFailed(f"{s.name} exited with {s.process.returncode}; log: {s.log_path}")

    def processes(self) -> list[psutil.Process]:
        """Every live process in the sessions started here (components and all their children)."""
        sessions = {s.process.pid for s in self.services}
        found = []
        for p in psutil.process_iter():
            try:
                if os.getsid(p.pid) in sessions and p.status() != psutil.STATUS_ZOMBIE:
                    found.append(p)
            except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
                continue
        return found

    def stop(self, grace_seconds: float = 30) -> None:
        """SIGTERM the components (newest first) so they shut down cleanly, then SIGKILL leftovers."""
        for s in reversed(self.services):
            if s.process.poll() is None:
                s.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for s in reversed(self.services):
            try:
                s.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0fs; killing it", s.name, grace_seconds)
        leftovers = self.processes()
        for p in leftovers:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(leftovers, timeout=10)
        for s in self.services:
            if s.process.poll() is None:
                s.process.wait(timeout=10)
        self.services.clear()

    def __enter__(self) -> "Services":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class AirflowApi:
    """The few calls of Airflow's public REST API (v2) the local stacks need, with a JWT from /auth/token."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self._credentials = {"username": username, "password": password}
        self._timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False  # loopback: never through a proxy

    def login(self) -> None:
        r = self._session.post(f"{self.base_url}/auth/token", json=self._credentials, timeout=self._timeout)
        r.raise_for_status()
        self._session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    def request(self, method: str, path: str, **kwargs) -> dict:
        r = self._session.request(method, f"{self.base_url}/api/v2/{path}", timeout=self._timeout, **kwargs)
        if r.status_code == 401:  # token expired: log in again once
            self.login()
            r = self._session.request(method, f"{self.base_url}/api/v2/{path}", timeout=self._timeout, **kwargs)
        if not r.ok:
            raise ServiceFailed(f"{method} /api/v2/{path}: HTTP {r.status_code} {r.text[:300]}")
        return r.json()

    def health(self) -> dict:
        r = self._session.get(f"{self.base_url}/api/v2/monitor/health", timeout=self._timeout)
        r.raise_for_status()
        return r.json()

    def dag_ids(self) -> set[str]:
        return {d["dag_id"] for d in self.request("GET", "dags", params={"limit": 100})["dags"]}

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.request("PATCH", f"dags/{dag_id}", json={"is_paused": paused})

    def trigger(self, dag_id: str, logical_date: datetime, run_id: str | None = None) -> str:
        body = {"logical_date": logical_date.isoformat(), "dag_run_id": run_id or f"parkdw__{logical_date:%Y%m%dT%H%M}"}
        return self.request("POST", f"dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.request("GET", f"dags/{dag_id}/dagRuns/{run_id}")["state"]

    def failed_tasks(self, dag_id: str, run_id: str) -> list[str]:
        tis = self.request("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 500})
        return [t["task_id"] for t in tis["task_instances"] if t["state"] in ("failed", "upstream_failed")]

    def wait_for_runs(self, runs: list[tuple[str, str]], timeout: float, services: Services | None = None,
                      poll_seconds: float = 3) -> None:
        """Wait until every (dag_id, run_id) has succeeded; raise on a failed run or at the time limit."""
        pending = list(runs)
        deadline = time.monotonic() + timeout
        while pending:
            if services is not None:
                services.check()
            for dag_id, run_id in list(pending):
                state = self.run_state(dag_id, run_id)
                if state == "success":
                    pending.remove((dag_id, run_id))
                    log.info("%s %s: success", dag_id, run_id)
                elif state == "failed":
                    raise ServiceFailed(f"{dag_id} run {run_id} failed; failed tasks: "
                                        f"{self.failed_tasks(dag_id, run_id)}")
            if pending and time.monotonic() > deadline:
                raise ServiceFailed(f"runs still unfinished after {timeout:.0f}s: {pending}")
            if pending:
                time.sleep(poll_seconds)


def wait_until_ready(api: AirflowApi, services: Services, timeout: float, components: tuple[str, ...]) -> None:
    """Wait for the health endpoint to report every component healthy and for the DAGs to be parsed."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        services.check()
        try:
            health = api.health()
            unhealthy = [c for c in components if (health.get(c) or {}).get("status") != "healthy"]
            if not unhealthy:
                api.login()
                missing = set(PROJECT_DAGS) - api.dag_ids()
                if not missing:
                    return
                last = f"DAGs not parsed yet: {sorted(missing)}"
            else:
                last = f"not healthy yet: {unhealthy}"
        except requests.RequestException as exc:
            last = f"{type(exc).__name__}"
        time.sleep(1)
    raise ServiceFailed(f"Airflow not ready after {timeout:.0f}s ({last}); logs in {services.log_dir}")


def admin_password(airflow_home: Path) -> str:
    """The admin password the simple auth manager generated (it writes them to this file once)."""
    path = airflow_home / "simple_auth_manager_passwords.json.generated"
    return json.loads(path.read_text())[ADMIN_USER]


def ensure_fresh_database(server: WarehouseParams, dbname: str) -> WarehouseParams:
    import psycopg

    with psycopg.connect(server.with_dbname("postgres").conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    return server.with_dbname(dbname)


def drop_database(db: WarehouseParams) -> None:
    import psycopg

    with psycopg.connect(db.with_dbname("postgres").conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db.dbname)))


def stack_environment(settings: Settings, wh: WarehouseParams, metadata: WarehouseParams, api_port: int,
                      executor: str = "LocalExecutor") -> dict[str, str]:
    """Environment every component shares: the project's local Airflow settings on a PostgreSQL
    metadata DB, one JWT secret (api-server and scheduler must agree on it) and the execution
    API the task processes report to."""
    env = {**settings.process_environment(), **settings.airflow_environment(wh, "INFO")}
    env.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata.sqlalchemy_url,
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),  # per start: tokens end with the stack
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        # A laptop-sized default: at most four task processes at once.
        "AIRFLOW__CORE__PARALLELISM": "4",
    })
    return env


def prepare_warehouse(wh: WarehouseParams) -> None:
    """Create the database, schemas and raw tables before any task runs: concurrent first runs
    would otherwise race on the same DDL (duplicate-key errors on the catalogs)."""
    from parkdw import warehouse

    warehouse.ensure_database(wh)
    with warehouse.connect(warehouse=wh) as conn:
        warehouse.ensure_schemas(conn)
        conn.commit()


def ensure_landing(settings: Settings, start: date, end: date, progress=print) -> None:
    """Simulate a small period when the landing folder is empty, so the DAGs have data to load."""
    landing = settings.landing_dir
    if landing.is_dir() and any(landing.iterdir()):
        return
    from parkdw.sandbox.generate import SimulationConfig, simulate

    progress(f"landing folder {landing} is empty: simulating {start}..{end}")
    totals = simulate(SimulationConfig(start, end, scale=0.01), landing)
    progress(f"  {totals['orders']} orders simulated")


def start_components(services: Services, port: int) -> None:
    """The api-server on loopback, and the scheduler and dag-processor (logs are read from local disk,
    so no component serves its own)."""
    services.airflow("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port))
    services.airflow("scheduler", "scheduler", "--skip-serve-logs")
    services.airflow("dag-processor", "dag-processor")


def serve(port: int, start: date, end: date, ready_timeout: float = 300, progress=print) -> int:
    """`parkdw airflow`: run the local UI stack until Ctrl-C or SIGTERM, then stop every component."""
    from parkdw import airflow_local, transform, warehouse

    settings = get_settings()
    if port_in_use(port):
        progress(f"port {port} is already in use: pass another with --port")
        return 2
    wh = settings.warehouse()
    prepare_warehouse(wh)
    metadata = settings.airflow_metadata()
    warehouse.ensure_database(metadata)
    progress(f"warehouse {wh.redacted()} ({settings.warehouse_source}); Airflow metadata {metadata.redacted()}")
    ensure_landing(settings, start, end, progress)
    transform.ensure_manifest()

    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main else None
    try:
        with airflow_local.sandbox_tracking_api(settings.landing_dir) as api_server:
            env = stack_environment(settings, wh, metadata, port)
            env["AIRFLOW_CONN_TRACKING_API"] = get_settings().tracking_api().airflow_uri()
            home = settings.airflow_home
            with Services(env, home / "logs" / "services") as services:
                progress("migrating the Airflow metadata database")
                services.run("db-migrate", "db", "migrate")
                start_components(services, port)
                services.airflow("triggerer", "triggerer", "--skip-serve-logs")
                progress("starting api-server, scheduler, dag-processor, triggerer")
                password = wait_for_password(home, services, ready_timeout)
                api = AirflowApi(f"http://127.0.0.1:{port}", ADMIN_USER, password)
                wait_until_ready(api, services, ready_timeout, ("metadatabase", "scheduler", "triggerer", "dag_processor"))
                progress(f"Airflow UI: http://localhost:{port}  (user {ADMIN_USER}, password "
                         f"{password}; kept in {home / 'simple_auth_manager_passwords.json.generated'})")
                progress(f"sandbox tracking API: {api_server.url}; DAGs paused at creation: unpause them in the UI")
                progress(f"task logs: {home / 'logs'}; component logs: {services.log_dir}. Ctrl-C stops everything.")
                while not stop.wait(2):
                    services.check()
                progress("stopping")
    except KeyboardInterrupt:
        progress("stopped")
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    return 0


def wait_for_password(home: Path, services: Services, timeout: float) -> str:
    """The api-server writes the generated admin password on its first start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        services.check()
        try:
            return admin_password(home)
        except (FileNotFoundError, KeyError, json.JSONDecodeError):
            time.sleep(1)
    raise ServiceFailed(f"no admin password written under {home} after {timeout:.0f}s")


def chain_runs(day: date) -> list[tuple[str, datetime]]:
    """The ingest runs for one simulated day, as airflow_local runs them: reference data for the
    week before too (an export on a Monday needs the previous week's FX), then the partners."""
    from parkdw.airflow_local import REFERENCE_LOOKBACK_DAYS

    runs = []
    for offset in range(REFERENCE_LOOKBACK_DAYS, -1, -1):
        d = day - timedelta(days=offset)
        runs.append(("parkdw_ingest_reference", datetime(d.year, d.month, d.day, tzinfo=timezone.utc) + timedelta(days=1)))
    after = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
    runs += [(f"parkdw_ingest_{p}", after) for p in INGEST_PARTNERS if p != "reference"]
    return runs


def run_chain_via_api(api: AirflowApi, services: Services, day: date, timeout: float,
                      progress=print) -> tuple[list[tuple[str, str]], dict[str, float]]:
    """Trigger the whole chain for one day through the REST API, each stage after the previous
    succeeded; return the runs and each stage's seconds."""
    for dag_id in PROJECT_DAGS:
        api.set_paused(dag_id, False)
    started = time.monotonic()
    runs = [(dag_id, api.trigger(dag_id, after)) for dag_id, after in chain_runs(day)]
    api.wait_for_runs(runs, timeout, services)
    seconds = {"ingest": time.monotonic() - started}
    progress(f"  {len(runs)} ingest runs for {day}: success ({seconds['ingest']:.0f}s)")
    after = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1, hours=1)
    for dag_id in CHAIN_DAGS:
        started = time.monotonic()
        run = (dag_id, api.trigger(dag_id, after))
        api.wait_for_runs([run], timeout, services)
        seconds[dag_id.removeprefix("parkdw_")] = time.monotonic() - started
        progress(f"  {dag_id}: success ({seconds[dag_id.removeprefix('parkdw_')]:.0f}s)")
        runs.append(run)
    return runs, seconds
