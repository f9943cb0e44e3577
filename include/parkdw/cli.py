"""`parkdw`: the command line of the park's export data warehouse."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import time
import warnings
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

from parkdw.celery_run import DEFAULT_BROKER, DEFAULT_DAY
from parkdw.ingest.feeds import FEEDS, PARTNERS
from parkdw.settings import get_settings

DEMO_START = date(2024, 11, 5)
DEMO_END = date(2024, 11, 11)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _fmt(value, unit: str = "") -> str:
    if isinstance(value, Decimal) or isinstance(value, float):
        return f"{value:,.2f}" if unit == "CNY" else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_progress(conn, out=print) -> None:
    from parkdw.pipeline import progress_rows

    rows = progress_rows(conn)
    if not rows:
        out("no progress figures yet: run `parkdw demo` (or the DAGs) first")
        return
    out(f"Progress toward the park's five-year targets (as of {rows[0]['as_of_date']}):")
    out(f"  {'metric':<24} {'actual':>20} {'target':>18} {'achieved':>9} {'elapsed':>8}  status")
    for r in rows:
        out(f"  {r['metric']:<24} {_fmt(r['cumulative_actual'], r['metric'][-3:].upper()):>20} "
            f"{_fmt(r['target_value'], r['metric'][-3:].upper()):>18} {float(r['share_achieved']):>9.2%} "
            f"{float(r['share_elapsed']):>8.2%}  {r['status']}")


# --- commands -------------------------------------------------------------------------------

def print_reconciliation(rows: list[dict], out=print) -> bool:
    """The marts against the sandbox's ground truth (pipeline.reconcile_with_sandbox); True if all agree."""
    out("  marts against the sandbox's ground truth:")
    for r in rows:
        verdict = "agrees" if r["agrees"] else "DIFFERS"
        unit = "CNY" if isinstance(r["expected"], Decimal) else ""
        out(f"    {r['figure']}: {_fmt(r['actual'], unit)} ({verdict}; expected {_fmt(r['expected'], unit)})")
    return all(r["agrees"] for r in rows)


def cmd_demo(args) -> int:
    """The main job: simulate a period, run every DAG through Airflow, print what happened."""
    from parkdw import airflow_local, transform, warehouse
    from parkdw.pipeline import reconcile_with_sandbox
    from parkdw.sandbox.generate import SimulationConfig, simulate

    started = time.monotonic()
    settings = get_settings()
    print(f"[1/5] warehouse: {settings.warehouse_source}", flush=True)
    wh = settings.warehouse()
    warehouse.ensure_database(wh)
    print(f"      {wh.redacted()}")
    airflow_local.prepare_environment(wh, "INFO" if args.verbose else "WARNING")

    cfg = SimulationConfig(args.start, args.end, seed=args.seed, scale=args.scale, scenario=args.scenario)
    print(f"[2/5] simulating partner feeds {cfg.start}..{cfg.end} (seed {cfg.seed}, scale {cfg.scale}) "
          f"into {settings.landing_dir}", flush=True)
    shutil.rmtree(settings.landing_dir, ignore_errors=True)
    totals = simulate(cfg, settings.landing_dir, workers=args.workers,
                      progress=lambda day, t: print(f"      {day}: {t['orders']} orders", flush=True))
    print(f"      {totals['orders']} orders, {totals['released_inventories']} released declarations")

    print("[3/5] preparing Airflow (metadata DB, DAG serialisation) and the dbt manifest", flush=True)
    transform.ensure_manifest()
    airflow_local.migrate_and_sync()

    print("[4/5] running the DAGs through Airflow", flush=True)
    timings = airflow_local.run_chain(cfg.start, cfg.end, progress=lambda m: print(m, flush=True))

    print("[5/5] summary", flush=True)
    with warehouse.connect() as conn:
        counts = warehouse.table_counts(conn)
        layers: dict[str, int] = {}
        for name, n in counts.items():
            layers[name.split(".")[0]] = layers.get(name.split(".")[0], 0) + n
        print("  rows per layer: " + ", ".join(f"{k}={v:,}" for k, v in sorted(layers.items())))
        for name in ("raw.ceb_inventory_head", "raw.ceb_inventory_list", "raw.ceb_inventory_return",
                     "raw.payment_settlement", "raw.tracking_event", "marts.fct_export_declaration_lines"):
            print(f"    {name}: {counts.get(name, 0):,}")
        received, loaded, quarantined, skipped = conn.execute(
            "select coalesce(sum(records_received), 0), coalesce(sum(records_loaded), 0), "
            "coalesce(sum(records_quarantined), 0), count(*) filter (where status = 'skipped') "
            "from audit.load_batch").fetchone()
        print(f"  records received={received:,} loaded={loaded:,} quarantined={quarantined:,} "
              f"(skipped already-loaded sources: {skipped:,})")
        for feed, rule, n in conn.execute("select feed, rule, count(*) from audit.quarantine "
                                          "group by 1, 2 order by 3 desc").fetchall():
            print(f"    quarantined {feed}/{rule}: {n:,}")
        print(f"  sandbox defects injected on purpose: {totals['defects']:,} (manifest in "
              f"{settings.landing_dir / '_manifest'})")
        print_progress(conn)
        print_reconciliation(reconcile_with_sandbox(conn, cfg, settings.landing_dir))
    print(f"  DAG seconds: " + ", ".join(f"{k.removeprefix('parkdw_')}={v:.0f}" for k, v in timings.items()))
    print(f"  outputs: exports in {settings.output_dir / 'exports'}, Airflow logs in {settings.airflow_home / 'logs'}")
    print(f"  auditors' report (DQ history, quarantine, reconciliation, defect coverage, drill-down, GX and dbt docs): "
          f"{settings.audit_report_dir / 'index.html'}")
    print(f"done in {time.monotonic() - started:.0f}s")
    return 0


