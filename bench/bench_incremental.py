"""Benchmark dbt's daily incremental run against a full refresh over the same history.

    .venv/bin/python bench/bench_incremental.py --days 365 --scale 0.02

Simulates `--days` of history with the sandbox, loads it through the one loader, builds the
warehouse with `dbt run --full-refresh` (timed), then simulates and loads the next day and
times the incremental `dbt run`. Prints both and their ratio (issue 5's target: <= 0.10).

The history's raw rows are dated to their delivery day (_loaded_at = the landing folder's day,
02:00 UTC) before the runs: in production the history arrived day by day, and the incremental
models' load-time lookback (the `incremental_lookback` var, 3 hours) would otherwise treat the
whole bulk load, done minutes ago, as new. Tests
(`dbt test`) scan whole tables on every run and are timed separately.
The warehouse is a scratch database on the configured server (WAREHOUSE_URL etc.), dropped at
the end unless --keep-db.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from parkdw import transform, warehouse
from parkdw.ingest.loader import ingest_partner
from parkdw.sandbox.generate import SimulationConfig, simulate
from parkdw.settings import SCHEMA_RAW, get_settings


def load(wh, landing: Path, label: str) -> None:
    started = time.perf_counter()
    with warehouse.connect(warehouse=wh) as conn:
        warehouse.ensure_schemas(conn)
        for partner in ("reference", "customs", "payments"):
            summary = ingest_partner(conn, partner, landing)
            print(f"  load {label} {partner}: {summary.line()}", flush=True)
        conn.autocommit = True
        conn.execute("analyze")
    print(f"  load {label}: {time.perf_counter() - started:.1f}s", flush=True)


def timed_dbt(wh, args: list[str]) -> float:
    started = time.perf_counter()
    transform.run_dbt([*args, "--quiet"], wh=wh)
    return time.perf_counter() - started


def date_loads_by_delivery_day(wh) -> None:
    with warehouse.connect(warehouse=wh) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.columns where table_schema = %s and column_name = '_loaded_at'",
            (SCHEMA_RAW,)).fetchall()]
        for table in tables:
            conn.execute(sql.SQL(
                "update {}.{} set _loaded_at = (substring(_source from '/(\\d{{4}}-\\d{{2}}-\\d{{2}})/')::date "
                "+ time '02:00')::timestamp at time zone 'UTC' where _source ~ '/\\d{{4}}-\\d{{2}}-\\d{{2}}/'").format(
                sql.Identifier(SCHEMA_RAW), sql.Identifier(table)))
        conn.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    server = get_settings().warehouse()
    wh = server.with_dbname("parkdw_bench_incremental")
    with psycopg.connect(server.with_dbname("postgres").conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(wh.dbname)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(wh.dbname)))
    work = Path(tempfile.mkdtemp(prefix="parkdw-bench-incr-"))
    try:
        history_end = args.start + timedelta(days=args.days - 1)
        started = time.perf_counter()
        totals = simulate(SimulationConfig(args.start, history_end, scale=args.scale), work / "history",
                          progress=lambda day, t: print(f"  simulated {day}: {t['orders']} orders", flush=True)
                          if day.day == 1 else None)
        print(f"history: {totals['orders']:,} orders over {totals['days']} days, "
              f"simulated in {time.perf_counter() - started:.0f}s", flush=True)
        load(wh, work / "history", "history")
        date_loads_by_delivery_day(wh)
        transform.run_dbt(["seed", "--quiet"], wh=wh)
        full = timed_dbt(wh, ["run", "--full-refresh"])
        print(f"full refresh (dbt run --full-refresh): {full:.1f}s", flush=True)
        tests_full = timed_dbt(wh, ["test"])
        print(f"dbt test after the full refresh: {tests_full:.1f}s", flush=True)

        next_day = history_end + timedelta(days=1)
        day_totals = simulate(SimulationConfig(next_day, next_day, scale=args.scale), work / "next_day")
        load(wh, work / "next_day", f"next day {next_day}")
        incremental = timed_dbt(wh, ["run"])
        print(f"incremental day ({day_totals['orders']:,} orders; dbt run): {incremental:.1f}s", flush=True)
        with warehouse.connect(warehouse=wh) as conn:
            lines = conn.execute("select count(*) from marts.fct_export_declaration_lines").fetchone()[0]
        print(f"fct_export_declaration_lines rows: {lines:,}")
        print(f"RESULT history_days={totals['days']} history_orders={totals['orders']} scale={args.scale} "
              f"full_refresh_s={full:.1f} incremental_s={incremental:.1f} ratio={incremental / full:.3f} "
              f"dbt_test_s={tests_full:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep_db:
            with psycopg.connect(server.with_dbname("postgres").conninfo, autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(wh.dbname)))


if __name__ == "__main__":
    main()
