"""Benchmark the raw loader against psql's \\copy, and the customs XML parse-and-map rate.

    .venv/bin/python bench/bench_load.py load --rows 1000000
    .venv/bin/python bench/bench_load.py parse --days 2 --scale 0.1
    .venv/bin/python bench/bench_load.py customs --days 2 --scale 0.05

load: writes a settlement CSV of N rows, loads it with the loader (load_file: checksum, CSV
reader, checks, COPY with lineage, audit, one transaction), then loads the very same rows
(lineage included, exported from the loaded table) with psql's \\copy from a CSV file into
the same table; alternating runs, best of --repeat each and the median of each run's ratio, in a scratch database dropped at the
end. parse: reads sandbox-generated customs files with the CEB reader (XSD checks, mapping to
rows) in this one process and reports messages per second of CPU time, i.e. per core; --reader
record measures the record-by-record path alone. customs: the customs ingest (ingest_partner:
checksum, reader, COPY, audit) of such files into a scratch database, the whole-message path and
the record path alternating, client CPU per record.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

from parkdw import warehouse
from parkdw.ceb.spec import LINEAGE_COLUMNS
from parkdw.ingest.feeds import SETTLEMENTS
from parkdw.ingest.loader import load_file, load_source
from parkdw.settings import parse_connection

LINEAGE = list(LINEAGE_COLUMNS)


def write_settlements(path: Path, rows: int) -> None:
    """A settlement file shaped like the payment partner's (amounts as decimal text)."""
    rng = random.Random(11)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(SETTLEMENTS.columns)
        for i in range(rows):
            gross = rng.randrange(500, 500_000)
            fee = gross * 6 // 1000
            rate = 7.0 + rng.random() / 2
            out.writerow((
                f"R{i:09d}", "2024-11-11", "payment" if i % 20 else "refund", f"PAY{i:012d}",
                "" if i % 20 else f"PAY{i - 1:012d}", f"ORD{i:012d}", "500166000A", f"50016600{i % 97:02d}",
                f"2024-11-11T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}+08:00", "USD", f"{gross / 100:.2f}",
                f"{fee / 100:.2f}", f"{(gross - fee) / 100:.2f}", f"{rate:.4f}", "central_parity", "CNY",
                f"{(gross - fee) * rate / 100:.2f}"))


def _truncate(conn) -> None:
    conn.execute("truncate raw.payment_settlement, audit.quarantine, audit.load_batch restart identity cascade")
    conn.commit()
    conn.autocommit = True
    conn.execute("vacuum analyze raw.payment_settlement")
    conn.execute("checkpoint")  # each run starts from the same clean state on disk
    conn.autocommit = False