def cmd_progress(args) -> int:
    from parkdw import warehouse

    with warehouse.connect() as conn:
        print_progress(conn)
    return 0


def cmd_report_progress(args) -> int:
    from parkdw import warehouse
    from parkdw.report.progress import render, render_pdf

    with warehouse.connect() as conn:
        page = render(conn, args.out)
    print(f"progress report: {page}")
    if args.pdf:
        print(f"PDF: {render_pdf(page, page.with_suffix('.pdf'))}")
    return 0


def cmd_report_audit(args) -> int:
    from parkdw import pipeline

    result = pipeline.render_audit_report(args.out, args.landing)
    print(f"auditors' report: {result['report']}")
    return 0


def cmd_simulate(args) -> int:
    from parkdw.sandbox.generate import DefectRates, SimulationConfig, simulate

    cfg = SimulationConfig(args.start, args.end, seed=args.seed, scale=args.scale, scenario=args.scenario,
                           defects=DefectRates.none() if args.no_defects else DefectRates())
    totals = simulate(cfg, args.out, workers=args.workers,
                      progress=lambda day, t: print(f"{day}: {t['orders']} orders", flush=True))
    print(f"wrote {totals['days']} days, {totals['orders']} orders to {args.out}")
    return 0


def cmd_ingest(args) -> int:
    """The DAG task's own code for one source (pipeline.ingest), with its counts printed."""
    from parkdw import pipeline, warehouse

    start = end = None
    if args.interval:
        start, end = (datetime.combine(d, datetime.min.time(), tzinfo=timezone.utc) for d in args.interval)
    warehouse.ensure_database(get_settings().warehouse())
    result = pipeline.ingest(args.partner, start, end, args.source, args.workers)
    print(f"{args.partner}: " + " ".join(f"{k}={v}" for k, v in result.items()))
    return 0


def cmd_quarantine(args) -> int:
    from parkdw import warehouse
    from parkdw.ingest import replay
    from parkdw.settings import LOADER_ROLE

    warehouse.prepare()
    with warehouse.connect(role=LOADER_ROLE) as conn:  # replaying loads raw rows: the loader's work
        if args.action == "list":
            counts, latest = replay.list_quarantine(conn, args.feed, args.limit)
            if not counts:
                print("quarantine is empty")
                return 0
            print("not yet replayed, by feed and rule:")
            for feed, rule, n in counts:
                print(f"  {feed:<10} {rule:<18} {n:>8,}")
            print("latest:")
            for qid, feed, rule, field, key, reason in latest:
                print(f"  #{qid} {feed} {rule} field={field} key={key}\n      {reason}")
        elif args.action == "show":
            sys.stdout.buffer.write(replay.quarantined_content(conn, args.id))
        else:
            if args.id is None or args.fixed is None:
                print("replay needs --id and --fixed", file=sys.stderr)
                return 2
            result = replay.replay(conn, args.id, args.fixed)
            conn.commit()
            print(f"replayed quarantine #{args.id} as batch {result.batch_id}: received={result.received} "
                  f"loaded={result.loaded} quarantined={result.quarantined}")
    return 0


