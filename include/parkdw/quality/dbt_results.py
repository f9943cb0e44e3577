"""dbt's run results (run_results.json) recorded in the audit schema, like the GX results.

Every dbt call is recorded: the transform DAG's Cosmos tasks through their `callback` (run in the
task, on the temporary project copy, before Cosmos deletes it and before a failed test fails the
task) and `parkdw dbt` / transform.run_dbt after the subprocess. One audit.dbt_invocation row per
invocation id and one audit.dbt_node_result row per node; recording a file twice changes nothing.
The manifest written beside the results gives each node its layer and each test its severity.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from parkdw import warehouse
from parkdw.settings import SCHEMA_AUDIT, WarehouseParams

log = logging.getLogger(__name__)

PASSED = {"pass", "success"}
FAILED = {"fail", "error", "runtime error"}


@dataclass(frozen=True)
class RecordedInvocation:
    invocation_id: str
    command: str
    nodes: int
    tests: int
    failed: int
    inserted: bool  # False when this invocation was recorded before


def _timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _node_context(manifest: dict, unique_id: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(name, layer, tested node, severity) of a node from the manifest written with the results."""
    nodes = manifest.get("nodes", {})
    node = nodes.get(unique_id) or manifest.get("sources", {}).get(unique_id)
    if node is None:
        return None, None, None, None

    def layer_of(n: dict) -> str | None:
        if n.get("resource_type") == "source":
            return "raw"
        if n.get("resource_type") == "seed":
            return "seeds"
        fqn = n.get("fqn") or []
        return fqn[1] if len(fqn) > 2 else None

    if node.get("resource_type") != "test":
        return node.get("name"), layer_of(node), None, None
    tested = node.get("attached_node") or next(iter((node.get("depends_on") or {}).get("nodes") or []), None)
    parent = nodes.get(tested) or manifest.get("sources", {}).get(tested) if tested else None
    severity = str((node.get("config") or {}).get("severity") or "error").lower()
    return node.get("name"), layer_of(parent) if parent else None, tested, severity


def record_run_results(target_dir: Path, invoked_by: str, airflow_run_id: str | None = None,
                       wh: WarehouseParams | None = None) -> RecordedInvocation | None:
    """Record target_dir/run_results.json (and its manifest's node context); None without a file."""
    results_path = Path(target_dir) / "run_results.json"
    if not results_path.is_file():
        return None
    run = json.loads(results_path.read_text(encoding="utf-8"))
    manifest_path = Path(target_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    meta, args = run.get("metadata", {}), run.get("args", {})
    results = run.get("results", [])
    finished = _timestamp(meta.get("generated_at"))
    elapsed = run.get("elapsed_time")
    started = _timestamp(meta.get("invocation_started_at")) or (
        finished - timedelta(seconds=elapsed) if finished and elapsed is not None else None)
    statuses = [str(r.get("status")).lower() for r in results]
    rows = []
    for r in results:
        name, layer, tested, severity = _node_context(manifest, r["unique_id"])
        timing = {t.get("name"): t for t in r.get("timing") or []}
        resource_type = r["unique_id"].split(".", 1)[0]
        rows.append((
            meta["invocation_id"], r["unique_id"], resource_type, name, layer, tested, severity,
            str(r.get("status")).lower(), r.get("failures"), r.get("message"), r.get("execution_time"),
            r.get("relation_name"),
            _timestamp((timing.get("compile") or timing.get("execute") or {}).get("started_at")),
            _timestamp((timing.get("execute") or timing.get("compile") or {}).get("completed_at")),
        ))
    command = {"generate": "docs generate", "serve": "docs serve"}.get(args.get("which"), args.get("which") or "unknown")
    selection = " ".join(f"--{k} {' '.join(v) if isinstance(v, list) else v}"
                         for k in ("select", "exclude") if (v := args.get(k)))
    tests = sum(1 for row in rows if row[2] == "test")
    failed = sum(s in FAILED for s in statuses)
    with warehouse.connect(warehouse=wh) as conn:
        if conn.execute(f"select to_regclass('{SCHEMA_AUDIT}.dbt_node_result')").fetchone()[0] is None:
            warehouse.ensure_schemas(conn)
        inserted = conn.execute(
            f"""insert into {SCHEMA_AUDIT}.dbt_invocation
                (invocation_id, command, selector, invoked_by, airflow_run_id, dbt_version, started_at,
                 finished_at, elapsed_seconds, success, nodes, tests, passed, failed, warned, skipped)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                on conflict (invocation_id) do nothing""",
            (meta["invocation_id"], command, selection or None, invoked_by, airflow_run_id,
             meta.get("dbt_version"), started, finished, elapsed, failed == 0, len(rows), tests,
             sum(s in PASSED for s in statuses), failed, statuses.count("warn"), statuses.count("skipped")),
        ).rowcount == 1
        if inserted:
            with conn.cursor() as cur:
                cur.executemany(
                    f"""insert into {SCHEMA_AUDIT}.dbt_node_result
                        (invocation_id, unique_id, resource_type, node_name, layer, tested_node, severity,
                         status, failures, message, execution_seconds, compiled_relation, started_at,
                         completed_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                        on conflict do nothing""", rows)
        conn.commit()  # the invocation and its nodes together
    recorded = RecordedInvocation(meta["invocation_id"], command, len(rows), tests, failed, inserted)
    log.info("dbt %s %s (%s): %d nodes, %d tests, %d failed%s", command, recorded.invocation_id, invoked_by,
             len(rows), tests, failed, "" if inserted else " (already recorded)")
    return recorded


def record_cosmos_artifacts(project_dir: str, context=None, **_kwargs) -> None:
    """Cosmos operator callback: record the task's dbt call from its temporary project copy."""
    ti = (context or {}).get("ti")
    invoked_by = f"airflow:{ti.dag_id}.{ti.task_id}" if ti is not None else "airflow"
    record_run_results(Path(project_dir) / "target", invoked_by, (context or {}).get("run_id"))
