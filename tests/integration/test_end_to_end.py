"""The whole DAG chain through Airflow on a tiny period: the marts equal what the input implies."""

import csv
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from parkdw import airflow_local, warehouse
from parkdw.pipeline import progress_rows, reconcile_with_sandbox
from parkdw.quality.project import SUITES
from parkdw.sandbox.generate import expected_progress, load_defects
from parkdw.settings import get_settings
from parkdw.warehouse import fingerprint_differences

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chain(landing, wh):
    cfg, out = landing
    from parkdw import settings as settings_mod
    from parkdw import transform

    # The DAGs read the landing folder from settings: point it at the session's simulated files
    # for this module's tests, and restore the environment after them.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PARKDW_LANDING_DIR", str(out))
        settings_mod.reset_settings()
        with warehouse.connect(warehouse=wh) as conn:
            conn.autocommit = True
            for schema in ("raw", "staging", "marts", "audit"):
                conn.execute(f"drop schema if exists {schema} cascade")
        transform.ensure_manifest()
        airflow_local.migrate_and_sync()
        timings = airflow_local.run_chain(cfg.start, cfg.end, progress=lambda m: None)
        yield cfg, out, timings
    settings_mod.reset_settings()


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
        lines_built, value_built = conn.execute(
            "select count(*), sum(value_cny) from marts.fct_export_declaration_lines").fetchone()
        assert lines_built == expected["released_lines"] and value_built == expected["export_volume_cny"]
        # What the demo and bench_pipeline print: the same figures, each agreeing.
        assert [(r["expected"], r["actual"], r["agrees"]) for r in reconcile_with_sandbox(conn, cfg, out)] == [
            (expected["released_lines"], lines_built, True),
            (expected["export_volume_cny"], value_built, True),
            (expected["export_volume_cny"], rows["export_volume_cny"]["cumulative_actual"], True),
            (expected["enterprises_introduced"], rows["enterprises_introduced"]["cumulative_actual"], True),
            (expected["startups_incubated"], rows["startups_incubated"]["cumulative_actual"], True)]
        # Every fact row traces to a loaded raw batch and its source file.
        orphans = conn.execute("""select count(*) from marts.fct_export_declaration_lines f
                                  left join audit.load_batch b on b.batch_id = f._batch_id and b.status = 'loaded'
                                  where b.batch_id is null or b.source <> f._source""").fetchone()[0]
        assert orphans == 0
        runs = conn.execute("select count(*), bool_and(blocking_success) from audit.validation_run").fetchone()
        assert runs[0] >= len(SUITES) and runs[1] is True


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


EXPORT_VOLUME_SUMS = {
    "mart_export_volume_daily": "select sum(export_volume_cny) from marts.mart_export_volume_daily",
    "mart_export_volume_monthly": "select sum(export_volume_cny) from marts.mart_export_volume_monthly",
    "mart_enterprise_scorecard": "select sum(exports_to_date_cny) from marts.mart_enterprise_scorecard",
    "mart_corridor_performance": "select sum(export_volume_cny) from marts.mart_corridor_performance "
                                 "where period_grain = 'to_date'",
    "mart_target_progress": "select cumulative_actual from marts.mart_target_progress where metric = "
                            "'export_volume_cny' and period_grain = 'year' order by period_start desc limit 1",
}


def test_progress_and_drilldowns_agree_with_the_facts(chain, wh):
    cfg, out, _ = chain
    expected = expected_progress(cfg, out)["export_volume_cny"]
    with warehouse.connect(warehouse=wh) as conn:
        facts = conn.execute("""select sum(value_cny) from marts.fct_export_declaration_lines
                                where enterprise_key is not null
                                  and trade_mode_key in ('9610', '9710', '9810', '1210')""").fetchone()[0]
        totals = {name: conn.execute(q).fetchone()[0] for name, q in EXPORT_VOLUME_SUMS.items()}
        assert totals == {name: facts for name in EXPORT_VOLUME_SUMS} and facts == expected
        grains = dict(conn.execute("select period_grain, count(distinct metric) from marts.mart_target_progress "
                                   "group by 1").fetchall())
        assert grains == {"month": 3, "quarter": 3, "year": 3}
        # Every registered enterprise is on the scorecard once; exporters among them have a first export.
        firms, exporters = conn.execute("select count(*), count(first_export_date) from marts.mart_enterprise_scorecard").fetchone()
        assert firms == conn.execute("select count(distinct credit_code) from marts.dim_enterprise").fetchone()[0]
        assert 0 < exporters <= firms
        p50, p90 = conn.execute("""select min(declared_to_released_hours_p50), min(declared_to_released_hours_p90)
                                   from marts.mart_corridor_performance""").fetchone()
        assert 0 < p50 <= p90


