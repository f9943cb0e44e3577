"""Backfill out of order, and a dbt run SIGKILLed mid-model.

A simulated month (November 2024 with its 11.11 peak, scale 0.001, the sandbox's default defects:
late files, resends, corrections, deletions, replies out of order) plus the reference week before them and
the delivery folders after them, loaded through the daily ingest's code (every partner per day
folder) into two warehouses:

- in order, built clean: every day folder ascending, then one transform (`dbt build`);
- out of order, incrementally: the days from 2024-11-16 on first (latest first), the transform,
  then, dated two days later so the incremental lookback sees only them, the earlier days (latest
  first); that transform is SIGKILLed while `fct_export_declaration_lines` is half-way through its
  incremental delete-and-insert, and the next transform completes the backfill.

The marts must come out the same (lineage columns aside: warehouse.LOAD_ORDER_COLUMNS). That
an in-order incremental run equals a full refresh is tests/integration/test_dbt_star_schema.py.
The tracking API is not backfilled here: it is read from a watermark, never by day folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import date, datetime, timedelta

import pytest

from parkdw import warehouse
from parkdw.ingest.loader import ingest_partner
from parkdw.sandbox.generate import SimulationConfig, simulate
from parkdw.transform import dbt_command, run_dbt
from parkdw.warehouse import LOAD_ORDER_COLUMNS, fingerprint_differences, table_fingerprints

CFG = SimulationConfig(date(2024, 11, 1), date(2024, 11, 30), seed=5, scale=0.001)
SPLIT = date(2024, 11, 16)  # first day of the later batch
# What the transform DAG builds: its seeds on a new warehouse, then the models (their tests run in
# the other dbt tests).
DBT_FIRST_BUILD = ["build", "--resource-type", "seed", "--resource-type", "model", "--quiet"]
DBT_BUILD = ["build", "--resource-type", "model", "--quiet"]
KILLED_MODEL = "fct_export_declaration_lines"


def delivery_days(landing) -> list[date]:
    """Every day folder of the file partners (reference week before, late deliveries after)."""
    names = {p.name for p in landing.glob("*/*") if p.is_dir()} | {p.name for p in landing.glob("reference/*/*")}
    days = []
    for name in names:
        try:
            days.append(date.fromisoformat(name))
        except ValueError:
            pass
    return sorted(days)


def backfill(conn, landing, days: list[date]) -> None:
    """The daily ingest DAG runs of each partner for these days, in the order given."""
    for day in days:
        interval = (datetime(day.year, day.month, day.day), datetime(day.year, day.month, day.day) + timedelta(days=1))
        for partner in ("reference", "customs", "payments"):
            ingest_partner(conn, partner, landing, interval)
    conn.commit()


def run_dbt_and_kill_mid_model(conn, lock_conn, wait_for) -> dict:
    """Start the transform's dbt run; SIGKILL it while KILLED_MODEL's incremental delete has
    removed part of the table's rows (inside its transaction) and waits on one row the test holds."""
    lock_conn.execute(f"""select 1 from marts.{KILLED_MODEL}
                          where ctid = (select max(ctid) from marts.{KILLED_MODEL}) for update""")
    proc = subprocess.Popen(**dbt_command(DBT_BUILD), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        # The statement text is cut at track_activity_query_size; dbt's comment naming the model leads it.
        (pid,) = wait_for(conn, """select pid from pg_stat_activity where datname = current_database()
                                   and wait_event_type = 'Lock' and query like %s""",
                          (f'%"node_id": "model.parkdw.{KILLED_MODEL}"%',), f"{KILLED_MODEL}'s delete", proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        lock_conn.rollback()  # the delete goes on, finds its client gone, and rolls back
    wait_for(conn, "select 1 where not exists (select from pg_stat_activity where pid = %s)", (pid,),
             "the killed run's backend to end")
    leftovers = [r[0] for r in conn.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in ('staging', 'marts') and table_name ~ '__dbt_(tmp|backup)$'").fetchall()]
    conn.rollback()
    return {"returncode": proc.returncode, "leftovers": leftovers}


@pytest.fixture(scope="module")
def backfills(tmp_path_factory, wh, age_all_loads, empty_warehouse, wait_for):
    landing = tmp_path_factory.mktemp("backfill_landing")
    simulate(CFG, landing)
    days = delivery_days(landing)
    earlier, later = [d for d in days if d < SPLIT], [d for d in days if d >= SPLIT]
    result = {"days": days}
    with warehouse.connect(warehouse=wh) as conn, warehouse.connect(warehouse=wh) as lock_conn:
        # In order, built clean: every day folder ascending, then one transform.
        empty_warehouse(conn)
        backfill(conn, landing, days)
        run_dbt(DBT_FIRST_BUILD)
        result["in_order"] = table_fingerprints(conn, ("marts",), LOAD_ORDER_COLUMNS)
        result["in_order_registry"] = registry_history(conn)
        result["expected_registry"] = delivered_registry_history(conn)

        # Out of order, incrementally, with a crash: later days first, the transform, two days on
        # the earlier days (also latest first), the transform killed mid-model, then run again.
        empty_warehouse(conn)
        backfill(conn, landing, later[::-1])
        run_dbt(DBT_FIRST_BUILD)
        age_all_loads(conn, 2)
        backfill(conn, landing, earlier[::-1])
        result["before_kill"] = table_fingerprints(conn, ("marts",))
        result["kill"] = run_dbt_and_kill_mid_model(conn, lock_conn, wait_for)
        result["after_kill"] = table_fingerprints(conn, ("marts",))
        run_dbt(DBT_BUILD)  # the next run after the crash (raises unless it succeeds)
        result["after_rerun"] = table_fingerprints(conn, ("marts",))
        result["out_of_order"] = table_fingerprints(conn, ("marts",), LOAD_ORDER_COLUMNS)
        result["out_of_order_registry"] = registry_history(conn)
    return result


def registry_history(conn) -> list[tuple]:
    rows = conn.execute("""select credit_code, status, valid_from, valid_to from marts.dim_enterprise
                           order by 1, 3""").fetchall()
    conn.rollback()
    return rows


def delivered_registry_history(conn) -> list[tuple]:
    """Each enterprise's states as the delivered registry files state them (first day a state held
    to the day the next one did): what a type 2 dimension must hold however the files arrived."""
    rows = conn.execute("""
        with states as (
            select distinct credit_code, status, status_date::date as status_date,
                   entry_date::date as entry_date from raw.registry_enterprise
        )
        select credit_code, status,
               case when row_number() over w = 1 then least(entry_date, status_date) else status_date end,
               lead(status_date) over w
        from states window w as (partition by credit_code order by status_date)
        order by 1, 3""").fetchall()
    conn.rollback()
    return rows


def test_the_backfill_covers_late_deliveries_on_both_sides_of_the_split(backfills):
    days = backfills["days"]
    assert days[0] < CFG.start < SPLIT < CFG.end < days[-1]  # reference week before, late folders after
    assert backfills["in_order"]["marts.fct_export_declaration_lines"][0] > 0


def test_out_of_order_backfill_gives_the_same_marts_as_in_order(backfills):
    """Lineage aside (which copy of a resent document or identical file came first)."""
    differences = fingerprint_differences(backfills["in_order"], backfills["out_of_order"])
    assert differences == {}
    assert {"marts.fct_export_declaration_lines", "marts.dim_enterprise", "marts.mart_target_progress"} <= set(
        backfills["in_order"])


def test_the_enterprise_history_is_the_registry_files_history_whatever_the_order(backfills):
    expected = backfills["expected_registry"]
    assert any(valid_to is not None for *_, valid_to in expected)  # a status changed in the period
    assert backfills["in_order_registry"] == expected
    assert backfills["out_of_order_registry"] == expected


def test_a_dbt_run_killed_mid_model_leaves_nothing_partial_in_the_marts(backfills):
    before, after, final = backfills["before_kill"], backfills["after_kill"], backfills["after_rerun"]
    assert backfills["kill"] == {"returncode": -signal.SIGKILL, "leftovers": []}
    killed = f"marts.{KILLED_MODEL}"
    assert after[killed] == before[killed]  # the half-done delete never showed
    # Every mart is as it was before the run, or as the completed run builds it: never in between.
    assert {t for t in after if after[t] not in (before.get(t), final.get(t))} == set()


def test_the_run_after_the_kill_completes_the_work_and_equals_a_clean_build(backfills):
    killed = f"marts.{KILLED_MODEL}"
    assert backfills["after_rerun"][killed] != backfills["before_kill"][killed]  # the earlier days arrived
    assert backfills["out_of_order"][killed] == backfills["in_order"][killed]
    assert fingerprint_differences(backfills["in_order"], backfills["out_of_order"]) == {}
