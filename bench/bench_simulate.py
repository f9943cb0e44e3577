"""Benchmark the partner sandbox: orders generated per second and peak memory.

    .venv/bin/python bench/bench_simulate.py --start 2025-03-01 --days 31 --scale 1    # a month at scale 1
    .venv/bin/python bench/bench_simulate.py --scale 0.1 --flatness 1,7,31             # memory vs range length

One run prints a line per day and a summary: wall seconds, orders per second, CPU seconds (all
processes), output size and peak resident memory of the main process and of the largest worker. --flatness runs one fresh
process per range length (peak RSS never goes down within a process) and prints a table: with
streaming, peak memory depends on the largest day, not on how many days the range has.
Output goes to a temporary folder next to --tmp (default: the system's) and is deleted after,
unless --keep names a folder. A month at scale 1 writes about 10 GB: check `df -h` first.
--discard deletes each origin day's files as soon as the day is done (its size is counted first),
so a range larger than the disk can be generated, e.g. a park year at scale 1 (about 12 million
orders, some 120 GB of files) to show memory stays flat:

    .venv/bin/python bench/bench_simulate.py --start 2023-09-23 --days 366 --scale 1 --workers 2 --discard
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench_host import host_line
from parkdw.sandbox.generate import SimulationConfig, simulate


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def _cpu_seconds() -> float:
    """CPU time of this process and its finished workers: on a shared machine, less noisy than wall time."""
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))


def _live_workers_peak_mb() -> float:
    """The largest peak RSS (VmHWM) among the running worker processes: RUSAGE_CHILDREN only counts
    workers that have ended, and pool workers live as long as the run."""
    peak = 0
    for child in multiprocessing.active_children():
        try:
            status = Path(f"/proc/{child.pid}/status").read_text()
        except OSError:
            continue
        peak = max(peak, next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0))
    return peak / 1024


def _discard_origin_day(out: Path, day: date) -> int:
    """Delete the feed files that origin `day` wrote; return their bytes. Files name their origin day
    (customs CEBxxx_<origin>_<MMDD>_n.xml in the delivery day's folder, payments settlement_<pay code>_
    <settlement day>_<origin>.csv, _sandbox/tracking/<origin>.jsonl). Days come back in order, so every
    file with an earlier origin is gone already and a later origin's files never match."""
    ymd, size = f"{day:%Y%m%d}", 0
    for partner in ("customs", "payments", "_sandbox"):
        for path in (out / partner).rglob("*"):
            if path.is_file() and (f"_{ymd}_" in path.name or path.stem.endswith((ymd, day.isoformat()))):
                size += path.stat().st_size
                path.unlink()
    return size


def run(args) -> None:
    print(host_line(args.tmp), flush=True)
    cpu_before = _cpu_seconds()  # the host check's two processes are children too
    out = args.keep or Path(tempfile.mkdtemp(prefix="parkdw-bench-", dir=args.tmp))
    cfg = SimulationConfig(args.start, args.start + timedelta(days=args.days - 1), scale=args.scale)
    started = time.perf_counter()
    discarded = 0

    def progress(day, truth) -> None:
        nonlocal discarded
        if args.discard:
            discarded += _discard_origin_day(out, day)
        if not args.quiet:
            print(f"  {day}: {truth['orders']:>7} orders, {time.perf_counter() - started:6.1f}s elapsed, "
                  f"peak RSS {_peak_mb(resource.RUSAGE_SELF):.0f} MB main, "
                  f"{_live_workers_peak_mb():.0f} MB largest worker", flush=True)

    totals = simulate(cfg, out, workers=args.workers, progress=progress)
    seconds = time.perf_counter() - started
    size = discarded + sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"days={totals['days']} orders={totals['orders']} workers={args.workers} seconds={seconds:.1f} "
          f"orders_per_second={totals['orders'] / seconds:,.0f} cpu_seconds={_cpu_seconds() - cpu_before:.1f} "
          f"output_mb={size / 2**20:,.0f} "
          f"peak_rss_mb={_peak_mb(resource.RUSAGE_SELF):.0f} "
          f"worker_peak_rss_mb={_peak_mb(resource.RUSAGE_CHILDREN):.0f}", flush=True)
    if not args.keep:
        shutil.rmtree(out)


def flatness(args) -> None:
    print(f"{'days':>5} {'orders':>9} {'seconds':>8} {'peak_rss_mb':>12} {'worker_peak_rss_mb':>19}")
    for days in (int(n) for n in args.flatness.split(",")):
        cmd = [sys.executable, __file__, "--quiet", "--start", args.start.isoformat(), "--days", str(days),
               "--scale", str(args.scale), "--workers", str(args.workers)] + (["--tmp", args.tmp] if args.tmp else [])
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        f = dict(item.split("=") for item in line.split())
        print(f"{days:>5} {f['orders']:>9} {f['seconds']:>8} {f['peak_rss_mb']:>12} {f['worker_peak_rss_mb']:>19}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 11, 4))
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, help="write here instead of a temporary folder")
    parser.add_argument("--tmp", help="where the temporary folder goes (default: the system's)")
    parser.add_argument("--flatness", metavar="DAYS,DAYS,...", help="peak memory for each range length")
    parser.add_argument("--quiet", action="store_true", help="only the summary line")
    parser.add_argument("--discard", action="store_true", help="delete each day's files once it is done")
    args = parser.parse_args()
    flatness(args) if args.flatness else run(args)


if __name__ == "__main__":
    main()