def test_exports_carry_csv_and_parquet_that_match_the_marts(chain, wh):
    import hashlib

    import pyarrow.parquet as pq

    exports = get_settings().output_dir / "exports"
    manifest = json.loads((exports / "manifest.json").read_text())
    assert {"mart_target_progress", "mart_export_volume_daily", "mart_export_volume_monthly",
            "mart_enterprise_scorecard", "mart_corridor_performance"} <= set(manifest["tables"])
    assert manifest["data_as_of_date"] == chain[0].end.isoformat()
    for table, meta in manifest["tables"].items():
        for file, digest in ((meta["file"], meta["sha256"]), (meta["parquet"]["file"], meta["parquet"]["sha256"])):
            assert hashlib.sha256((exports / file).read_bytes()).hexdigest() == digest, file
        parquet = pq.read_table(exports / meta["parquet"]["file"])
        assert parquet.num_rows == meta["rows"] and parquet.column_names == meta["columns"]
    monthly = pq.read_table(exports / "mart_export_volume_monthly.parquet").to_pydict()
    with warehouse.connect(warehouse=wh) as conn:
        total = conn.execute("select sum(export_volume_cny) from marts.mart_export_volume_daily").fetchone()[0]
        assert sum(monthly["export_volume_cny"]) == total  # exact decimals, to the fen


def test_publish_opened_every_mart_to_the_bi_role_only(chain, wh):
    from parkdw.settings import BI_ROLE

    with warehouse.connect(warehouse=wh) as conn:
        rows = conn.execute("""select table_schema, bool_and(has_table_privilege(%s, format('%%I.%%I', table_schema,
                                      table_name), 'select'))
                               from information_schema.tables where table_schema in ('raw', 'staging', 'audit', 'marts')
                                 and table_type = 'BASE TABLE' group by 1""", (BI_ROLE,)).fetchall()
    assert dict(rows) == {"marts": True, "raw": False, "staging": False, "audit": False}


def test_report_shows_the_marts_figures_in_a_browser(chain, wh):
    from lxml import html as lxml_html

    from parkdw import browser

    report = get_settings().output_dir / "reports" / "progress.html"
    assert "<script src=" not in report.read_text()  # self-contained: works offline
    dom = lxml_html.fromstring(browser.rendered_dom(report, budget_ms=10000))
    assert dom.body.get("data-charts-recorded") == "yes"  # the page's scripts ran
    with warehouse.connect(warehouse=wh) as conn:
        progress = {r["metric"]: r for r in progress_rows(conn)}
        total = conn.execute("select sum(export_volume_cny) from marts.mart_export_volume_daily").fetchone()[0]
        top = conn.execute("""select country_key, sum(export_volume_cny) from marts.mart_export_volume_monthly
                              group by 1 order by 2 desc, 1 limit 3""").fetchall()
        dq_failed = conn.execute("select count(*) from audit.validation_run where not blocking_success").fetchone()[0]
    kpis = {k.get("data-metric"): k for k in dom.xpath("//*[contains(@class, 'kpi')]")}
    assert set(kpis) == set(progress)
    for metric, row in progress.items():
        kpi = kpis[metric]
        assert Decimal(kpi.get("data-cumulative-actual")) == row["cumulative_actual"]
        assert Decimal(kpi.get("data-target-value")) == row["target_value"]
        assert kpi.get("data-status") == row["status"]
        assert kpi.xpath(".//*[@class='status']")[0].text_content() == row["status"]
        unit_cny = metric.endswith("_cny")
        shown = f"{row['cumulative_actual']:,.2f}" if unit_cny else f"{row['cumulative_actual']:,.0f}"
        assert kpi.xpath(".//*[@class='actual']")[0].text_content() == shown
        chart = dom.get_element_by_id(f"chart-{metric}")
        assert chart.get("data-rendered") == "yes"
        plotted = json.loads(chart.get("data-trace-last"))["actual (cumulative)"]
        assert abs(Decimal(str(plotted)) - row["cumulative_actual"]) < Decimal("0.01")
    corridor_chart = dom.get_element_by_id("chart-corridor-monthly")
    assert abs(Decimal(str(sum(json.loads(corridor_chart.get("data-trace-sums")).values()))) - total) < Decimal("0.01")
    assert Decimal(dom.get_element_by_id("export-volume-total").get("data-export-volume-cny")) == total
    shown_top = [(r.get("data-country"), Decimal(r.get("data-export-volume-cny")))
                 for r in dom.xpath("//table[@id='top-destinations']/tbody/tr")][:3]
    assert shown_top == top
    assert dom.get_element_by_id("as-of").get("data-as-of-date") == chain[0].end.isoformat()
    assert dom.get_element_by_id("dq").get("data-dq-status") == ("passed" if dq_failed == 0 else "failed")
    shot = browser.screenshot(report, report.with_suffix(".png"), width=1400, height=1700, budget_ms=10000)
    assert shot.stat().st_size > 50_000  # a drawn page, not a blank one


