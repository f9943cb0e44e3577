"""Benchmark the tracking API ingest: the next page asked for ahead against one page at a time.

    .venv/bin/python bench/bench_tracking_ingest.py                      # 3 days at scale 0.3, 3 pairs
    .venv/bin/python bench/bench_tracking_ingest.py --days 2 --scale 0.1 --repeat 5

Simulates the days into a temporary folder, serves their events from the sandbox API in a
process of its own (as bench_pipeline.py does: the partner's CPU is not the ingest's), and runs
pipeline.ingest("logistics") into a fresh scratch database on the configured server
(WAREHOUSE_URL etc.) alternately with TrackingClient.pages as it is (the next page requested while
this one loads) and with a plain loop over fetch_page (each page requested after the one before
is committed). Prints each run's events, wall and client CPU seconds, then the median of the
per-pair wall ratios. The scratch database and the folder are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from parkdw import pipeline, warehouse
from parkdw.ingest.tracking_client import TrackingClient
from parkdw.sandbox.generate import SimulationConfig, simulate
from parkdw.settings import get_settings, reset_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import _cpu_seconds, _scratch, partner_tracking_api  # noqa: E402


def one_page_at_a_time(client: TrackingClient, updated_since: str, cursor: str | None = None, limit: int = 1000):
    """TrackingClient.pages before it asked ahead: the next request only when the caller asks."""
    while True:
        page = client.fetch_page(updated_since, cursor, limit)
        yield page
        if not page.has_more or not page.next_cursor:
            return
        cursor = page.next_cursor


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--start", type=date.fromisoformat, default=date(2024, 3, 4))
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--scale", type=float, default=0.3)
    p.add_argument("--repeat", type=int, default=3, help="pairs of runs")
    p.add_argument("--db", default="scratch_bench_tracking_ingest")
    p.add_argument("--tmp", help="folder for the simulated files")
    args = p.parse_args()

    server = get_settings().warehouse()
    scratch = server.with_dbname(args.db)
    work = Path(tempfile.mkdtemp(prefix="parkdw-bench-tracking-ingest-", dir=args.tmp))
    as_it_is = TrackingClient.pages
    ratios = []
    try:
        end = args.start + timedelta(days=args.days - 1)
        simulate(SimulationConfig(args.start, end, scale=args.scale), work / "landing", workers=2)
        os.environ["WAREHOUSE_URL"] = scratch.conninfo
        with partner_tracking_api(work / "landing", work / "tracking-api.log"):
            for _ in range(args.repeat):
                walls = {}
                for name, pages in (("one page at a time", one_page_at_a_time), ("next page ahead", as_it_is)):
                    _scratch(server, args.db, create=True)
                    reset_settings()
                    with warehouse.connect() as conn:
                        warehouse.ensure_schemas(conn)
                        conn.commit()
                    TrackingClient.pages = pages
                    wall, cpu = time.perf_counter(), _cpu_seconds()
                    events = pipeline.ingest("logistics", None, None)["loaded"]
                    walls[name] = time.perf_counter() - wall
                    print(f"{name:<20} events={events:>9,} wall={walls[name]:7.2f}s "
                          f"client cpu={_cpu_seconds() - cpu:6.2f}s load={os.getloadavg()[0]:.1f}", flush=True)
                ratios.append(walls["next page ahead"] / walls["one page at a time"])
    finally:
        TrackingClient.pages = as_it_is
        _scratch(server, args.db, create=False)
        shutil.rmtree(work, ignore_errors=True)
    print(f"wall ahead / one at a time, per pair: {', '.join(f'{r:.2f}' for r in ratios)}; "
          f"median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
