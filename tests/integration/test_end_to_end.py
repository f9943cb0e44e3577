"""The whole DAG chain through Airflow on a tiny period: the marts equal what the input implies."""

import csv
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from parkdw import airflow_local, warehouse
from parkdw.pipeline import progress_rows
from parkdw.sandbox.generate import expected_progress
from parkdw.settings import get_settings

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chain(landing, wh):
    cfg, out = landing
    settings = get_settings()
    # The DAGs read the landing folder from settings: point it at the session's simulated files.
    import os
    os.environ["PARKDW_LANDING_DIR"] = str(out)
    from parkdw import settings as settings_mod
    settings_mod.reset_settings()
    with warehouse.connect(warehouse=wh) as conn:
        conn.autocommit = True
        for schema in ("raw", "staging", "marts", "audit"):
            conn.execute(f"drop schema if exists {schema} cascade")
    from parkdw import transform
    transform.ensure_manifest()
    airflow_local.migrate_and_sync()
    timings = airflow_local.run_chain(cfg.start, cfg.end, progress=lambda m: None)
    return cfg, out, timings


def test_chain_marts_equal_the_generated_input(chain, wh):
    cfg, out, timings = chain
    assert set(timings) >= {"parkdw_ingest_customs", "parkdw_transform", "parkdw_validate", "parkdw_publish"}
    expected = expected_progress(cfg, out)
    with warehouse.connect(warehouse=wh) as conn:
        rows = {r["metric"]: r for r in progress_rows(conn)}
        assert rows["enterprises_introduced"]["cumulative_actual"] == expected["enterprises_introduced"] > 0
        assert rows["startups_incubated"]["cumulative_actual"] == expected["startups_incubated"] > 0
        assert rows["export_volume_cny"]["cumulative_actual"] == expected["export_volume_cny"] > 0  # to the fen
        assert rows["export_volume_cny"]["as_of_date"] == cfg.end
        lines, total = conn.execute("select count(*), sum(value_cny) from marts.fct_export_declaration_lines").fetchone()
        assert lines == expected["released_lines"] and total == expected["export_volume_cny"]
        # Every fact row traces to a loaded raw batch and its source file.
        orphans = conn.execute("""select count(*) from marts.fct_export_declaration_lines f
                                  left join audit.load_batch b on b.batch_id = f._batch_id and b.status = 'loaded'
                                  where b.batch_id is null or b.source <> f._source""").fetchone()[0]
        assert orphans == 0
        runs = conn.execute("select count(*), bool_and(blocking_success) from audit.validation_run").fetchone()
        assert runs[0] >= 4 and runs[1] is True


def test_publish_wrote_exports_that_match_the_marts(chain, wh):
    exports = get_settings().output_dir / "exports"
    manifest = json.loads((exports / "manifest.json").read_text())
    with warehouse.connect(warehouse=wh) as conn:
        for table, meta in manifest["tables"].items():
            with open(exports / meta["file"], newline="") as f:
                assert sum(1 for _ in csv.reader(f)) - 1 == meta["rows"]
            assert conn.execute(f"select count(*) from marts.{table}").fetchone()[0] == meta["rows"]
        with open(exports / "mart_target_progress.csv", newline="") as f:
            last = [r for r in csv.DictReader(f) if r["metric"] == "export_volume_cny"][-1]
        assert Decimal(last["cumulative_actual"]) == conn.execute(
            "select sum(value_cny) from marts.fct_export_declaration_lines").fetchone()[0]


def test_rerunning_the_chain_leaves_the_warehouse_identical(chain, wh, snapshot_tables):
    cfg, _out, _ = chain
    with warehouse.connect(warehouse=wh) as conn:
        before = snapshot_tables(conn)
    airflow_local.run_chain(cfg.start, cfg.end, progress=lambda m: None)
    with warehouse.connect(warehouse=wh) as conn:
        after = snapshot_tables(conn)
        skipped = conn.execute("select count(*) from audit.load_batch where status = 'skipped'").fetchone()[0]
    assert after == before
    assert skipped > 0


def test_a_blocking_check_failure_stops_publishing(chain, wh):
    cfg, _out, _ = chain
    dags = airflow_local.load_dags()
    run_after = datetime(cfg.end.year, cfg.end.month, cfg.end.day, tzinfo=timezone.utc) + timedelta(days=2)
    with warehouse.connect(warehouse=wh) as conn:
        conn.execute("update marts.fct_export_declaration_lines set value_cny = -1 where gnum = 1 "
                     "and inventory_guid = (select min(inventory_guid) from marts.fct_export_declaration_lines)")
        conn.commit()
    with pytest.raises(airflow_local.DagRunFailed, match="parkdw_validate"):
        airflow_local.run_dag(dags, "parkdw_validate", run_after)
    with pytest.raises(airflow_local.DagRunFailed, match="parkdw_publish"):
        airflow_local.run_dag(dags, "parkdw_publish", run_after + timedelta(hours=1))
    with warehouse.connect(warehouse=wh) as conn:
        failed = conn.execute("""select r.suite, x.column_name, x.unexpected_count from audit.validation_run r
                                 join audit.validation_result x using (validation_run_id)
                                 where not x.success and x.severity = 'critical'""").fetchall()
    assert ("marts.fct_export_declaration_lines", "value_cny", 1) in failed
    log = sorted((get_settings().airflow_home / "logs" / "local_runs").glob("parkdw_publish_*.log"))[-1].read_text()
    assert "not publishing: the latest marts validation did not pass" in log