def test_validation_recorded_every_suite_and_the_clean_run_passed_its_blocking_checks(chain, wh):
    cfg = chain[0]
    with warehouse.connect(warehouse=wh) as conn:
        runs = conn.execute("""select layer, suite, bool_and(blocking_success), sum(evaluated),
                                      sum(passed + failed_blocking + failed_warning), count(distinct run_key)
                               from audit.validation_run group by 1, 2""").fetchall()
        raw_days = {r[0] for r in conn.execute("""select (data_interval_start at time zone 'UTC')::date
                                                   from audit.validation_run where layer = 'raw'""").fetchall()}
        unnamed = conn.execute("""select count(*) from audit.validation_result
                                  where check_name is null or severity not in ('critical', 'warning')""").fetchone()[0]
        passed, detail = __import__("parkdw.quality.validate", fromlist=["x"]).latest_validation_passed(conn)
    assert {(layer, suite) for layer, suite, *_ in runs} == {(s["layer"], s["name"]) for s in SUITES}
    for layer, suite, blocking_ok, evaluated, counted, run_keys in runs:
        assert blocking_ok, suite  # the sandbox's defects are quarantined or only warn
        assert evaluated == counted > 0 and run_keys == 1, suite
    assert {cfg.start, cfg.end} <= raw_days  # the raw batches of each ingested day
    assert unnamed == 0
    assert passed and "marts" in detail


def test_wrong_timezone_defect_is_flagged_as_a_warning_with_the_manifests_count(chain, wh):
    cfg, out, _ = chain
    injected = {d["guid"] for d in load_defects(out) if d["defect"] == "wrong_timezone"}
    variants = {d["guid"] for d in load_defects(out) if d["defect"] == "currency_variant"}
    with warehouse.connect(warehouse=wh) as conn:
        loaded = {r[0] for r in conn.execute("select guid from raw.ceb_inventory_head").fetchall()}
        flagged = conn.execute("""select x.check_name, r.blocking_success, x.severity, x.success,
                                         x.unexpected_count, x.unexpected_sample
                                  from audit.validation_run r join audit.validation_result x using (validation_run_id)
                                  where x.check_name in ('app_time_before_order', 'currency_in_code_table')""").fetchall()
    by_check = {name: [f for f in flagged if f[0] == name] for name in ('app_time_before_order', 'currency_in_code_table')}
    timezone_rows = by_check["app_time_before_order"]
    assert {(severity, blocking_ok) for _, blocking_ok, severity, *_ in timezone_rows} == {("warning", True)}
    count = sum(r[4] or 0 for r in timezone_rows)
    guids = {row["guid"] for r in timezone_rows for row in r[5]}
    assert count == len(injected & loaded) == len(guids) > 0 and guids == injected & loaded
    for row in (row for r in timezone_rows for row in r[5]):  # 8 hours early against its own order
        assert datetime.strptime(row["order_app_time"], "%Y%m%d%H%M%S") - datetime.strptime(
            row["app_time"], "%Y%m%d%H%M%S") == timedelta(hours=7, minutes=40)
    currency_guids = {row["head_guid"] for r in by_check["currency_in_code_table"] for row in r[5]}
    assert currency_guids == variants & loaded and all(r[1] for r in by_check["currency_in_code_table"])


def test_data_docs_show_the_latest_validation_runs(chain, wh, tmp_path):
    from urllib.parse import quote

    from parkdw.quality.validate import build_data_docs

    index = build_data_docs(tmp_path / "data_docs")
    with warehouse.connect(warehouse=wh) as conn:
        latest = [r[0] for r in conn.execute("""select gx_result_id from audit.validation_run r
                                                join (select distinct on (layer) layer, run_key from audit.validation_run
                                                      order by layer, run_at desc) l using (layer, run_key)""").fetchall()]
    html = index.read_text()
    assert latest and index.name == "index.html"
    for result_id in latest:
        page = index.parent / "validations" / f"{result_id}.html"
        # Links are URL-encoded (Airflow run ids carry ':' and '+').
        assert quote(f"validations/{result_id}.html") in html and page.exists(), result_id
    fact_page = next(index.parent.glob("validations/marts/fct_export_declaration_lines/*/*/*.html")).read_text()
    assert "lines and CNY per export date equal staging" in fact_page  # the check's description, as rendered