def bench_load(args) -> None:
    server = parse_connection(args.server)
    scratch = server.with_dbname(f"parkdw_bench_{os.getpid()}")
    tmp = Path(tempfile.mkdtemp(prefix="parkdw-bench-load-"))
    admin = psycopg.connect(server.with_dbname("postgres").conninfo, autocommit=True)
    admin.execute(f"create database {scratch.dbname}")
    try:
        source = tmp / "settlement_bench.csv"
        write_settlements(source, args.rows)
        with warehouse.connect(warehouse=scratch) as conn:
            warehouse.ensure_schemas(conn)
            # The psql file: exactly the rows the loader writes, lineage included.
            result = load_file(conn, "payments", source)
            conn.commit()
            assert result.loaded == args.rows, result
            columns = ", ".join(list(SETTLEMENTS.columns) + LINEAGE)
            copy_file = tmp / "same_rows.csv"
            with open(copy_file, "wb") as f, conn.cursor().copy(
                    f"copy (select {columns} from raw.payment_settlement) to stdout with (format csv)") as copy:
                for chunk in copy:
                    f.write(chunk)
            # The loader's COPY path alone: the same file's rows, already read, through load_source.
            parsed = list(SETTLEMENTS.read(source))
            rates: dict[str, list[float]] = {"psql": [], "loader_rows": [], "loader_file": []}
            file_cpu_us: list[float] = []
            for _ in range(args.repeat):
                _truncate(conn)
                started = time.perf_counter()
                subprocess.run(["psql", scratch.conninfo, "-v", "ON_ERROR_STOP=1", "-q", "-c",
                                f"\\copy raw.payment_settlement ({columns}) from '{copy_file}' with (format csv)"],
                               check=True)
                rates["psql"].append(args.rows / (time.perf_counter() - started))
                _truncate(conn)
                started = time.perf_counter()
                result = load_source(conn, "payments", str(source), "0" * 64, lambda: iter(parsed), bytes)
                conn.commit()
                rates["loader_rows"].append(result.loaded / (time.perf_counter() - started))
                _truncate(conn)
                started, cpu = time.perf_counter(), time.process_time()
                result = load_file(conn, "payments", source)
                conn.commit()
                rates["loader_file"].append(result.loaded / (time.perf_counter() - started))
                # The loader's own CPU per row: the bound when it, not the server, is the slower side.
                file_cpu_us.append((time.process_time() - cpu) / result.loaded * 1e6)
                print("  run: " + ", ".join(f"{k} {v[-1]:,.0f} rows/s" for k, v in rates.items())
                      + f", file/psql {rates['loader_file'][-1] / rates['psql'][-1]:.2f}", flush=True)
        best = {k: max(v) for k, v in rates.items()}
        # Each run's ratio compares neighbours in time (the machine's load drifts); their median is the figure.
        file_ratio = statistics.median(f / p for f, p in zip(rates["loader_file"], rates["psql"]))
        rows_ratio = statistics.median(r / p for r, p in zip(rates["loader_rows"], rates["psql"]))
        print(f"rows={args.rows} csv_mb={source.stat().st_size / 2**20:.0f} "
              f"psql_copy_rows_per_s={best['psql']:,.0f} "
              f"loader_copy_rows_per_s={best['loader_rows']:,.0f} median_ratio={rows_ratio:.2f} "
              f"loader_file_rows_per_s={best['loader_file']:,.0f} median_ratio={file_ratio:.2f} "
              f"(target >= 0.80) loader_file_client_cpu_us_per_row={statistics.median(file_cpu_us):.1f} "
              f"psql_copy_us_per_row={1e6 / best['psql']:.1f}")
    finally:
        admin.execute(f"drop database if exists {scratch.dbname} with (force)")
        admin.close()
        shutil.rmtree(tmp)


def bench_parse(args) -> None:
    from parkdw.ceb.reader import read_ceb_file, read_ceb_message
    from parkdw.ingest.records import CopyLines, RecordDone, Rejected, Row, SourceRejected
    from parkdw.sandbox.generate import SimulationConfig, simulate

    tmp = Path(tempfile.mkdtemp(prefix="parkdw-bench-parse-"))
    try:
        cfg = SimulationConfig(args.start, args.start + timedelta(days=args.days - 1), scale=args.scale)
        simulate(cfg, tmp)
        files = sorted((tmp / "customs").rglob("*.xml"))
        size = sum(p.stat().st_size for p in files)
        read = read_ceb_message if args.reader == "message" else read_ceb_file
        messages = rows = rejected_files = fast_files = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for path in files:
            try:
                fast = False
                for item in read(path):
                    if isinstance(item, Row):
                        rows += 1
                    elif isinstance(item, CopyLines):
                        rows += item.rows
                        messages += item.records
                        fast = True
                    elif isinstance(item, (RecordDone, Rejected)):
                        messages += 1
                fast_files += fast
            except SourceRejected:
                rejected_files += 1
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        # A "message" here is one declaration document (an Inventory, an Order...); a file is one
        # CEB envelope of up to 100 of them.
        print(f"reader={args.reader} files={len(files)} whole_message_files={fast_files} xml_mb={size / 2**20:.0f} "
              f"messages={messages} rows={rows} rejected_files={rejected_files} seconds={wall:.1f} cpu_seconds={cpu:.1f} "
              f"messages_per_s_per_core={messages / cpu:,.0f} rows_per_s_per_core={rows / cpu:,.0f} "
              f"files_per_s_per_core={len(files) / cpu:,.1f} mb_per_s_per_core={size / 2**20 / cpu:.1f}")
    finally:
        shutil.rmtree(tmp)


