"""Every DAG file imports cleanly, without touching a database or the network, with agreed defaults."""

import socket
from pathlib import Path

import psycopg
import pytest

from parkdw import transform
from parkdw.settings import get_settings

DAG_FILES = sorted(get_settings().dags_folder.glob("*.py"))
EXPECTED_DAGS = {"parkdw_ingest_customs", "parkdw_ingest_reference", "parkdw_ingest_payments",
                 "parkdw_ingest_logistics", "parkdw_transform",
                 "parkdw_validate", "parkdw_publish"}


@pytest.fixture(scope="module")
def dagbag():
    transform.ensure_manifest()  # the transform DAG renders from the dbt manifest
    from airflow.dag_processing.dagbag import DagBag

    def refuse(*args, **kwargs):
        raise AssertionError("network or database access at DAG import time")

    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(socket, "create_connection", refuse)
    mp.setattr(psycopg, "connect", refuse)
    try:
        bag = DagBag(dag_folder=str(get_settings().dags_folder))
    finally:
        mp.undo()
    return bag


def test_dag_files_import_without_errors(dagbag):
    assert DAG_FILES
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == EXPECTED_DAGS


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_each_dag_has_an_owner_retries_and_tags(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert "parkdw" in dag.tags
    for task in dag.tasks:
        assert task.owner == "parkdw-data-engineering", task.task_id
        expected = 0 if dag_id == "parkdw_validate" else 2  # a failed check is not transient
        assert task.retries == expected, task.task_id
        assert task.execution_timeout is not None, task.task_id


def test_dag_files_hold_wiring_only():
    for path in DAG_FILES:
        text = path.read_text()
        for forbidden in ("psycopg", "import pandas", "os.environ", "select ", "insert into", "Variable.get"):
            assert forbidden not in text, f"{path.name} contains {forbidden!r}: logic belongs in include/parkdw"


def test_transform_dag_runs_models_and_tests_through_cosmos(dagbag):
    dag = dagbag.dags["parkdw_transform"]
    ids = {t.task_id for t in dag.tasks}
    for model in ("fct_export_declaration_lines", "fct_parcel_shipments", "mart_target_progress",
                  "stg_customs__inventory_heads"):
        assert f"dbt.{model}_model_build" in ids
    assert "dbt.dim_enterprise_model_build" in ids
    # Seeds load in one task before the group; relationship tests run inside the fact's build
    # (the facts depend on their dimensions), so no test needs a task of its own.
    assert not any(i.endswith("_seed_build") or i.endswith("_test") for i in ids)
    group_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.")]
    roots = [t for t in group_tasks if not any(u.startswith("dbt.") for u in t.upstream_task_ids)]
    assert roots and all("dbt_seed" in t.upstream_task_ids for t in roots)
    fact = dag.get_task("dbt.fct_export_declaration_lines_model_build")
    assert "dbt.dim_date_model_build" in fact.upstream_task_ids
    assert "marts_built" in ids