def test_cosmos_tasks_recorded_their_dbt_results(chain, wh):
    manifest = json.loads(get_settings().dbt_manifest.read_text())
    models = {k for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    seeds = {k for k, n in manifest["nodes"].items() if n["resource_type"] == "seed"}
    with warehouse.connect(warehouse=wh) as conn:
        recorded = dict(conn.execute("""
            select n.resource_type, array_agg(distinct n.unique_id) from audit.dbt_node_result n
            join audit.dbt_invocation i using (invocation_id)
            where i.invoked_by like 'airflow:parkdw_transform.%%' and n.status in ('success', 'pass')
            group by 1""").fetchall())
        tasks = {r[0] for r in conn.execute("select invoked_by from audit.dbt_invocation "
                                            "where invoked_by like 'airflow:parkdw_transform.%%'").fetchall()}
        failed, tests = conn.execute("""
            select count(*) filter (where not success), array_agg(distinct tests) from (
                select airflow_run_id, bool_and(success) as success, sum(tests) as tests from audit.dbt_invocation
                where invoked_by like 'airflow:parkdw_transform.%%' group by 1) as per_run""").fetchone()
        severities = dict(conn.execute("""select severity, count(*) from audit.dbt_node_result
                                          where resource_type = 'test' group by 1""").fetchall())
    # Every model and seed of the project was built by a Cosmos task and recorded, tests beside them.
    assert set(recorded["model"]) == models and set(recorded["seed"]) == seeds
    from cosmos.operators.local import DbtLocalBaseOperator

    dag = airflow_local.load_dags()["parkdw_transform"]
    assert tasks == {f"airflow:parkdw_transform.{t.task_id}" for t in dag.tasks if isinstance(t, DbtLocalBaseOperator)}
    assert failed == 0
    # Each transform run recorded every test once (a run's tasks together).
    assert tests == [len(recorded["test"])] and len(recorded["test"]) > 100
    assert set(severities) <= {"error", "warn"}


def test_recording_dbt_results_is_idempotent(chain, wh):
    from parkdw.cli import main
    from parkdw.quality.dbt_results import record_run_results

    def counts(conn):
        return conn.execute("select (select count(*) from audit.dbt_invocation), "
                            "(select count(*) from audit.dbt_node_result)").fetchone()

    with warehouse.connect(warehouse=wh) as conn:
        before = counts(conn)
    assert main(["dbt", "test", "--select", "mart_dq_quarantine", "--quiet"]) == 0  # `parkdw dbt` records itself
    with warehouse.connect(warehouse=wh) as conn:
        after = counts(conn)
        invocation, command, invoked_by, tests, passed = conn.execute(
            "select invocation_id, command, invoked_by, tests, passed from audit.dbt_invocation "
            "order by recorded_at desc limit 1").fetchone()
    assert (command, invoked_by) == ("test", "cli") and tests == passed == after[1] - before[1] >= 3
    assert after[0] == before[0] + 1
    again = record_run_results(get_settings().dbt_target_dir, "cli", wh=wh)
    assert again.invocation_id == invocation and again.inserted is False
    with warehouse.connect(warehouse=wh) as conn:
        assert counts(conn) == after


def test_dq_mart_matches_the_audit_tables(chain, wh):
    from parkdw.settings import BI_ROLE

    with warehouse.connect(warehouse=wh) as conn:
        mart = conn.execute("""select check_system, period_key, sum(checks), sum(passed), sum(failed), sum(warned)
                               from marts.mart_dq_check_summary where period_grain = 'run'
                               group by 1, 2 order by 1, 2""").fetchall()
        audit = conn.execute("""
            select 'dbt', invocation_id, count(*), count(*) filter (where status = 'pass'),
                   count(*) filter (where status in ('fail', 'error')), count(*) filter (where status = 'warn')
            from audit.dbt_node_result join audit.dbt_invocation using (invocation_id)
            where resource_type = 'test' and command in ('build', 'test') group by 2
            union all
            select 'gx', run_key, sum(evaluated), sum(passed), sum(failed_blocking), sum(failed_warning)
            from audit.validation_run group by 2 order by 1, 2""").fetchall()
        quarantine = conn.execute("select feed, rule, sum(records) from marts.mart_dq_quarantine group by 1, 2 "
                                  "order by 1, 2").fetchall()
        quarantined = conn.execute("select feed, rule, count(*) from audit.quarantine group by 1, 2 "
                                   "order by 1, 2").fetchall()
        days = conn.execute("select sum(checks) from marts.mart_dq_check_summary where period_grain = 'day'").fetchone()
        rows = conn.execute("select count(*) from marts.mart_dq_check_summary").fetchone()[0]
        # BI reads the DQ mart like any other mart (and still not audit.*).
        conn.execute(f"set role {BI_ROLE}")
        bi_rows = conn.execute("select count(*) from marts.mart_dq_check_summary").fetchone()[0]
        conn.rollback()
    assert mart == [(s, k, c, p, f, w) for s, k, c, p, f, w in audit] and len({r[0] for r in mart}) == 2
    assert days[0] == sum(r[2] for r in mart)
    assert quarantine == quarantined and sum(n for *_, n in quarantine) > 0
    assert bi_rows == rows > len(mart)


def test_defect_coverage_lists_every_manifest_class(chain, wh):
    from collections import Counter

    from parkdw.quality.coverage import defect_coverage
    from parkdw.sandbox.generate import load_defects

    cfg, out, _ = chain
    manifest = load_defects(out)
    injected = Counter(d["defect"] for d in manifest)
    after_period = Counter(d["defect"] for d in manifest if d.get("delivery_day", "") > cfg.end.isoformat())
    with warehouse.connect(warehouse=wh) as conn:
        coverage = {c.defect: c for c in defect_coverage(conn, out)}
    assert set(coverage) == set(injected) and len(coverage) >= 10
    for name, c in coverage.items():
        assert c.injected == injected[name], name
        if "delivery_day" in next(d for d in manifest if d["defect"] == name):
            assert c.out_of_scope == after_period[name], name  # only deliveries after the last day loaded
        if c.layer != "not caught":
            assert c.caught == c.delivered > 0, (name, c.missed_examples)
    assert coverage["bad_hs_code"].layer == "ingest: quarantine" and coverage["resend"].layer == "staging: dedupe"
    assert coverage["wrong_timezone"].layer == "GX check (warning)"  # named in the check's unexpected values


def test_audit_report_renders_its_figures_in_a_browser(chain, wh):
    import hashlib

    from lxml import html as lxml_html

    from parkdw import browser

    cfg, out, _ = chain
    report = get_settings().audit_report_dir

    def dom(name):
        page = lxml_html.fromstring(browser.rendered_dom(report / name, budget_ms=8000))
        assert page.body.get("data-charts-recorded") == "yes", name
        return page

    with warehouse.connect(warehouse=wh) as conn:
        fact_cny, fact_lines = conn.execute("select sum(value_cny), count(*) from marts.fct_export_declaration_lines").fetchone()
        mart_cny = conn.execute("select sum(export_volume_cny) from marts.mart_export_volume_daily").fetchone()[0]
        month, month_cny = conn.execute("""select to_char(period_start, 'YYYY-MM'), period_actual from marts.mart_target_progress
                                           where metric = 'export_volume_cny' and period_grain = 'month'
                                           order by period_start desc limit 1""").fetchone()
        quarantined = conn.execute("select count(*) from audit.quarantine").fetchone()[0]
    index = dom("index.html")
    assert index.get_element_by_id("status").get("data-validation") == "passed"
    assert Decimal(index.get_element_by_id("kpi-export-volume").get("data-cny")) == mart_cny
    recon = dom("reconciliation.html")
    steps = {r.get("data-relation"): r for r in recon.xpath("//table[@id='reconciliation']/tbody/tr")}
    fact = steps["marts.fct_export_declaration_lines"]
    assert Decimal(fact.get("data-cny")) == fact_cny and int(fact.get("data-lines")) == fact_lines
    assert f"{fact_cny:,.2f}" in fact.text_content()
    assert recon.get_element_by_id("reconciles").get("data-reconciles") == "yes"
    assert recon.get_element_by_id("chart-reconciliation").get("data-rendered") == "yes"
    assert int(dom("quarantine.html").get_element_by_id("quarantine-total").get("data-records")) == quarantined
    # From a progress figure (the month's export volume) down to a source file and its sha256.
    drill = dom("drilldown.html")
    row = drill.xpath(f"//table[@id='months']//tr[@data-month='{month}']")[0]
    assert Decimal(row.get("data-export-volume-cny")) == month_cny
    month_page = dom(row.xpath(".//a")[0].get("href"))
    lists = month_page.xpath("//tr[@class='list']")
    assert sum(Decimal(r.get("data-value-cny")) for r in lists) == month_cny
    link = lists[0].xpath("./td/a")[0].get("href")
    assert link.startswith("batches.html#batch-")
    batch = dom("batches.html").get_element_by_id(link.split("#")[1])
    source = Path(batch.get("data-source"))
    assert source.is_file() and out in source.parents and source.name.startswith("CEB603_")
    assert hashlib.sha256(source.read_bytes()).hexdigest() == batch.get("data-sha256")
    assert source.name in batch.text_content()
    coverage = {r.get("data-defect"): r for r in dom("coverage.html").xpath("//table[@id='coverage']/tbody/tr")}
    assert coverage["bad_hs_code"].get("data-status") == "caught"
    assert (report / "dbt-docs" / "index.html").stat().st_size > 100_000  # the static docs site, data inlined
    assert (report / "gx" / "index.html").exists()


def run_chain_without_scheduler(start_day, end_day) -> None:
    """Every DAG's task code in the chain's order, called directly (what each task runs)."""
    from parkdw import pipeline
    from parkdw.transform import run_dbt

    with airflow_local.sandbox_tracking_api(get_settings().landing_dir):
        day = start_day - timedelta(days=airflow_local.REFERENCE_LOOKBACK_DAYS)
        while day <= end_day:
            start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            for partner in ("reference", "customs", "payments", "logistics") if day >= start_day else ("reference",):
                pipeline.ingest(partner, start, start + timedelta(days=1))
            day += timedelta(days=1)
    run_dbt(["seed", "--quiet"])  # the transform DAG: its seed task, then every model with its tests
    run_dbt(["build", "--exclude", "resource_type:seed", "--quiet"])
    for layer in ("raw", "staging", "marts"):  # the validate DAG's tasks, then its gate
        pipeline.validate(layer=layer, run_key="rerun-without-scheduler")
    pipeline.validation_gate()
    pipeline.refresh_grants()
    pipeline.publish()
    pipeline.render_report()


def batch_counts(conn) -> dict:
    return dict(zip(("loaded", "loaded files", "skipped"), conn.execute(
        """select count(*) filter (where status = 'loaded'),
                  count(*) filter (where status = 'loaded' and feed <> 'tracking'),
                  count(*) filter (where status = 'skipped') from audit.load_batch""").fetchone()))


def published_checksums() -> dict:
    manifest = json.loads((get_settings().output_dir / "exports" / "manifest.json").read_text())
    return {t: (m["rows"], m["sha256"], m["parquet"]["sha256"]) for t, m in manifest["tables"].items()}


@pytest.fixture(scope="module")
def rerun(chain, wh, snapshot_tables):
    """Run 1 is the chain fixture's; run 2 goes through Airflow again, run 3 calls the same task
    code directly (cheaper than a third dag.test chain). Tables, load batches and published
    exports before and after each (the DQ history grows meanwhile)."""
    cfg, _out, _ = chain
    with warehouse.connect(warehouse=wh) as conn:
        before = snapshot_tables(conn)
        batches_before = batch_counts(conn)
    exports_before = published_checksums()
    airflow_local.run_chain(cfg.start, cfg.end, progress=lambda m: None)
    with warehouse.connect(warehouse=wh) as conn:
        second = snapshot_tables(conn)
    exports_second = published_checksums()
    run_chain_without_scheduler(cfg.start, cfg.end)
    with warehouse.connect(warehouse=wh) as conn:
        third = snapshot_tables(conn)
        batches = batch_counts(conn)
    return {"before": before, "second": second, "third": third, "batches_before": batches_before,
            "batches": batches, "exports": (exports_before, exports_second, published_checksums())}


def test_running_every_dag_three_times_leaves_the_warehouse_identical(rerun):
    """Raw, staging and marts keep their rows and content (load time aside), no file loads twice,
    and the published exports are the same bytes."""
    before, second, third = rerun["before"], rerun["second"], rerun["third"]
    assert fingerprint_differences(before, second) == {} and fingerprint_differences(before, third) == {}
    assert set(before) >= {"raw.ceb_inventory_head", "staging.int_inventory_release", "marts.fct_export_orders"}
    # Runs 2 and 3 skipped every file run 1 saw (loaded, or skipped as a copy); the API gave nothing new.
    batches_before = rerun["batches_before"]
    files_seen = batches_before["loaded files"] + batches_before["skipped"]
    assert rerun["batches"] == {**batches_before, "skipped": batches_before["skipped"] + 2 * files_seen}
    exports_before, exports_second, exports_third = rerun["exports"]
    assert exports_third == exports_second == exports_before


def test_dq_history_accumulates_over_two_runs(rerun, wh):
    with warehouse.connect(warehouse=wh) as conn:
        validations = conn.execute("select count(distinct run_key) from audit.validation_run").fetchone()[0]
        transforms = conn.execute("select count(distinct airflow_run_id) from audit.dbt_invocation "
                                  "where invoked_by like 'airflow:parkdw_transform.%%'").fetchone()[0]
        gx_runs = conn.execute("select count(*) from (select distinct period_key from marts.mart_dq_check_summary "
                               "where period_grain = 'run' and check_system = 'gx') r").fetchone()[0]
    assert validations == gx_runs >= 2 and transforms == 2
    from lxml import html as lxml_html

    page = lxml_html.fromstring((get_settings().audit_report_dir / "dq.html").read_text())
    shown = {r.get("data-run-id") for r in page.xpath("//table[@id='dq-runs']/tbody/tr")}
    assert len(shown) >= validations + 1  # both GX runs and the dbt invocations


def test_validation_history_accumulates_over_consecutive_runs(rerun, wh):
    with warehouse.connect(warehouse=wh) as conn:
        runs = conn.execute("""select layer, count(distinct run_key), count(*) from audit.validation_run
                               group by 1""").fetchall()
        results = dict(conn.execute("""select r.run_key, count(*) from audit.validation_run r
                                       join audit.validation_result using (validation_run_id)
                                       where r.layer = 'marts' group by 1""").fetchall())
    by_layer = {layer: (keys, rows) for layer, keys, rows in runs}
    suites = {layer: sum(1 for s in SUITES if s["layer"] == layer) for layer in ("staging", "marts")}
    for layer, count in suites.items():  # one row per suite per run (three chains), earlier runs' rows kept
        assert by_layer[layer] == (3, 3 * count), layer
    assert len(results) == 3 and len(set(results.values())) == 1


def test_a_blocking_check_failure_stops_publishing(chain, wh):
    from parkdw import pipeline
    from parkdw.quality.validate import BlockingValidationError

    cfg, _out, _ = chain
    dags = airflow_local.load_dags()
    run_after = datetime(cfg.end.year, cfg.end.month, cfg.end.day, tzinfo=timezone.utc) + timedelta(days=2)
    with warehouse.connect(warehouse=wh) as conn:
        # One fen more on one fact line, and 250 other lines whose country is in no dimension row:
        # more than the 200 rows GX fetches of a check's query, so the count is the query's total.
        first, *others = conn.execute("""select declaration_line_key from marts.fct_export_declaration_lines
                                         order by declaration_line_key limit 251""").fetchall()
        assert len(others) == 250
        conn.execute("update marts.fct_export_declaration_lines set value_cny = value_cny + 0.01 "
                     "where declaration_line_key = %s", first)
        conn.execute("update marts.fct_export_declaration_lines set country_key = 'ZZZ' "
                     "where declaration_line_key = any(%s)", ([key for (key,) in others],))
        conn.commit()
    with pytest.raises(airflow_local.DagRunFailed, match="parkdw_validate.*validate_marts"):
        airflow_local.run_dag(dags, "parkdw_validate", run_after)
    with pytest.raises(airflow_local.DagRunFailed, match="parkdw_publish"):
        airflow_local.run_dag(dags, "parkdw_publish", run_after + timedelta(hours=1))
    with warehouse.connect(warehouse=wh) as conn:
        failed = conn.execute("""select r.suite, x.check_name, x.unexpected_count, x.unexpected_sample
                                 from audit.validation_run r join audit.validation_result x using (validation_run_id)
                                 where not x.success and x.severity = 'critical'""").fetchall()
    failed_checks = {(suite, check, count) for suite, check, count, _ in failed}
    assert {("marts.fct_export_declaration_lines", "value_cny_reconciles_with_staging", 1),
            ("marts.fct_export_declaration_lines", "country_key_resolves", 250)} <= failed_checks
    unresolved = next(sample for _, check, _, sample in failed if check == "country_key_resolves")
    assert len(unresolved) == 20 and unresolved[0] == {"country_key": "ZZZ"}  # the audit's sample, as queried
    reconcile = next(sample[0] for _, check, _, sample in failed if check == "value_cny_reconciles_with_staging")
    assert Decimal(reconcile["marts_cny"]) - Decimal(reconcile["staging_cny"]) == Decimal("0.01")
    logs = get_settings().airflow_home / "logs" / "local_runs"
    validate_log = sorted(logs.glob("parkdw_validate_*.log"))[-1].read_text()
    assert "BlockingValidationError" in validate_log
    for check in ("value_cny_reconciles_with_staging", "country_key_resolves"):
        assert f"marts.fct_export_declaration_lines: {check}" in validate_log
    publish_log = sorted(logs.glob("parkdw_publish_*.log"))[-1].read_text()
    assert "not publishing: the latest validation did not pass" in publish_log
    assert "marts.fct_export_declaration_lines: country_key_resolves" in publish_log
    # The validate DAG rendered the auditors' report anyway, with the failed checks named.
    from lxml import html as lxml_html

    from parkdw import browser

    index = lxml_html.fromstring(browser.rendered_dom(get_settings().audit_report_dir / "index.html"))
    assert index.get_element_by_id("status").get("data-validation") == "failed"
    named = {r.get("data-check") for r in index.xpath("//table[@id='blocking-failures']/tbody/tr")}
    assert {"marts.fct_export_declaration_lines: value_cny_reconciles_with_staging",
            "marts.fct_export_declaration_lines: country_key_resolves"} <= named

    # A raw batch with a credit code whose check character is wrong fails the raw layer, by day.
    with warehouse.connect(warehouse=wh) as conn:
        code = conn.execute("""update raw.registry_enterprise set credit_code = left(credit_code, 17) ||
                                   case right(credit_code, 1) when '0' then '1' else '0' end
                               where ctid = (select t.ctid from raw.registry_enterprise t join audit.load_batch b
                                             on b.batch_id = t._batch_id where b.data_interval_start::date = %s
                                             limit 1) returning credit_code""", (cfg.end,)).fetchone()[0]
        conn.commit()
    day = datetime(cfg.end.year, cfg.end.month, cfg.end.day, tzinfo=timezone.utc)
    with pytest.raises(BlockingValidationError) as raised:
        pipeline.validate(day, day + timedelta(days=1), layer="raw")
    assert f"raw.registry_enterprise [{cfg.end.isoformat()}]: credit_code_check_character" in str(raised.value)
    assert code in str(raised.value)


def test_each_layer_was_built_by_its_own_role(chain, wh):
    """Ingestion (the loader) made the raw tables, dbt through Cosmos (the transform role) the
    staging and marts ones: the DAGs logged in as the pipeline's roles, not as a superuser."""
    from parkdw.settings import LOADER_ROLE, TRANSFORM_ROLE

    with warehouse.connect(warehouse=wh) as conn:
        owners = dict(conn.execute("""select schemaname, string_agg(distinct tableowner, ',') from pg_tables
                                      where schemaname in ('raw', 'audit', 'staging', 'marts') group by 1""").fetchall())
    assert owners == {"raw": LOADER_ROLE, "audit": LOADER_ROLE, "staging": TRANSFORM_ROLE, "marts": TRANSFORM_ROLE}


def test_buyer_personal_data_never_reaches_the_marts_or_exports_in_clear(chain, wh):
    """The buyer's telephone on B2C waybills (CEB505 ebcTelephone) is the personal data the export
    feeds carry (CEB303 export orders and the settlement files name no buyer). Every value the
    sandbox delivered is absent from every column of every relation the BI role can read and
    from every exported file."""
    import re

    from parkdw.settings import BI_ROLE

    _cfg, out, _ = chain
    phones = set()
    for path in sorted(out.glob("customs/*/CEB505_*.xml")):
        phones |= set(re.findall(r"<ceb:ebcTelephone>([^<]+)</ceb:ebcTelephone>", path.read_text(errors="replace")))
    assert len(phones) > 20
    # As delivered, and written without spaces (E.164): neither may appear anywhere.
    needles = sorted(phones | {re.sub(r"\s", "", p) for p in phones})
    with warehouse.connect(warehouse=wh) as conn:
        in_raw = conn.execute("select count(*) from raw.ceb_logistics where ebc_telephone = any(%s)",
                              (list(phones),)).fetchone()[0]
        assert in_raw > 0  # they did arrive (raw is private to the pipeline)
        readable = conn.execute("""select table_schema, table_name from information_schema.tables
                                   where table_schema not in ('pg_catalog', 'information_schema')
                                     and has_table_privilege(%s, format('%%I.%%I', table_schema, table_name), 'select')
                                   order by 1, 2""", (BI_ROLE,)).fetchall()
        assert {s for s, _ in readable} == {"marts"} and len(readable) >= 15
        leaks = {}
        for schema, table in readable:
            # The whole row as text (every column, whatever its type), pre-filtered on the shape.
            rows = conn.execute(f'select t::text from "{schema}"."{table}" t where t::text ~ %s',
                                (r"\+65 ?9[0-9]{7}",)).fetchall()
            found = [p for (row,) in rows for p in needles if p in row]
            if found:
                leaks[f"{schema}.{table}"] = len(found)
        assert leaks == {}
        conn.commit()
    exports = get_settings().output_dir / "exports"
    files = sorted(exports.glob("*.csv"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not [p for p in needles if p in text], path.name
