"""The customs star schema built by dbt from the sandbox's files (defects included): the facts
reconcile with the generated input, an incremental run after a later day's files equals a full
refresh, a run with no new data changes nothing, and the docs site generates."""

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from parkdw.ingest.loader import ingest_partner
from parkdw.settings import get_settings
from parkdw.transform import run_dbt

DAY = timedelta(days=1)


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def load(conn, landing, start: date, end: date) -> None:
    """What the daily ingest DAGs load for the data interval [start, end)."""
    for partner in ("reference", "customs", "payments"):
        ingest_partner(conn, partner, landing, (midnight(start), midnight(end)))
    conn.commit()


@pytest.fixture(scope="module")
def built(landing, wh, snapshot_tables, age_all_loads, empty_warehouse):
    """Day one loaded and built; days later, day two's files arrive and dbt runs incrementally."""
    from parkdw import warehouse

    cfg, out = landing
    with warehouse.connect(warehouse=wh) as conn:
        empty_warehouse(conn)
        load(conn, out, cfg.start - timedelta(days=7), cfg.start + DAY)
        run_dbt(["build", "--quiet"])
        first = snapshot_tables(conn, ("marts",))
        # Past both lookbacks (3 hours; settlements' lookback_days = 3): day two's adjustments must
        # re-read the day-one payments they revise, and nothing else of day one is recomputed.
        age_all_loads(conn, 4)
        # Day two, and every later delivery folder: late files and next-day releases of day two.
        load(conn, out, cfg.end, cfg.end + timedelta(days=5))
        run_dbt(["build", "--quiet"])
        incremental = snapshot_tables(conn)
        run_dbt(["build", "--quiet"])
        rerun = snapshot_tables(conn)
        yield {"cfg": cfg, "out": out, "first": first, "incremental": incremental, "rerun": rerun, "conn": conn}


def test_facts_reconcile_with_the_generated_input(built):
    conn, cfg, out = built["conn"], built["cfg"], built["out"]
    lines, total = conn.execute("select count(*), sum(value_cny) from marts.fct_export_declaration_lines").fetchone()
    truth = [json.loads((out / "_truth" / f"{d.isoformat()}.json").read_text()) for d in (cfg.start, cfg.end)]
    assert total == sum(Decimal(t["released_value_cny"]) for t in truth) > 0  # to the fen
    assert lines == sum(t["released_lines"] for t in truth)
    assert conn.execute("select sum(export_volume_cny) from marts.mart_export_volume_daily").fetchone()[0] == total
    orders, parcels = conn.execute("select (select count(*) from marts.fct_export_orders), "
                                   "(select count(*) from marts.fct_parcel_shipments)").fetchone()
    assert orders == sum(t["orders"] for t in truth)
    assert parcels == sum(t["released_inventories"] for t in truth)
    # line_count: the lines of the order's winning version, as many as the staging view gives it.
    counted, in_view, without_lines = conn.execute(
        "select (select sum(line_count) from marts.fct_export_orders), "
        "(select count(*) from staging.stg_customs__order_lines l "
        " where exists (select 1 from marts.fct_export_orders f where f.order_guid = l.order_guid)), "
        "(select count(*) from marts.fct_export_orders where line_count = 0)").fetchone()
    assert counted == in_view > orders and without_lines == 0
    # Every document of the match is accounted for: orders, and the orphans the sandbox injected.
    manifest = [json.loads(line) for d in (cfg.start, cfg.end)
                for line in (out / "_manifest" / f"defects_{d.isoformat()}.jsonl").read_text().splitlines()]
    reasons = dict(conn.execute("select mismatch_reason, count(*) from marts.fct_document_match "
                                "group by 1").fetchall())
    assert reasons.get("orphan receipt: no order", 0) == sum(1 for m in manifest if m["defect"] == "orphan_receipt")
    assert conn.execute("select count(*) from marts.fct_document_match where has_order").fetchone()[0] == orders


def test_incremental_run_equals_a_full_refresh(built, snapshot_tables):
    conn = built["conn"]
    assert built["first"] != snapshot_tables(conn, ("marts",))  # day two really changed the marts
    run_dbt(["build", "--full-refresh", "--quiet"])
    full = snapshot_tables(conn)
    changed = {t for t in full if full[t] != built["incremental"].get(t)}
    assert not changed


def test_a_run_without_new_data_changes_nothing(built):
    assert built["rerun"] == built["incremental"]


def test_enterprise_dimension_is_type_2_and_facts_use_the_valid_version(built):
    conn = built["conn"]
    # Every fact row of a park enterprise points at the version valid on its export date.
    outside = conn.execute("""select count(*) from marts.fct_export_declaration_lines f
                              join marts.dim_enterprise e using (enterprise_key)
                              where f.export_date < e.valid_from
                                 or (e.valid_to is not null and f.export_date >= e.valid_to)""").fetchone()[0]
    current = conn.execute("select count(*), count(distinct credit_code) from marts.dim_enterprise "
                           "where is_current").fetchone()
    assert outside == 0 and current[0] == current[1] > 0


def test_contact_data_does_not_pass_staging_in_clear(built):
    conn = built["conn"]
    columns = {(r[0], r[1]) for r in conn.execute(
        "select table_schema, column_name from information_schema.columns "
        "where table_schema in ('staging', 'marts')").fetchall()}
    assert ("staging", "ebc_telephone_sha256") in columns
    assert not {c for s, c in columns if c.endswith("telephone")}


