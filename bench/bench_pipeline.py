"""Benchmark the whole pipeline, from generated partner files to published marts, per stage.

    .venv/bin/python bench/bench_pipeline.py run --start 2025-03-01 --days 7 --scale 0.05
    .venv/bin/python bench/bench_pipeline.py growth --start 2025-03-01 --days 1,7,30 --scale 0.05
    .venv/bin/python bench/bench_pipeline.py table growth.log    # the table again from a saved log

`run` times each stage on a fresh scratch database: simulate (the sandbox writes the feeds),
ingest (pipeline.ingest, the DAG tasks' code: reference first, then customs, payments and
logistics at once, as their three DAGs run side by side in Airflow, each partner's own wall time
printed; --sequential-ingest times them one after the other instead. Customs and payments come
from the landing folder, --ingest-workers day folders at once; logistics from the sandbox
tracking API served on loopback by a process of its own, ready before the ingest starts), dbt (seed, then one
`dbt build` of snapshot, models and tests, what the Cosmos task group runs model by model), GX
validation (pipeline.validate) and publish (pipeline.refresh_grants, pipeline.publish,
pipeline.render_report). It prints, per stage, the rows it handled, wall and CPU seconds, and
rows per wall second. Client CPU is this process and its children (dbt). With --server private
the warehouse is a PostgreSQL of its own (pgserver, under the temporary folder), so the server's
CPU (every backend and background process of that server) is measured per stage too: client +
server CPU is the work done, robust to the load of a shared machine, while wall time depends on
it (the load average is printed beside each stage).

`growth` runs `run` for each range length in a fresh process and prints how each stage's time
grows against the data (1 day -> 1 week -> 1 month: linear or better means a ratio <= 1).

With --server shared (the default) the warehouse is a scratch database on the configured server
(WAREHOUSE_URL etc.), dropped at the end unless --keep-db; a private server is deleted at the end.
A shared server on this machine has its CPU measured too (its postmaster's children, found from
a backend's parent pid), counting every database on it: an upper bound where others use it.
The landing files go to a temporary folder, deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
from psycopg import sql

# What each stage's "rows" count: the data it handled.
STAGE_UNITS = {"simulate": "orders", "ingest_reference": "records loaded", "ingest_customs": "records loaded",
               "ingest_payments": "records loaded", "ingest_logistics": "events loaded",
               "ingest_partners": "records and events loaded, the three partners at once",
               "dbt_build": "marts rows built", "gx_validation": "checks", "publish": "rows exported"}
STAGES = tuple(STAGE_UNITS)
PARTNERS = ("customs", "payments", "logistics")


def _cpu_seconds() -> float:
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))


class ServerCpu:
    """CPU seconds of a PostgreSQL server of our own: the postmaster, its live children and the
    children it has reaped (backends of closed connections)."""

    def __init__(self, postmaster_pid: int | None) -> None:
        self.pid, self.tick = postmaster_pid, os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _fields(pid) -> list[str]:
        text = Path(f"/proc/{pid}/stat").read_text()
        return text[text.rindex(")") + 2:].split()  # from field 3 (state) on

    def seconds(self) -> float:
        if self.pid is None:
            return 0.0
        f = self._fields(self.pid)
        ticks = sum(int(x) for x in f[11:15])  # utime, stime, cutime, cstime
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    child = self._fields(entry.name)
                except OSError:
                    continue
                if child[1] == str(self.pid):
                    ticks += int(child[11]) + int(child[12])
        return ticks / self.tick


SERVER_CPU = ServerCpu(None)


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Stages:
    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    @contextmanager
    def stage(self, name: str):
        result = {"rows": 0}
        wall, cpu, server = time.perf_counter(), _cpu_seconds(), SERVER_CPU.seconds()
        yield result
        result.update(wall_s=round(time.perf_counter() - wall, 2), cpu_s=round(_cpu_seconds() - cpu, 2),
                      server_cpu_s=round(SERVER_CPU.seconds() - server, 2), load=_load())
        result["rows_per_s"] = round(result["rows"] / result["wall_s"]) if result["wall_s"] else 0
        self.rows[name] = result
        print(f"  {name:<17} rows={result['rows']:>10,} wall={result['wall_s']:>8.1f}s cpu={result['cpu_s']:>7.1f}s "
              f"server cpu={result['server_cpu_s']:>7.1f}s rows/s={result['rows_per_s']:>8,}  "
              f"({STAGE_UNITS[name]}; load {result['load']})", flush=True)


@contextmanager
def partner_tracking_api(landing: Path, log_path: Path):
    """The carriers' tracking API as a partner runs it: the sandbox server in a process of its
    own (`parkdw sandbox serve`, so its CPU and GIL are not the ingest's), with one-off
    credentials. Yields the seconds it took to get ready (spooling the events), which the
    logistics stage does not count: that is the partner's start-up, not the pipeline's work."""
    import secrets
    import urllib.request

    from parkdw.settings import ApiCredentials, reset_settings

    client_id, client_secret = f"bench-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    env = dict(os.environ, PARKDW_SANDBOX_CLIENT_ID=client_id, PARKDW_SANDBOX_CLIENT_SECRET=client_secret)
    started = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "parkdw.sandbox.api", "--data", str(landing), "--port", "0",
                                 "--rate-limit", "200"], env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("tracking API at "):
            raise SystemExit(f"the sandbox API did not start (see {log_path}): {line!r}")
        url = line.split()[3]
        with urllib.request.urlopen(f"{url}/v1/health", timeout=3600) as response:  # builds the spool
            events = json.loads(response.read())["events"]
        ready = time.perf_counter() - started
        print(f"  (partner API ready in {ready:.1f}s: {events:,} events spooled; not part of the stages)", flush=True)
        os.environ["AIRFLOW_CONN_TRACKING_API"] = ApiCredentials(url, client_id, client_secret).airflow_uri()
        reset_settings()
        yield ready
    finally:
        os.environ.pop("AIRFLOW_CONN_TRACKING_API", None)
        reset_settings()
        proc.terminate()
        proc.wait(timeout=60)


def _scratch(server, dbname: str, create: bool) -> None:
    with psycopg.connect(server.with_dbname("postgres").conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname)))
        if create:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))


def _local_postmaster(server) -> int | None:
    """The shared server's postmaster when it runs on this machine (a backend's parent), else None:
    its CPU then counts every database's backends, so the figure is an upper bound on a busy server."""
    with psycopg.connect(server.with_dbname("postgres").conninfo) as conn:
        backend = conn.execute("select pg_backend_pid()").fetchone()[0]
        try:
            return int(ServerCpu._fields(backend)[1])  # field 4: the parent's pid
        except (OSError, ValueError, IndexError):
            return None  # a server elsewhere: no CPU figure