def cmd_sandbox(args) -> int:
    from parkdw.sandbox import api

    return api.main(args.serve_args)


def cmd_airflow(args) -> int:
    from parkdw import airflow_stack

    return airflow_stack.serve(args.port, args.start, args.end)


def cmd_celery_demo(args) -> int:
    from parkdw import celery_run

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # stop like Ctrl-C: unwinding stops every process started
    result = celery_run.run(args.day, workers=args.workers, broker_url=args.broker,
                            progress=lambda m: print(m, flush=True))
    print(f"{len(result.runs)} DAG runs succeeded in {result.seconds:.0f}s ("
          + ", ".join(f"{k} {v:.0f}s" for k, v in result.stage_seconds.items()) + "); tasks per worker "
          f"(task_instance.hostname): " + ", ".join(f"{k}={v}" for k, v in result.tasks_by_worker.items()))
    return 0 if len(result.tasks_by_worker) >= min(2, args.workers) else 1


def cmd_server_settings(args) -> int:
    """The warehouse's server settings against the server's own; --apply sets them (ALTER SYSTEM)."""
    from parkdw import warehouse

    wanted = warehouse.server_settings()
    with warehouse.connect(autocommit=True) as conn:
        current = dict(conn.execute("select name, current_setting(name) from pg_settings where name = any(%s)",
                                    (list(wanted),)).fetchall())
        print(f"{warehouse.SERVER_SETTINGS_FILE} against {get_settings().warehouse().redacted()}:")
        for name, value in wanted.items():
            print(f"  {name:<22} {value:<8} (server: {current.get(name, 'unknown')})")
        if not args.apply:
            return 0
        if not conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0]:
            print("--apply needs a superuser login (ALTER SYSTEM)", file=sys.stderr)
            return 2
        applied = warehouse.apply_server_settings(conn, wanted)
    print(f"changed: {', '.join(applied['changed']) or 'nothing'}")
    if applied["pending_restart"]:
        print(f"restart the server to apply: {', '.join(applied['pending_restart'])}")
    return 0


