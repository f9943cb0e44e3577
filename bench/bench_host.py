"""What this host gives a benchmark: how many cores two busy processes really get, and what a new
file costs in the folder a benchmark writes to.

    .venv/bin/python bench/bench_host.py                 # the system's temporary folder
    .venv/bin/python bench/bench_host.py --tmp /work/tmp  # another folder

Why: on the 2-vCPU machines these benchmarks run on, both vary. Two processes that each burn 3
CPU seconds got 1.96-1.97 cores on a quiet host, and 1.12-1.16 while another engineer's simulator
ran beside them. Creating an empty file has cost 7 µs in one folder and 330-500 µs in another of
the same file system: it is ext4 without a journal, whose inode allocator skips every inode freed
in the last 5 minutes (300 s more while the inode table block is dirty), reading each one's
deletion time (`recently_deleted` under `find_inode_bit`: 46 % of the samples of `perf record -g`
on a loop creating files). So a benchmark run within minutes of deleting the last run's 70,000
files (a simulated month) pays up to half a millisecond a file, 20-35 CPU seconds in all, that a
landing folder which only grows never pays. bench_simulate.py and bench_pipeline.py print this
line before they start, so that each figure says what it ran on.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path


def _burn(seconds: float) -> int:
    started, spins = time.process_time(), 0
    while time.process_time() - started < seconds:
        spins += 1
    return spins


def parallel_cores(seconds: float = 3.0) -> float:
    """CPU seconds per wall second that two processes, each burning `seconds` of CPU, got together."""
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_burn, [0.01, 0.01])  # both workers started before the clock does
        started = time.perf_counter()
        pool.map(_burn, [seconds, seconds])
        return 2 * seconds / (time.perf_counter() - started)


def file_create_us(folder: str | None, files: int = 500) -> float:
    """Microseconds of wall time to create (and close) an empty file in a new folder under `folder`."""
    scratch = Path(tempfile.mkdtemp(prefix="parkdw-host-", dir=folder))
    try:
        started = time.perf_counter()
        for n in range(files):
            os.close(os.open(scratch / f"CEB603_20240304_0304_{n:04d}.xml", os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
        return (time.perf_counter() - started) / files * 1e6
    finally:
        shutil.rmtree(scratch)


def host_line(folder: str | None) -> str:
    where = folder or tempfile.gettempdir()
    return (f"host: parallel_cores={parallel_cores():.2f} (of {os.cpu_count()}) "
            f"file_create_us={file_create_us(folder):.0f} in {where} load={os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tmp", help="the folder whose file creation is timed (default: the system's)")
    print(host_line(parser.parse_args().tmp), flush=True)


if __name__ == "__main__":
    main()
