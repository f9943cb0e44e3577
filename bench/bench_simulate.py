"""Benchmark the partner sandbox: orders generated per second and peak memory.

    .venv/bin/python bench/bench_simulate.py --days 3 --scale 0.1

Prints one line per run and a summary; memory is the process' peak resident set size, so
run it once per configuration to compare (the figure never goes down within a process).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from parkdw.sandbox.generate import SimulationConfig, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 11, 4))
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--keep", type=Path, help="write here instead of a temporary folder")
    args = parser.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="parkdw-bench-"))
    cfg = SimulationConfig(args.start, args.start + timedelta(days=args.days - 1), scale=args.scale)
    started = time.perf_counter()
    totals = simulate(cfg, out, progress=lambda day, t: print(
        f"  {day}: {t['orders']:>7} orders, {time.perf_counter() - started:6.1f}s elapsed", flush=True))
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"days={totals['days']} orders={totals['orders']} seconds={seconds:.1f} "
          f"orders_per_second={totals['orders'] / seconds:,.0f} output_mb={size / 2**20:.0f} peak_rss_mb={peak_mb:.0f}")
    if not args.keep:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
