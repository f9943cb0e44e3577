"""Benchmark dbt's daily incremental run against a full refresh over the same history.

    .venv/bin/python bench/bench_incremental.py --days 365 --scale 0.02 --repeat 3

Simulates `--days` of history with the sandbox and loads it through the one loader into a
template database (`--template`, kept: a later call with the same name skips the build). Each
repeat then copies the template into the working database, times `dbt run --full-refresh`,
simulates and loads the next day and times the incremental `dbt run`. Prints both, their ratio
(issue 5's target: <= 0.10), the slowest models of each run (dbt's run_results.json), and the
median ratio over the repeats (the machine is shared: back-to-back pairs, median, are robust to
load where one wall-clock figure is not). CPU is dbt's own (the client) plus the server backends
of the working database, sampled from /proc every 0.2 s (a local server only; a backend's last
0.2 s and short-lived parallel workers can be missed).

The history's raw rows are dated to their delivery day (_loaded_at = the landing folder's day,
02:00 UTC) before the runs: in production the history arrived day by day, and the incremental
models' load-time lookback (the `incremental_lookback` var, 3 hours) would otherwise treat the
whole bulk load, done minutes ago, as new. The next day lands in the history's landing folder
(recreated under its old path), as a production day lands beside the earlier ones: registry
deliveries are ordered by their path. Tests (`dbt test`) scan whole tables on every run and
are timed separately (`--dbt-test`).
The databases are scratch databases on the configured server (WAREHOUSE_URL etc.); the working
one is dropped at the end unless --keep-db, the template only with --drop-template.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from parkdw import transform, warehouse
from parkdw.ingest.loader import ingest_partner
from parkdw.sandbox.generate import SimulationConfig, simulate
from parkdw.settings import SCHEMA_RAW, get_settings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


class BackendCpu:
    """CPU seconds of the server backends connected to one database, sampled from /proc."""

    def __init__(self, server, dbname: str):
        self._conn = psycopg.connect(server.with_dbname("postgres").conninfo, autocommit=True)
        self._dbname = dbname
        self._seen: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            pids = [r[0] for r in self._conn.execute(
                "select pid from pg_stat_activity where datname = %s", (self._dbname,)).fetchall()]
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                self._seen[pid] = max(self._seen.get(pid, 0), int(fields[11]) + int(fields[12]))
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._conn.close()

    @property
    def seconds(self) -> float:
        return sum(self._seen.values()) / CLOCK_TICKS


@dataclass
class Timing:
    wall: float
    dbt_cpu: float
    server_cpu: float
    models: list[tuple[str, float]]

    def line(self) -> str:
        return f"{self.wall:.1f}s wall, CPU {self.dbt_cpu:.1f}s dbt + {self.server_cpu:.1f}s server"


# dbt's artifacts of the timed runs, apart from target/ (other dbt calls on the project write there)
BENCH_TARGET = "target/bench_incremental"


def timed_dbt(server, wh, args: list[str]) -> Timing:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with BackendCpu(server, wh.dbname) as backends:
        transform.run_dbt([*args, "--quiet", "--target-path", BENCH_TARGET], wh=wh)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    results = json.loads((get_settings().dbt_project_dir / BENCH_TARGET / "run_results.json").read_text())
    models = sorted(((r["unique_id"].split(".")[-1], r["execution_time"]) for r in results["results"]),
                    key=lambda m: -m[1])
    dbt_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Timing(wall, dbt_cpu, backends.seconds, models)


def print_models(label: str, timing: Timing, top: int) -> None:
    total = sum(t for _, t in timing.models)
    print(f"  {label}: {len(timing.models)} models, sum of model times {total:.1f}s; slowest: "
          + ", ".join(f"{name} {t:.2f}" for name, t in timing.models[:top]), flush=True)


def date_loads_by_delivery_day(wh) -> None:
    with warehouse.connect(warehouse=wh) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.columns where table_schema = %s and column_name = '_loaded_at'",
            (SCHEMA_RAW,)).fetchall()]
        for table in tables:
            conn.execute(sql.SQL(
                "update {}.{} as r set _loaded_at = (substring(b.source from '/(\\d{{4}}-\\d{{2}}-\\d{{2}})/')::date "
                "+ time '02:00')::timestamp at time zone 'UTC' from audit.load_batch as b "
                "where b.batch_id = r._batch_id and b.source ~ '/\\d{{4}}-\\d{{2}}-\\d{{2}}/'").format(
                sql.Identifier(SCHEMA_RAW), sql.Identifier(table)))
        conn.commit()
        conn.autocommit = True
        conn.execute("vacuum analyze")


def database_exists(server, dbname: str) -> bool:
    with psycopg.connect(server.with_dbname("postgres").conninfo, autocommit=True) as conn:
        return conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone() is not None


def recreate_database(server, dbname: str, template: str | None = None) -> None:
    with psycopg.connect(server.with_dbname("postgres").conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname)))
        if template:
            conn.execute(sql.SQL("create database {} template {}").format(
                sql.Identifier(dbname), sql.Identifier(template)))
        else:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))


def drop_database(server, dbname: str) -> None:
    with psycopg.connect(server.with_dbname("postgres").conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname)))


def build_template(server, args, work: Path, history_end: date) -> None:
    """The history loaded, dated by delivery day, and seeded."""
    template = server.with_dbname(args.template)
    recreate_database(server, template.dbname)
    started = time.perf_counter()
    totals = simulate(SimulationConfig(args.start, history_end, scale=args.scale), work / "history",
                      progress=lambda day, t: print(f"  simulated {day}: {t['orders']} orders", flush=True)
                      if day.day == 1 else None)
    print(f"history: {totals['orders']:,} orders over {totals['days']} days, "
          f"simulated in {time.perf_counter() - started:.0f}s", flush=True)
    load(template, work / "history", "history")
    date_loads_by_delivery_day(template)
    transform.run_dbt(["seed", "--quiet"], wh=template)
    shutil.rmtree(work / "history", ignore_errors=True)


def history_landing(server, template: str) -> Path | None:
    """The landing folder the template's history was loaded from (its files are gone)."""
    with psycopg.connect(server.with_dbname(template).conninfo) as conn:
        row = conn.execute("select substring(source from '^(.*)/reference/registry/') "
                           "from audit.load_batch where feed = 'registry' limit 1").fetchone()
    return Path(row[0]) if row and row[0] else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--repeat", type=int, default=1, help="full + incremental pairs (median ratio printed)")
    parser.add_argument("--template", default="parkdw_bench_incremental_history",
                        help="database holding the loaded history (built when missing, kept)")
    parser.add_argument("--db", default="parkdw_bench_incremental", help="working database (a template copy)")
    parser.add_argument("--dbt-test", action="store_true", help="also time `dbt test` after each full refresh")
    parser.add_argument("--top", type=int, default=8, help="slowest models printed per run")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--drop-template", action="store_true")
    args = parser.parse_args()

    server = get_settings().warehouse()
    wh = server.with_dbname(args.db)
    history_end = args.start + timedelta(days=args.days - 1)
    next_day = history_end + timedelta(days=1)
    work = Path(tempfile.mkdtemp(prefix="parkdw-bench-incr-"))
    ratios = []
    made = None  # a folder this run creates outside `work`
    try:
        if database_exists(server, args.template):
            print(f"history: reusing the template database {args.template} "
                  f"(built with --start/--days/--scale of its first call)", flush=True)
        else:
            build_template(server, args, work, history_end)
        # The next day lands in the history's landing folder, as in production (one landing
        # root): the registry's deliveries are ordered by their path (day folder), and a next day
        # under another temporary root would sort anywhere among the history's.
        # (Another run using it now: a root of our own.)
        landing = history_landing(server, args.template)
        if landing is not None and not landing.exists():
            made = landing
            while not made.parent.exists():
                made = made.parent
        else:
            landing = work / "next_day"
        day_totals = simulate(SimulationConfig(next_day, next_day, scale=args.scale), landing)
        for repeat in range(1, args.repeat + 1):
            recreate_database(server, wh.dbname, template=args.template)
            full = timed_dbt(server, wh, ["run", "--full-refresh"])
            print(f"[{repeat}] full refresh (dbt run --full-refresh): {full.line()}", flush=True)
            print_models("full refresh", full, args.top)
            if args.dbt_test:
                tests = timed_dbt(server, wh, ["test"])
                print(f"[{repeat}] dbt test after the full refresh: {tests.line()}", flush=True)
            load(wh, landing, f"next day {next_day}")
            incremental = timed_dbt(server, wh, ["run"])
            print(f"[{repeat}] incremental day ({day_totals['orders']:,} orders; dbt run): {incremental.line()}",
                  flush=True)
            print_models("incremental", incremental, args.top)
            ratios.append(incremental.wall / full.wall)
            cpu_full, cpu_incr = full.dbt_cpu + full.server_cpu, incremental.dbt_cpu + incremental.server_cpu
            print(f"RESULT repeat={repeat} scale={args.scale} history_days={args.days} "
                  f"full_refresh_s={full.wall:.1f} incremental_s={incremental.wall:.1f} ratio={ratios[-1]:.3f} "
                  f"full_cpu_s={cpu_full:.1f} incremental_cpu_s={cpu_incr:.1f} "
                  f"cpu_ratio={cpu_incr / cpu_full:.3f}", flush=True)
        print(f"MEDIAN ratio over {len(ratios)} pair(s): {statistics.median(ratios):.3f} "
              f"(all: {', '.join(f'{r:.3f}' for r in ratios)})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        if not args.keep_db:
            drop_database(server, wh.dbname)
        if args.drop_template:
            drop_database(server, args.template)


if __name__ == "__main__":
    main()