def run(args) -> dict:
    global SERVER_CPU
    from parkdw import settings

    from bench_host import host_line

    print(host_line(args.tmp), flush=True)
    work = Path(tempfile.mkdtemp(prefix="parkdw-bench-pipeline-", dir=args.tmp))
    private = None
    if args.server == "private":
        import pgserver

        private = pgserver.get_server(work / "pgdata", cleanup_mode="delete")
        pid = int((work / "pgdata" / "postmaster.pid").read_text().split()[0])
        SERVER_CPU = ServerCpu(pid)
        # Cosmos / dbt need a password; the private server trusts its socket.
        server = settings.parse_connection(private.get_uri()).as_role("postgres", "bench")
    else:
        server = settings.get_settings().warehouse()
        SERVER_CPU = ServerCpu(_local_postmaster(server))
    wh = server.with_dbname(args.db)
    # The pipeline's functions read their warehouse and folders from settings (the environment).
    os.environ.pop("AIRFLOW_CONN_WAREHOUSE", None)
    os.environ.update(TQDM_DISABLE="1",  # GX's progress bars
                      WAREHOUSE_URL=wh.conninfo, PARKDW_HOME=str(work / "home"),
                      PARKDW_LANDING_DIR=args.landing or str(work / "landing"), PARKDW_OUTPUT_DIR=str(work / "outputs"))
    settings.reset_settings()
    _scratch(server, wh.dbname, create=True)

    from parkdw import pipeline, transform, warehouse
    from parkdw.cli import print_reconciliation
    from parkdw.sandbox.generate import SimulationConfig, simulate

    end = args.start + timedelta(days=args.days - 1)
    start_at = datetime(args.start.year, args.start.month, args.start.day, tzinfo=timezone.utc)
    end_at = datetime(end.year, end.month, end.day, tzinfo=timezone.utc) + timedelta(days=1)
    landing = Path(args.landing) if args.landing else work / "landing"
    stages = Stages()
    print(f"pipeline {args.start}..{end} ({args.days} days), scale {args.scale}, warehouse {wh.redacted()}", flush=True)
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    partner_api = ExitStack()
    try:
        with stages.stage("simulate") as s:
            if args.landing:  # files simulated before (the stage then only counts their orders)
                truth = [json.loads((landing / "_truth" / f"{args.start + timedelta(days=i)}.json").read_text())
                         for i in range(args.days)]
                totals = {"orders": sum(t["orders"] for t in truth)}
            else:
                totals = simulate(SimulationConfig(args.start, end, scale=args.scale, seed=args.seed), landing,
                                  workers=args.workers)
            s["rows"] = totals["orders"]
        # The partner's API is up before the pipeline starts (its spooling is not the pipeline's work).
        partner_api.enter_context(partner_tracking_api(landing, work / "tracking-api.log"))
        files_started = time.perf_counter()
        # Reference first: the reference feed's files include the FX week before the range. The
        # file feeds load --ingest-workers day folders at once, as a backfill's parallel DAG runs do.
        with stages.stage("ingest_reference") as s:
            s["rows"] = pipeline.ingest("reference", None, None, source=str(landing))["loaded"]

        def ingest(partner: str) -> dict:
            t0 = time.perf_counter()
            if partner == "logistics":
                summary = pipeline.ingest("logistics", start_at, end_at)
            else:
                summary = pipeline.ingest(partner, None, None, source=str(landing), workers=args.ingest_workers)
            return {"rows": summary["loaded"], "wall_s": round(time.perf_counter() - t0, 2)}

        if args.sequential_ingest:
            for partner in PARTNERS:
                with stages.stage(f"ingest_{partner}") as s:
                    s["rows"] = ingest(partner)["rows"]
        else:
            # Each partner has a DAG of its own, and Airflow runs them side by side: so does this.
            with stages.stage("ingest_partners") as s, ThreadPoolExecutor(len(PARTNERS)) as pool:
                own = dict(zip(PARTNERS, pool.map(ingest, PARTNERS)))
                s["rows"] = sum(r["rows"] for r in own.values())
                s["partners"] = own
            print("    each partner's own wall: " + ", ".join(
                f"{p} {r['wall_s']:.1f}s ({r['rows']:,})" for p, r in own.items()), flush=True)
        partner_api.close()
        with stages.stage("dbt_build") as s:
            transform.run_dbt(["seed", "--quiet"])
            transform.run_dbt(["build", "--exclude", "resource_type:seed", "--quiet"])
            with warehouse.connect() as conn:
                s["rows"] = sum(warehouse.table_counts(conn, ("marts",)).values())
        with stages.stage("gx_validation") as s:
            s["rows"] = pipeline.validate(start_at, end_at)["checks"]
        with stages.stage("publish") as s:
            pipeline.refresh_grants()
            exported = pipeline.publish()
            pipeline.render_report()
            s["rows"] = sum(v for k, v in exported.items() if k != "out_dir")
        files_to_marts = time.perf_counter() - files_started
        with warehouse.connect() as conn:
            counts = warehouse.table_counts(conn)
            # Every folder was loaded, late deliveries after the range's end included.
            loaded_through = max(date.fromisoformat(p.name) for p in (landing / "customs").iterdir())
            reconciled = print_reconciliation(pipeline.reconcile_with_sandbox(
                conn, SimulationConfig(args.start, end, scale=args.scale, seed=args.seed), landing, loaded_through))
        result = {
            "start": args.start.isoformat(), "days": args.days, "scale": args.scale, "orders": totals["orders"],
            "raw_rows": sum(v for k, v in counts.items() if k.startswith("raw.")),
            "marts_rows": sum(v for k, v in counts.items() if k.startswith("marts.")),
            "stages": stages.rows, "files_to_marts_wall_s": round(files_to_marts, 1),
            "total_wall_s": round(time.perf_counter() - started, 1),
            "total_cpu_s": round(_cpu_seconds() - cpu_started, 1),
            "total_server_cpu_s": round(sum(r["server_cpu_s"] for r in stages.rows.values()), 1),
            "server": args.server, "load_end": _load(), "reconciled": reconciled,
        }
        print(f"files -> published marts: {files_to_marts:.1f}s wall ({result['raw_rows']:,} raw rows, "
              f"{result['marts_rows']:,} marts rows); with simulate {result['total_wall_s']:.1f}s wall, "
              f"{result['total_cpu_s']:.1f}s client CPU, {result['total_server_cpu_s']:.1f}s server CPU", flush=True)
        print("RESULT " + json.dumps(result), flush=True)
        if not reconciled:
            raise SystemExit("the marts do not reconcile with the sandbox's ground truth (above)")
        return result
    finally:
        partner_api.close()
        if private is not None:
            private.cleanup()
        elif not args.keep_db:
            _scratch(server, wh.dbname, create=False)
        shutil.rmtree(work, ignore_errors=True)


