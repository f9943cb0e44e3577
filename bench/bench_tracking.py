"""Benchmark the carrier tracking events: CPU microseconds per parcel and per event of write_day_events.

    .venv/bin/python bench/bench_tracking.py                       # 2024-03-05 at scale 0.3, 7 repeats
    .venv/bin/python bench/bench_tracking.py --day 2024-03-31 --scale 0.3 --repeats 11

Builds one day's released parcels the way the sandbox does (generate.simulate_day runs once with
tracking.write_day_events replaced by a function that keeps its `parcels` argument), then times
write_day_events on them with time.process_time() (CPU, not wall: the machine is shared) and prints
the best and the median of the repeats, and which tracking.py it timed (in a git worktree, the venv's
editable install may point at another checkout: PYTHONPATH=include picks the worktree's). Output goes
to a temporary folder that is deleted after.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from parkdw.sandbox import generate, tracking
from parkdw.sandbox.generate import SimulationConfig


def day_parcels(day: date, scale: float, out: Path) -> list[dict]:
    captured: list[dict] = []
    real = tracking.write_day_events

    def capture(out_dir, d, seed, parcels):
        captured.extend(parcels)
        return 0

    tracking.write_day_events = capture
    try:
        generate.simulate_day(day, SimulationConfig(day, day, scale=scale), out)
    finally:
        tracking.write_day_events = real
    return captured


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--day", type=date.fromisoformat, default=date(2024, 3, 5))
    ap.add_argument("--scale", type=float, default=0.3)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=SimulationConfig(date(2024, 3, 5), date(2024, 3, 5)).seed)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="parkdw-bench-tracking-"))
    try:
        parcels = day_parcels(args.day, args.scale, tmp / "sim")
        times, count = [], 0
        for _ in range(args.repeats):
            started = time.process_time()
            count = tracking.write_day_events(tmp / "out", args.day, args.seed, parcels)
            times.append(time.process_time() - started)
        best, median = min(times), statistics.median(times)
        n = len(parcels)
        print(f"tracking={tracking.__file__}")
        print(f"day={args.day} scale={args.scale} seed={args.seed} parcels={n} events={count} "
              f"events_per_parcel={count / n:.2f} repeats={args.repeats}")
        print(f"cpu_s best={best:.3f} median={median:.3f}")
        print(f"us_per_parcel best={best / n * 1e6:.1f} median={median / n * 1e6:.1f}")
        print(f"us_per_event  best={best / count * 1e6:.2f} median={median / count * 1e6:.2f}")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