def test_docs_site_generates(built):
    run_dbt(["docs", "generate", "--quiet"])
    catalog = json.loads((get_settings().dbt_target_dir / "catalog.json").read_text())
    assert "model.parkdw.fct_export_declaration_lines" in catalog["nodes"]


def test_a_registry_change_reaches_the_dimension_facts_and_marts_incrementally(built, snapshot_tables):
    """A registry delivery that differs from the one before it (an exporter re-registered as a
    service enterprise and exited, dated back to day two) rebuilds that enterprise's versions, the
    fact rows on the moved dates and the aggregates over them, exactly as a full refresh does."""
    import csv
    import shutil

    conn, cfg, out = built["conn"], built["cfg"], built["out"]
    credit_code, customs_code = conn.execute("""
        select e.credit_code, e.customs_code
        from marts.fct_export_declaration_lines as f join marts.dim_enterprise as e using (enterprise_key)
        where e.is_current and e.status = 'active' and e.enterprise_type = 'export'
          and f.trade_mode_key in ('9610', '9710', '9810', '1210')
        group by 1, 2 having min(f.export_date) < %s and max(f.export_date) >= %s
        order by count(*) desc, 1 limit 1""", (cfg.end, cfg.end)).fetchone()
    conn.commit()
    registry = out / "reference" / "registry"
    latest = max(p for p in registry.iterdir() if p.is_dir())
    day = cfg.end + timedelta(days=6)
    folder = registry / day.isoformat()
    folder.mkdir()
    try:
        with open(latest / "park_enterprises.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        changed = [r for r in rows if r["credit_code"] == credit_code]
        assert len(changed) == 1
        changed[0].update(enterprise_type="service", status="exited", status_date=cfg.end.isoformat())
        with open(folder / "park_enterprises.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        ingest_partner(conn, "reference", out, (midnight(day), midnight(day + DAY)))
        conn.commit()
    finally:
        shutil.rmtree(folder)  # the landing is the session's: other modules load it whole

    run_dbt(["build", "--quiet"])
    incremental = snapshot_tables(conn)
    versions = conn.execute("""select status, enterprise_type, valid_from, valid_to from marts.dim_enterprise
                               where credit_code = %s order by valid_from""", (credit_code,)).fetchall()
    assert versions[-1] == ("exited", "service", cfg.end, None) and versions[-2][3] == cfg.end
    # the day-two rows moved to the new version; the day-one rows stayed on the old one
    moved = conn.execute("""select f.export_date >= %s, e.status, count(*)
                            from marts.fct_export_declaration_lines as f join marts.dim_enterprise as e using (enterprise_key)
                            where f.ebc_code = %s group by 1, 2 order by 1""", (cfg.end, customs_code)).fetchall()
    assert [(later, status) for later, status, _ in moved] == [(False, "active"), (True, "exited")]
    scorecard = conn.execute("select status, enterprise_type from marts.mart_enterprise_scorecard where credit_code = %s",
                             (credit_code,)).fetchone()
    assert scorecard == ("exited", "service")
    conn.commit()

    run_dbt(["build", "--full-refresh", "--quiet"])
    full = snapshot_tables(conn)
    assert {t for t in full if full[t] != incremental.get(t)} == set()


def test_a_fact_line_lost_fails_the_reconciliation_even_when_the_cny_total_agrees(built):
    """The fact's reconciliation with int_declaration_lines_cny (the GX check, per export date)
    compares lines as well as CNY: the view's own not-null tests rely on the fact holding exactly
    its rows."""
    from parkdw.quality.validate import run_validation

    conn = built["conn"]
    # Two lines of one day, enterprise and trade mode: moving one's CNY to the other keeps every
    # sum the other marts checks compare.
    key, other, value, day = conn.execute(
        """select a.declaration_line_key, b.declaration_line_key, a.value_cny, a.export_date
           from marts.fct_export_declaration_lines as a
           join marts.fct_export_declaration_lines as b
             on (b.export_date, b.enterprise_key, b.trade_mode_key) = (a.export_date, a.enterprise_key, a.trade_mode_key)
            and b.declaration_line_key > a.declaration_line_key
           order by a.declaration_line_key, b.declaration_line_key limit 1""").fetchone()
    conn.execute("create temporary table held_lines as select * from marts.fct_export_declaration_lines "
                 "where declaration_line_key in (%s, %s)", (key, other))
    try:
        conn.execute("delete from marts.fct_export_declaration_lines where declaration_line_key = %s", (key,))
        conn.execute("update marts.fct_export_declaration_lines set value_cny = value_cny + %s "
                     "where declaration_line_key = %s", (value, other))
        conn.commit()
        summary = run_validation("marts", run_key="fact-line-lost")
        assert [r.check for r in summary.failed_blocking] == ["value_cny_reconciles_with_staging"]
        [differs] = summary.failed_blocking[0].unexpected_sample
        assert str(differs["export_date"]) == str(day)
        assert Decimal(str(differs["marts_cny"])) == Decimal(str(differs["staging_cny"]))
        assert int(differs["marts_lines"]) == int(differs["staging_lines"]) - 1
    finally:
        # Both lines back as they were, whatever step failed.
        conn.rollback()
        conn.execute("delete from marts.fct_export_declaration_lines where declaration_line_key in (%s, %s)", (key, other))
        conn.execute("insert into marts.fct_export_declaration_lines select * from held_lines")
        conn.commit()
    assert run_validation("marts", run_key="fact-lines-restored").failed_blocking == []