def growth(args) -> None:
    """One fresh process per range length; a table of each stage's time against the shortest."""
    results = []
    for days in args.days:
        cmd = [sys.executable, __file__, "run", "--start", args.start.isoformat(), "--days", str(days),
               "--scale", str(args.scale), "--seed", str(args.seed), "--workers", str(args.workers),
               "--ingest-workers", str(args.ingest_workers),
               *(["--sequential-ingest"] if args.sequential_ingest else []),
               "--db", args.db, "--server", args.server]
        if args.tmp:
            cmd += ["--tmp", args.tmp]

        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        sys.stdout.write(out.stdout)
        if out.returncode:
            raise SystemExit(f"the {days}-day run failed (exit {out.returncode})")
        results.append(json.loads(next(l for l in out.stdout.splitlines() if l.startswith("RESULT "))[7:]))
    print_growth(results)


def print_growth(results: list[dict]) -> None:
    """Per stage: wall and client CPU seconds for each range, and how each grew against the
    rows the stage handled ('per row' = time growth / row growth; <= 1 is linear or better)."""
    base = results[0]
    print(f"\ngrowth at scale {base['scale']} against {base['days']} day(s); 'per row' = time growth / growth "
          "of the stage's rows (<= 1: linear or better)")
    for measure, key in (("wall s", "wall_s"), ("client CPU s", "cpu_s")):
        print(f"\n{measure:<17}" + "".join(f"{str(r['days']) + ' d':>10}" for r in results) + "".join(
            f"{'x' + str(r['days']) + 'd':>9}{'per row':>9}" for r in results[1:]))
        for stage in (st for st in STAGES if st in base["stages"]):
            def value(r):
                return r["stages"][stage][key]

            line = f"{stage:<17}" + "".join(f"{value(r):>10.1f}" for r in results)
            for r in results[1:]:
                factor = value(r) / value(base) if value(base) else float("nan")
                rows = r["stages"][stage]["rows"] / base["stages"][stage]["rows"]
                line += f"{factor:>9.2f}{factor / rows:>9.2f}"
            print(line)
    print("\norders           " + "".join(f"{r['orders']:>10,}" for r in results))
    print("files->marts wall " + "".join(f"{r['files_to_marts_wall_s']:>10.1f}" for r in results))
    print("cpu s (client)   " + "".join(f"{r['total_cpu_s']:>10.1f}" for r in results))
    print("cpu s (server)   " + "".join(f"{r.get('total_server_cpu_s', 0):>10.1f}" for r in results))
    print("load at the end  " + "".join(f"{r['load_end'].split()[0]:>10}" for r in results))
    print("GROWTH " + json.dumps(results))


