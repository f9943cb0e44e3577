"""The one loader: source file -> raw tables (COPY), exactly once, with lineage and quarantine.

Each source is one batch in one transaction: its audit row, its raw rows and its quarantined
records become visible together or not at all, so a crash mid-COPY leaves nothing behind.
A source whose content (sha256) was already loaded for the feed is skipped and recorded so.
"""

from __future__ import annotations

import fnmatch
import gc
import json
import logging
import multiprocessing
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from parkdw.ceb.spec import LINEAGE_COLUMNS
from parkdw.ingest.feeds import FEEDS, PARTNERS, all_raw_tables
from parkdw.ingest.landing import check_relative, open_landing, sha256_of
from parkdw.ingest.records import CopyBlock, CopyLines, RecordDone, Rejected, Row, SourceRejected
from parkdw.settings import SCHEMA_AUDIT, SCHEMA_RAW

if TYPE_CHECKING:
    from parkdw.settings import WarehouseParams

log = logging.getLogger(__name__)

FLUSH_ROWS = 5000  # rows buffered per table before a COPY flush (bounded memory)


@dataclass
class BatchResult:
    feed: str
    source: str
    sha256: str
    status: str  # loaded | skipped
    batch_id: int | None = None
    received: int = 0
    loaded: int = 0
    quarantined: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class RunSummary:
    """What one ingest run did, summed over its sources."""

    batches: list[BatchResult] = field(default_factory=list)

    def count(self, attr: str) -> int:
        return sum(getattr(b, attr) for b in self.batches)

    @property
    def skipped(self) -> int:
        return sum(1 for b in self.batches if b.status == "skipped")

    def as_dict(self) -> dict:
        return {
            "files": len(self.batches),
            "received": self.count("received"),
            "loaded": self.count("loaded"),
            "quarantined": self.count("quarantined"),
            "skipped_files": self.skipped,
        }

    def line(self) -> str:
        d = self.as_dict()
        return (f"files={d['files']} received={d['received']} loaded={d['loaded']} "
                f"quarantined={d['quarantined']} skipped_files={d['skipped_files']}")


# COPY text format: a field needs escaping only if it holds a backslash, tab, newline or CR.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_TAB = "\t"  # (f-string expressions cannot hold a backslash before Python 3.12)
_NULL = "\x00"  # stands for a NULL while a chunk is built: PostgreSQL text can never hold NUL


