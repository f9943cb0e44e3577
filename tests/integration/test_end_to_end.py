"""The whole DAG chain through Airflow on a tiny period: the marts equal what the input implies."""

import csv
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from parkdw import airflow_local, warehouse
from parkdw.pipeline import progress_rows
from parkdw.quality.project import SUITES
from parkdw.sandbox.generate import expected_progress, load_defects
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
        assert f"validations/{result_id}.html" in html and page.exists(), result_id
    fact_page = next(index.parent.glob("validations/marts/fct_export_declaration_lines/*/*/*.html")).read_text()
    assert "CNY per export date equals staging" in fact_page  # the check's description, as rendered


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


def test_validation_history_accumulates_over_consecutive_runs(chain, wh):
    with warehouse.connect(warehouse=wh) as conn:
        runs = conn.execute("""select layer, count(distinct run_key), count(*) from audit.validation_run
                               group by 1""").fetchall()
        results = dict(conn.execute("""select r.run_key, count(*) from audit.validation_run r
                                       join audit.validation_result using (validation_run_id)
                                       where r.layer = 'marts' group by 1""").fetchall())
    by_layer = {layer: (keys, rows) for layer, keys, rows in runs}
    suites = {layer: sum(1 for s in SUITES if s["layer"] == layer) for layer in ("staging", "marts")}
    for layer, count in suites.items():  # one row per suite per run, the first run's rows kept
        assert by_layer[layer] == (2, 2 * count), layer
    assert len(results) == 2 and len(set(results.values())) == 1


def test_a_blocking_check_failure_stops_publishing(chain, wh):
    from parkdw import pipeline
    from parkdw.quality.validate import BlockingValidationError

    cfg, _out, _ = chain
    dags = airflow_local.load_dags()
    run_after = datetime(cfg.end.year, cfg.end.month, cfg.end.day, tzinfo=timezone.utc) + timedelta(days=2)
    with warehouse.connect(warehouse=wh) as conn:
        # One fen more on one fact line, and another line whose country is in no dimension row.
        first, second = conn.execute("""select declaration_line_key from marts.fct_export_declaration_lines
                                        order by declaration_line_key limit 2""").fetchall()
        conn.execute("update marts.fct_export_declaration_lines set value_cny = value_cny + 0.01 "
                     "where declaration_line_key = %s", first)
        conn.execute("update marts.fct_export_declaration_lines set country_key = 'ZZZ' "
                     "where declaration_line_key = %s", second)
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
            ("marts.fct_export_declaration_lines", "country_key_resolves", 1)} <= failed_checks
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