def cmd_dbt(args) -> int:
    from parkdw import transform

    return transform.run_dbt(args.dbt_args, check=False).returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parkdw", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_period(p, start: date, end: date) -> None:
        p.add_argument("--start", type=_date, default=start, help=f"first day (default {start})")
        p.add_argument("--end", type=_date, default=end, help=f"last day, inclusive (default {end})")
        p.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
        p.add_argument("--scale", type=float, default=0.01, help="volume scale; 1.0 is about 1.5M orders a month mid-period")
        p.add_argument("--scenario", choices=["on-track", "ahead", "behind"], default="on-track")
        p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="processes generating days in parallel (default: one per CPU; same files)")

    p = sub.add_parser("demo", help="run the whole pipeline over a simulated period through Airflow")
    add_period(p, DEMO_START, DEMO_END)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("progress", help="print the current progress toward the park's targets")
    p.set_defaults(func=cmd_progress)

    p = sub.add_parser("report", help="the auditors' report from the audit tables (`parkdw report --out DIR`), "
                                       "or `parkdw report progress`",
                       description="Without a REPORT: regenerate the auditors' report folder (index.html: DQ per run "
                                   "and over time, quarantine, reconciliation, freshness, defect coverage, drill-down "
                                   "to source files, GX Data Docs, dbt docs) from the audit tables.")
    p.add_argument("--out", type=Path, default=None,
                   help="folder to write the auditors' report into (default: PARKDW_OUTPUT_DIR/audit)")
    p.add_argument("--landing", type=Path, default=None,
                   help="landing folder whose sandbox defect manifest the coverage page checks (default: the landing dir)")
    p.set_defaults(func=cmd_report_audit)
    reports = p.add_subparsers(dest="report", required=False, metavar="REPORT")
    r = reports.add_parser("progress", help="the progress report: self-contained HTML (and PDF with --pdf)")
    r.add_argument("--out", type=Path, required=True, help="folder to write progress.html into")
    r.add_argument("--pdf", action="store_true", help="also print it to progress.pdf with headless Chromium")
    r.set_defaults(func=cmd_report_progress)

    p = sub.add_parser("simulate", help="write simulated partner feeds for a date range")
    add_period(p, DEMO_START, DEMO_END)
    p.add_argument("--out", type=Path, required=True, help="landing folder to write")
    p.add_argument("--no-defects", action="store_true", help="inject no defects (a clean world)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("ingest", help="load one partner's landing files into the raw layer")
    p.add_argument("partner", choices=sorted([*PARTNERS, "logistics"]))
    p.add_argument("--source", default=None,
                   help="files: a landing folder or an sftp://[HOST[:PORT]]/PATH URL whose login and host key come "
                        "from the Airflow connection <partner>_sftp, e.g. AIRFLOW_CONN_CUSTOMS_SFTP (default: "
                        "PARKDW_<PARTNER>_LANDING, else the landing dir); logistics: the tracking API's base URL "
                        "(default: AIRFLOW_CONN_TRACKING_API's, whose client id and secret are used)")
    p.add_argument("--interval", nargs=2, type=_date, metavar=("START", "END"),
                   help="only day folders in [START, END); logistics: events updated before END")
    p.add_argument("--workers", type=int, default=1,
                   help="files: load this many day folders at once, one process each (a backfill; default 1)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("quarantine", help="list, show or replay quarantined records")
    p.add_argument("action", choices=["list", "show", "replay"],
                   help="list: counts and latest; show --id N: the rejected content; replay --id N --fixed FILE")
    p.add_argument("--feed", choices=sorted(FEEDS), help="only this feed (list)")
    p.add_argument("--limit", type=int, default=20, help="latest records to list")
    p.add_argument("--id", type=int, help="quarantine id (show, replay)")
    p.add_argument("--fixed", type=Path, help="the fixed record or file to load (replay)")
    p.set_defaults(func=cmd_quarantine)

    p = sub.add_parser("sandbox", help="the partner sandbox's services (serve the tracking API)",
                       description="parkdw sandbox serve --data DIR --port P [--fault-rate R]: serve the "
                                   "simulated carriers' tracking API from a simulated landing folder until stopped. "
                                   "Client credentials: PARKDW_SANDBOX_CLIENT_ID / PARKDW_SANDBOX_CLIENT_SECRET.")
    p.add_argument("action", choices=["serve"])
    p.add_argument("serve_args", nargs=argparse.REMAINDER, help="see `parkdw sandbox serve --help`")
    p.set_defaults(func=cmd_sandbox)

    p = sub.add_parser("airflow", help="run Airflow locally (UI at localhost:8080) with the DAGs, the warehouse "
                                         "and the sandbox API, until Ctrl-C")
    p.add_argument("--port", type=int, default=8080, help="port of the UI / REST API on loopback (default 8080)")
    p.add_argument("--start", type=_date, default=DEMO_START, help="first day simulated when the landing folder is empty")
    p.add_argument("--end", type=_date, default=DEMO_END, help="last day simulated when the landing folder is empty")
    p.set_defaults(func=cmd_airflow)

    p = sub.add_parser("celery-demo", help="run one simulated day's DAG chain on the CeleryExecutor with two "
                                             "workers (real processes) and show which worker ran what")
    p.add_argument("--day", type=_date, default=DEFAULT_DAY, help=f"the simulated day (default {DEFAULT_DAY})")
    p.add_argument("--workers", type=int, default=2, help="Celery workers to start (default 2)")
    p.add_argument("--broker", default=DEFAULT_BROKER,
                   help="Redis URL; when nothing answers there, a redis-server is started on a free loopback port")
    p.set_defaults(func=cmd_celery_demo)

    p = sub.add_parser("server-settings", help="the warehouse's PostgreSQL settings (deploy/postgresql/warehouse.conf) "
                                                "against the server's; --apply sets them")
    p.add_argument("--apply", action="store_true", help="ALTER SYSTEM each setting and reload (a superuser login); "
                                                        "prints which settings need a restart")
    p.set_defaults(func=cmd_server_settings)

    p = sub.add_parser("dbt", help="run a dbt command against the warehouse (e.g. parkdw dbt build)")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER, help="arguments passed to dbt")
    p.set_defaults(func=cmd_dbt)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # pgserver's, harmless
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