@contextmanager
def _gc_paused():
    """Pause the cycle collector while a source streams: rows are acyclic tuples freed by
    reference counting, and the collector would otherwise re-scan the buffered rows again
    and again (a fifth of the load time on a large file)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _TableWriter:
    """Buffers rows per raw table and streams them with COPY inside the batch transaction.

    Rows are encoded to COPY text by hand and written in large chunks: most fields need no
    escaping, so a chunk is joined as it is and checked once, and only a chunk holding a
    special character is rebuilt escaping field by field. The COPY of a table stays open while its chunks keep
    coming (a single-table file is one COPY), so the server inserts one chunk while the next
    is being read; it is closed when another table's chunk comes or the source ends. Leaving
    the writer on an exception aborts the open COPY (and the caller's savepoint drops the rest).
    """

    def __init__(self, conn: psycopg.Connection, batch_id: int, source: str) -> None:
        self._conn = conn
        self._source = source  # (for error messages; raw rows name only their batch)
        self._lineage = f"\t{int(batch_id)}"
        self._columns = all_raw_tables()
        self._buffers: dict[str, list[Row]] = defaultdict(list)
        self._open: tuple[tuple[str, str], object, psycopg.Copy] | None = None  # ((table, layout), context, copy)
        self.rows_by_table: dict[str, int] = defaultdict(int)

    def __enter__(self) -> "_TableWriter":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            for table in list(self._buffers):
                self._flush(table)
        self._close(exc)

    def add(self, row: Row) -> None:
        buf = self._buffers[row.table]
        buf.append(row)
        if len(buf) >= FLUSH_ROWS:
            self._flush(row.table)

    def _encode(self, rows: list[Row], width: int) -> bytes:
        """COPY text of a chunk of rows. Joined unescaped first: if the chunk then holds exactly
        the tabs and newlines of its own layout, no backslash or CR, and a NUL per NULL, no
        value needed escaping (the usual case); otherwise it is rebuilt escaping every field."""
        suffix = self._lineage
        nulls = 0
        lines = []
        for row in rows:
            values = row.values
            if None in values:
                nulls += values.count(None)
                values = [_NULL if v is None else v for v in values]
            guid = row.message_guid
            if guid is None:
                nulls += 1
                guid = _NULL
            lines.append(f"{_TAB.join(values)}{suffix}\t{row.record_no}\t{guid}\n")
        chunk = "".join(lines)
        if (chunk.count("\t") != len(rows) * (width + len(LINEAGE_COLUMNS) - 1) or chunk.count("\n") != len(rows)
                or "\\" in chunk or "\r" in chunk):
            chunk = "".join(f"{_TAB.join([_NULL if v is None else v.translate(_ESCAPES) for v in row.values])}"
                            f"{suffix}\t{row.record_no}\t"
                            f"{_NULL if row.message_guid is None else row.message_guid.translate(_ESCAPES)}\n"
                            for row in rows)
        if chunk.count(_NULL) != nulls:
            self._refuse_nul(rows)
        return chunk.replace(_NULL, "\\N").encode("utf-8")

    def _refuse_nul(self, rows: list[Row]) -> None:
        """A NUL character in delivered text: PostgreSQL cannot store it, so name where it is."""
        for row in rows:
            for column, value in zip(self._columns[row.table], row.values):
                if value is not None and _NULL in value:
                    raise ValueError(f"{self._source}: record {row.record_no}: field {column}: "
                                     "contains a NUL character, which a text column cannot hold")
        raise ValueError(f"{self._source}: a message guid contains a NUL character")

    def add_block(self, block: CopyBlock) -> None:
        """Records a reader already wrote as COPY text: only the lineage is appended to each
        line, and the block goes out in one write (its COPY reads an empty field as NULL)."""
        if self._buffers.get(block.table):
            self._flush(block.table)  # rows read before the block go first, in record order
        lineage = self._lineage + "\t"
        # (an empty _message_guid: NULL)
        chunk = "".join([f"{line}{lineage}{record_no}\t\n"
                         for record_no, line in enumerate(block.lines, block.first_record_no)])
        self._copy(block.table, "block").write(chunk.encode("utf-8"))
        self.rows_by_table[block.table] += len(block.lines)

    def add_lines(self, lines: CopyLines) -> None:
        """Rows a reader already encoded as COPY text (record number and message guid first):
        the batch id goes in front of each line, and the text goes out in one
        write, in a COPY whose column list starts with the lineage."""
        if not lines.rows:
            return
        if self._buffers.get(lines.table):
            self._flush(lines.table)
        prefix = (self._lineage[1:] + "\t").encode("utf-8")
        text = lines.text
        self._copy(lines.table, "lines").write(prefix + text[:-1].replace(b"\n", b"\n" + prefix) + text[-1:])
        self.rows_by_table[lines.table] += lines.rows

    def _flush(self, table: str) -> None:
        rows = self._buffers.pop(table)
        chunk = self._encode(rows, len(self._columns[table]))
        self._copy(table, "rows").write(chunk)
        self.rows_by_table[table] += len(rows)

    def _copy(self, table: str, layout: str) -> psycopg.Copy:
        """The open COPY into the table, opened (and another one closed) when needed. Layouts:
        rows (columns then lineage, NULL as \\N), block (the same, an empty field is NULL),
        lines (lineage then columns, an empty field is NULL)."""
        key = (table, layout)
        if self._open is None or self._open[0] != key:
            self._close((None, None, None))
            columns = self._columns[table] + list(LINEAGE_COLUMNS)
            if layout == "lines":
                columns = list(LINEAGE_COLUMNS) + self._columns[table]
            cursor = self._conn.cursor()
            # A queued writer sends from its own thread, so encoding the next chunk overlaps with
            # the send; the server inserts meanwhile on its own core. Lines come in one write
            # per table, with nothing to overlap: a writer thread per COPY would only cost CPU.
            context = cursor.copy(sql.SQL("copy {}.{} ({}) from stdin{}").format(
                sql.Identifier(SCHEMA_RAW), sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL("" if layout == "rows" else " with (null '')")),
                writer=None if layout == "lines" else QueuedLibpqWriter(cursor))
            self._open = (key, context, context.__enter__())
        return self._open[2]

    def _close(self, exc: tuple) -> None:
        if self._open is not None:
            context, self._open = self._open[1], None
            context.__exit__(*exc)


def load_file(
    conn: psycopg.Connection,
    feed_name: str,
    path: Path,
    interval: tuple[datetime, datetime] | None = None,
    source: str | None = None,
    digest: str | None = None,
) -> BatchResult:
    """Load one source file into the raw layer as one batch (or skip it if already loaded).

    `source` names the origin in lineage when it is not the path itself (a replay, an SFTP
    file read from its local spool copy); `digest` is its sha256 when already computed.
    """
    feed, _folder = FEEDS[feed_name]
    source = source or str(path)
    return load_source(conn, feed_name, source, digest or sha256_of(path), lambda: feed.read(path, source),
                       path.read_bytes, interval)


def load_source(
    conn: psycopg.Connection,
    feed_name: str,
    source: str,
    digest: str,
    read: Callable[[], Iterable[Row | RecordDone | Rejected]],
    source_bytes: Callable[[], bytes],
    interval: tuple[datetime, datetime] | None = None,
) -> BatchResult:
    """Load one source (a file, an API page) as one batch in one transaction, exactly once.

    `read` yields the source's rows and rejections; `source_bytes` gives its content when the
    source as a whole must be quarantined.
    """
    started = time.monotonic()
    result = BatchResult(feed=feed_name, source=source, sha256=digest, status="loaded")
    start, end = interval or (None, None)
    with conn.transaction():
        # Serialise loads of the same content so two workers cannot both load it.
        conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{feed_name}:{digest}",))
        previous = conn.execute(
            f"select batch_id from {SCHEMA_AUDIT}.load_batch where feed = %s and source_sha256 = %s and status = 'loaded'",
            (feed_name, digest),
        ).fetchone()
        if previous:
            result.status = "skipped"
            result.batch_id = conn.execute(
                f"""insert into {SCHEMA_AUDIT}.load_batch
                    (feed, source, source_sha256, data_interval_start, data_interval_end, status,
                     skipped_reason, duplicate_of_batch_id, finished_at)
                    values (%s, %s, %s, %s, %s, 'skipped', 'same content already loaded', %s, now())
                    returning batch_id""",
                (feed_name, source, digest, start, end, previous[0]),
            ).fetchone()[0]
            result.seconds = time.monotonic() - started
            return result

        batch_id = conn.execute(
            f"""insert into {SCHEMA_AUDIT}.load_batch
                (feed, source, source_sha256, data_interval_start, data_interval_end, status)
                values (%s, %s, %s, %s, %s, 'running') returning batch_id""",
            (feed_name, source, digest, start, end),
        ).fetchone()[0]
        result.batch_id = batch_id
        rejected: list[Rejected] = []
        try:
            # A savepoint: a source rejected mid-way loses its partial rows.
            with conn.transaction(), _TableWriter(conn, batch_id, source) as writer, _gc_paused():
                add, loaded = writer.add, 0
                for item in read():
                    kind = type(item)
                    if kind is Row:
                        add(item)
                    elif kind is RecordDone:
                        loaded += 1
                    elif kind is CopyLines:
                        writer.add_lines(item)
                        loaded += item.records
                    elif kind is CopyBlock:
                        writer.add_block(item)
                        loaded += len(item.lines)
                    else:
                        rejected.append(item)
            result.loaded, result.received = loaded, loaded + len(rejected)
            result.rows_by_table = dict(writer.rows_by_table)
        except SourceRejected as exc:
            records = max(exc.records_seen, 1)
            result.received, result.loaded, result.rows_by_table = records, 0, {}
            rejected = []
            _quarantine_source(conn, batch_id, feed_name, source, source_bytes(), exc)
            result.quarantined = records
        else:
            _quarantine_records(conn, batch_id, feed_name, source, rejected)
            result.quarantined = len(rejected)
        conn.execute(
            f"""update {SCHEMA_AUDIT}.load_batch set status = 'loaded', records_received = %s,
                records_loaded = %s, records_quarantined = %s, rows_by_table = %s, finished_at = now()
                where batch_id = %s""",
            (result.received, result.loaded, result.quarantined, json.dumps(result.rows_by_table), batch_id),
        )
    result.seconds = time.monotonic() - started
    return result


def _quarantine_records(conn, batch_id: int, feed: str, source: str, rejected: list[Rejected]) -> None:
    if not rejected:
        return
    with conn.cursor().copy(
        f"copy {SCHEMA_AUDIT}.quarantine (batch_id, feed, source, record_no, record_key, field, rule, reason, raw_text) from stdin"
    ) as copy:
        for r in rejected:
            copy.write_row((batch_id, feed, source, r.record_no, r.record_key, r.field, r.rule, r.reason, r.raw_text))


def _quarantine_source(conn, batch_id: int, feed: str, source: str, content: bytes, exc: SourceRejected) -> None:
    conn.execute(
        f"""insert into {SCHEMA_AUDIT}.quarantine (batch_id, feed, source, record_no, rule, reason, raw_bytes)
            values (%s, %s, %s, null, %s, %s, %s)""",
        (batch_id, feed, source, exc.rule, exc.reason, content),
    )


def day_folders(names: list[str], start: datetime | None, end: datetime | None) -> list[str]:
    """The day folder names (YYYY-MM-DD) whose day falls in [start, end)."""
    days = []
    for name in names:
        try:
            day = datetime.strptime(name, "%Y-%m-%d").date()
        except ValueError:
            continue
        if (start is None or day >= start.date()) and (end is None or day < end.date()):
            days.append(name)
    return days


def ingest_partner(
    conn: psycopg.Connection,
    partner: str,
    landing: str | Path,
    interval: tuple[datetime, datetime] | None = None,
    workers: int = 1,
    warehouse: "WarehouseParams | None" = None,
) -> RunSummary:
    """Load every file of a partner's feeds whose day folder falls in the interval.

    `landing` is a local folder or an sftp:// URL; both are read through the same steps. With
    `workers` > 1 (a backfill of many days) the day folders are shared out among that many
    processes, each on its own connection to `warehouse` (the login `conn` uses): each file is
    still its own batch and transaction, so the result is the same files loaded exactly once.
    """
    summary = RunSummary()
    start, end = interval or (None, None)
    conn.commit()  # each file below is then its own committed transaction
    with open_landing(landing, partner) as location:
        days = [(feed_name, day) for feed_name in PARTNERS[partner]
                for day in day_folders(location.entries(FEEDS[feed_name][1])[0], start, end)]
        if workers <= 1 or len(days) <= 1:
            for feed_name, day in days:
                summary.batches += _load_day(conn, location, feed_name, day, interval)
    if workers > 1 and len(days) > 1:
        if warehouse is None:
            raise ValueError("ingest with workers > 1 needs the warehouse login its processes connect with")
        # Spawned, not forked: a worker must not inherit the caller's threads and sockets (an Airflow task's).
        with ProcessPoolExecutor(min(workers, len(days)), mp_context=multiprocessing.get_context("spawn")) as pool:
            jobs = [pool.submit(_ingest_day, warehouse, partner, str(landing), feed_name, day, interval,
                                log.getEffectiveLevel()) for feed_name, day in days]
            for job in jobs:
                summary.batches += job.result()
    log.info("ingest %s: %s", partner, summary.line())
    return summary


def _ingest_day(wh: "WarehouseParams", partner: str, landing: str, feed_name: str, day: str,
                interval: tuple[datetime, datetime] | None, log_level: int) -> list[BatchResult]:
    """One day folder of one feed, in a worker process with its own connection and landing."""
    from parkdw import warehouse

    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with warehouse.connect(warehouse=wh) as conn, open_landing(landing, partner) as location:
        return _load_day(conn, location, feed_name, day, interval)


def _load_day(conn: psycopg.Connection, location, feed_name: str, day: str,
              interval: tuple[datetime, datetime] | None) -> list[BatchResult]:
    """Load the files of one day folder of a feed, one batch each, in name order."""
    feed, folder = FEEDS[feed_name]
    batches = []
    for name in location.entries(f"{folder}/{day}")[1]:
        if not fnmatch.fnmatchcase(name, feed.pattern):
            continue
        try:  # a listed name (an SFTP server's) that would lead out of the landing
            check_relative(f"{folder}/{day}/{name}")
        except ValueError as exc:
            log.warning("%s: not read", exc)
            continue
        with location.fetch(f"{folder}/{day}/{name}") as (path, source, digest):
            result = load_file(conn, feed_name, path, interval, source, digest)
        batches.append(result)
        log.info(
            "%s %s: %s received=%d loaded=%d quarantined=%d (%.2fs)",
            feed_name, source, result.status, result.received, result.loaded,
            result.quarantined, result.seconds,
        )
    return batches