def table(args) -> None:
    """The growth table again, from the RESULT lines of earlier runs (a saved log)."""
    lines = Path(args.log).read_text().splitlines()
    print_growth([json.loads(l[7:]) for l in lines if l.startswith("RESULT ")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for name in ("run", "growth"):
        p = sub.add_parser(name)
        p.add_argument("--start", type=date.fromisoformat, default=date(2025, 3, 1))
        if name == "run":
            p.add_argument("--days", type=int, default=7)
            p.add_argument("--keep-db", action="store_true")
        else:
            p.add_argument("--days", type=lambda v: [int(x) for x in v.split(",")], default=[1, 7, 30])
        p.add_argument("--scale", type=float, default=0.05)
        p.add_argument("--seed", type=int, default=42)
        p.add_argument("--workers", type=int, default=2, help="simulator processes")
        p.add_argument("--ingest-workers", type=int, default=2,
                       help="processes loading the file feeds' day folders at once (pipeline.ingest workers)")
        p.add_argument("--sequential-ingest", action="store_true",
                       help="ingest customs, payments and logistics one after the other, each timed alone "
                            "(default: at once, as their DAGs run in Airflow)")
        p.add_argument("--db", default="scratch_security_bench_pipeline", help="scratch database name")
        p.add_argument("--server", choices=("shared", "private"), default="shared",
                       help="the configured server (a scratch database) or a PostgreSQL of its own")
        p.add_argument("--tmp", help="folder for the landing files (a scale-1 month writes about 14 GB)")
        if name == "run":
            p.add_argument("--landing", help="partner files simulated before for this range, scale and seed "
                                             "(`parkdw simulate`): read from there, not simulated again")
    p = sub.add_parser("table", help="print the growth table from a saved log of runs")
    p.add_argument("log")
    args = parser.parse_args()
    {"run": run, "growth": growth, "table": table}[args.mode](args)


if __name__ == "__main__":
    main()