def bench_customs(args) -> None:
    """The customs ingest as the DAG runs it (ingest_partner: checksum, reader, COPY, audit) into a
    scratch database, whole-message path and record path alternating, each on an emptied warehouse."""
    from parkdw.ceb import reader, spec
    from parkdw.ingest.loader import ingest_partner
    from parkdw.sandbox.generate import SimulationConfig, simulate

    server = parse_connection(args.server)
    scratch = server.with_dbname(f"parkdw_bench_{os.getpid()}")
    tmp = Path(tempfile.mkdtemp(prefix="parkdw-bench-customs-"))
    admin = psycopg.connect(server.with_dbname("postgres").conninfo, autocommit=True)
    admin.execute(f"create database {scratch.dbname}")
    fast_limit = reader.MAX_FAST_BYTES
    try:
        simulate(SimulationConfig(args.start, args.start + timedelta(days=args.days - 1), scale=args.scale), tmp)
        cpu_us: dict[str, list[float]] = {"message": [], "record": []}
        with warehouse.connect(warehouse=scratch) as conn:
            warehouse.ensure_schemas(conn)
            for _ in range(args.repeat):
                for path in ("message", "record"):
                    conn.execute("truncate audit.quarantine, audit.load_batch restart identity cascade")
                    for table in sorted({t for k in spec.MESSAGE_ENTITIES.values()
                                         for t in (k.head_table, k.line_table) if t}):
                        conn.execute(f"truncate raw.{table}")
                    conn.commit()
                    reader.MAX_FAST_BYTES = fast_limit if path == "message" else -1
                    wall, cpu = time.perf_counter(), time.process_time()
                    summary = ingest_partner(conn, "customs", tmp)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    received = summary.count("received")
                    cpu_us[path].append(cpu / received * 1e6)
                    print(f"  {path}: files={len(summary.batches)} received={received} "
                          f"loaded={summary.count('loaded')} quarantined={summary.count('quarantined')} "
                          f"seconds={wall:.1f} cpu_seconds={cpu:.1f} client_cpu_us_per_record={cpu_us[path][-1]:.0f}",
                          flush=True)
        fast, slow = (statistics.median(cpu_us[p]) for p in ("message", "record"))
        print(f"customs ingest client CPU per record (median of {args.repeat}): whole-message path {fast:.0f} us, "
              f"record path {slow:.0f} us, ratio {fast / slow:.2f}")
    finally:
        reader.MAX_FAST_BYTES = fast_limit
        admin.execute(f"drop database if exists {scratch.dbname} with (force)")
        admin.close()
        shutil.rmtree(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("load", help="loader vs psql \\copy, same rows, side by side")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=2, help="alternating runs of each; best rates and median ratios are reported")
    p.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres",
                   help="a PostgreSQL server where a scratch database may be created and dropped")
    p.set_defaults(func=bench_load)
    p = sub.add_parser("parse", help="customs XML parse-and-map messages per second per core")
    p.add_argument("--start", type=date.fromisoformat, default=date(2024, 11, 10))
    p.add_argument("--days", type=int, default=2)
    p.add_argument("--scale", type=float, default=0.05)
    p.add_argument("--reader", choices=("message", "record"), default="message",
                   help="message: what the customs feed reads (whole-message fast path, record by record when "
                        "it cannot take a file); record: record by record only (read_ceb_file)")
    p.set_defaults(func=bench_parse)
    p = sub.add_parser("customs", help="customs ingest client CPU per record, whole-message vs record path")
    p.add_argument("--start", type=date.fromisoformat, default=date(2024, 11, 10))
    p.add_argument("--days", type=int, default=2)
    p.add_argument("--scale", type=float, default=0.05)
    p.add_argument("--repeat", type=int, default=2, help="alternating runs of each path; medians are reported")
    p.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres",
                   help="a PostgreSQL server where a scratch database may be created and dropped")
    p.set_defaults(func=bench_customs)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
