"""dbt: running it from the command line, and the Cosmos configuration the transform DAG uses."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from parkdw.settings import TRANSFORM_ROLE, WarehouseParams, get_settings, role_conn_id

log = logging.getLogger(__name__)


def dbt_executable() -> str:
    """dbt from this interpreter's environment (the venv), whatever PATH says."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


def dbt_environment(wh: WarehouseParams) -> dict[str, str]:
    """Variables profiles.yml reads, taken from the project's settings."""
    return {
        "PARKDW_DBT_HOST": wh.host,
        "PARKDW_DBT_PORT": str(wh.port),
        "PARKDW_DBT_USER": wh.user,
        "PARKDW_DBT_PASSWORD": wh.password,
        "PARKDW_DBT_DBNAME": wh.dbname,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }


def dbt_command(args: list[str], wh: WarehouseParams | None = None, target_dir: Path | None = None) -> dict:
    """The Popen arguments (args, cwd, env) of a dbt command against the project and warehouse,
    as the transform role (the owner of staging and marts) unless a warehouse login is given."""
    settings = get_settings()
    if wh is None:
        from parkdw import warehouse

        warehouse.prepare()
        wh = settings.warehouse_as(TRANSFORM_ROLE)
    cmd = [dbt_executable(), *args, "--project-dir", str(settings.dbt_project_dir),
           "--profiles-dir", str(settings.dbt_project_dir)]
    # As variables, not flags: every dbt command reads them, and some (debug) refuse the flags.
    folders = {"DBT_TARGET_PATH": str(target_dir or settings.dbt_target_dir), "DBT_LOG_PATH": str(settings.dbt_log_dir)}
    return {"args": cmd, "cwd": settings.dbt_project_dir, "env": {**os.environ, **dbt_environment(wh), **folders}}


def run_dbt(args: list[str], wh: WarehouseParams | None = None, check: bool = True, record: bool = True,
            target_dir: Path | None = None) -> subprocess.CompletedProcess:
    """Run a dbt command against the project with the warehouse from settings.

    With record=True the call's run_results.json (if it wrote one) goes to audit.dbt_* (also when
    the command failed: a failed test is history too). target_dir: dbt's --target-path.
    """
    from parkdw.quality.dbt_results import record_run_results

    settings = get_settings()
    command = dbt_command(args, wh, target_dir)
    target = target_dir or settings.dbt_target_dir
    log.info("running %s", " ".join(command["args"][:3]))
    results = target / "run_results.json"
    before = results.stat().st_mtime_ns if results.exists() else None
    done = subprocess.run(**command)
    if record and results.exists() and results.stat().st_mtime_ns != before:
        record_run_results(target, "cli", wh=wh or settings.warehouse())
    if check:
        done.check_returncode()
    return done


def manifest_is_stale() -> bool:
    settings = get_settings()
    manifest = settings.dbt_manifest
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [p for p in settings.dbt_project_dir.rglob("*")
               if p.suffix in {".sql", ".yml", ".csv"} and "target" not in p.parts]
    return any(p.stat().st_mtime > built for p in sources)


def ensure_manifest() -> Path:
    """`dbt parse` when the manifest is missing or older than the project files.

    The transform DAG renders from this manifest (Cosmos LoadMode.DBT_MANIFEST), so DAG
    parsing never runs dbt. Parsing needs no database connection.
    """
    settings = get_settings()
    if manifest_is_stale():
        placeholder = WarehouseParams("localhost", 5432, "parse", "parse", "parse")
        run_dbt(["parse", "--quiet"], wh=placeholder, record=False)
    return settings.dbt_manifest


def cosmos_configs():
    """ProjectConfig, ProfileConfig, ExecutionConfig and RenderConfig for the DbtTaskGroup."""
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import LoadMode, TestBehavior
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    settings = get_settings()
    project = ProjectConfig(
        dbt_project_path=settings.dbt_project_dir,
        manifest_path=settings.dbt_manifest,
        # A test runs with the last of its parents to be built, not with the first one (a
        # relationship test needs both the fact and the dimension).
        env_vars={"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DBT_INDIRECT_SELECTION": "buildable"},
    )
    profile = ProfileConfig(
        profile_name="parkdw",
        target_name="warehouse",
        profile_mapping=PostgresUserPasswordProfileMapping(
            conn_id=role_conn_id(TRANSFORM_ROLE), profile_args={"schema": "staging", "threads": 2}
        ),
    )
    # dbt is installed beside Airflow, so Cosmos invokes it in-process (InvocationMode.DBT_RUNNER).
    execution = ExecutionConfig()
    # BUILD runs each model with its own tests in one dbt call (a failed test stops everything
    # downstream). Facts declare their dimensions as parents (depends_on), so their relationship
    # tests run in the fact's own call. Seeds are one task before the group (seed_task): a task
    # per seed would cost a dbt call each.
    render = RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        test_behavior=TestBehavior.BUILD,
        exclude=["resource_type:seed"],
        # The transform DAG's marts Asset is the contract; per-model Assets would be undeclared.
        emit_datasets=False,
    )
    return project, profile, execution, render


# Every Cosmos dbt task records its run_results.json in audit.dbt_* (before a failed test fails it).
RECORD_CALLBACK = "parkdw.quality.dbt_results.record_cosmos_artifacts"


def operator_args() -> dict:
    """Arguments of every Cosmos dbt operator the transform DAG makes."""
    return {"install_deps": False, "callback": RECORD_CALLBACK}


def seed_task(task_id: str = "dbt_seed"):
    """One task loading every seed (the customs code tables, targets) with `dbt seed`."""
    from cosmos.operators.local import DbtSeedLocalOperator

    project, profile, _execution, _render = cosmos_configs()
    return DbtSeedLocalOperator(task_id=task_id, project_dir=project.dbt_project_path, profile_config=profile,
                                **operator_args())
