"""The partner feeds the warehouse ingests: their raw tables and how their files are read."""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import json
import operator
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterator

from parkdw.ceb import spec
from parkdw.ceb.reader import read_ceb_message
from parkdw.ingest.records import CopyBlock, CopyLines, RecordDone, Rejected, Row, SourceRejected

# A delivered value longer than this is not data but a defect (or an attack): its record is
# quarantined rather than carried into the warehouse.
MAX_FIELD_CHARS = 10_000
_MAX_RAW_TEXT = 1_000_000  # characters of a rejected record kept in quarantine
csv.field_size_limit(64 * MAX_FIELD_CHARS)  # read an oversized field, so it is quarantined by record

# re.ASCII: \d is 0-9 only, what PostgreSQL casts; Python's own \d also takes other scripts'
# digits (Arabic-Indic, full-width), which passed here and then could not be cast in staging.
_DECIMAL = re.compile(r"-?\d+(\.\d+)?", re.ASCII)  # what staging casts to numeric as it is
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)", re.ASCII)
_CURRENCY = re.compile(r"[A-Z]{3}")
_CURRENCY_PAIR = re.compile(r"(\d+)?[A-Z]{3}/CNY", re.ASCII)

# The same formats as patterns that are exact without a calendar: days up to the 28th, hours and
# offsets in range. A row whose typed values all match in one regex call passes; any other (a
# 29th-31st, a NULL, a bad value) is checked value by value below.
_SURE_DATE = r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])"
_SURE_PATTERNS = {  # (no capturing groups: they slow the block layout regex several times over)
    "decimal": r"-?\d+(?:\.\d+)?",
    "date": _SURE_DATE,
    "instant": _SURE_DATE + r"[T ](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)",
    "currency": _CURRENCY.pattern,
    "currency_pair": r"\d*[A-Z]{3}/CNY",
}


def _is_date(value: str) -> bool:
    if not _ISO_DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_instant(value: str) -> bool:
    if not _ISO_INSTANT.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# Value formats a feed can require of a column: (check, what the value must be, for the reason).
# Staging casts these columns, so a value that breaks its format is quarantined at the door
# instead of becoming a NULL, or an error that stops the transform.
FORMATS: dict[str, tuple[Callable[[str], bool], str]] = {
    "decimal": (lambda v: _DECIMAL.fullmatch(v) is not None, "a decimal number like 1234.56"),
    "date": (_is_date, "a date YYYY-MM-DD"),
    "instant": (_is_instant, "an ISO 8601 time with its UTC offset"),
    "currency": (lambda v: _CURRENCY.fullmatch(v) is not None, "an ISO 4217 code of three capital letters"),
    "currency_pair": (lambda v: _CURRENCY_PAIR.fullmatch(v) is not None, "a quote like USD/CNY or 100JPY/CNY"),
}


def _tuple_getter(indexes: list[int]) -> Callable[[tuple], tuple]:
    """operator.itemgetter of these indexes, returning a tuple for one index or none too (an
    itemgetter of one index returns the value itself, and takes no fewer)."""
    if len(indexes) < 2:
        return lambda values: tuple(values[i] for i in indexes)
    return operator.itemgetter(*indexes)


def _all_surely_valid(formats: tuple[tuple[str, str], ...], columns: tuple[str, ...]):
    """One call per row: whether every typed value is surely valid (False means: check each)."""
    if not formats:
        return lambda values: True
    typed = _tuple_getter([columns.index(c) for c, _kind in formats])
    match = re.compile("\x1f".join(f"(?:{_SURE_PATTERNS[kind]})" for _c, kind in formats), re.ASCII).fullmatch

    def valid(values) -> bool:
        typed_values = typed(values)
        return None not in typed_values and match("\x1f".join(typed_values)) is not None
    return valid


def oversized_field(columns, values) -> str | None:
    """The first column whose value is longer than MAX_FIELD_CHARS, else None."""
    return next((c for c, v in zip(columns, values) if v is not None and len(v) > MAX_FIELD_CHARS), None)


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:60] + "...") + (f" ({len(value):,} characters)" if len(value) > 60 else "")


@dataclass(frozen=True)
class CsvFeed:
    """A delimited partner file: one raw row per data line, columns as delivered (text)."""

    name: str
    table: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    key: str  # column that identifies a record in error messages
    pattern: str  # glob of the feed's files inside a day folder
    formats: tuple[tuple[str, str], ...] = ()  # (column, FORMATS name) the values must match

    def read(self, path: Path, source: str | None = None) -> Iterator[Row | RecordDone | Rejected]:
        return read_csv_file(self, path, source or str(path))


@dataclass(frozen=True)
class CebFeed:
    """CEB export XML messages from the China E-port exchange."""

    name: str = "customs"
    pattern: str = "*.xml"

    def read(self, path: Path, source: str | None = None) -> Iterator[Row | CopyLines | RecordDone | Rejected]:
        return read_ceb_message(path, source)


REGISTRY = CsvFeed(
    name="registry",
    table="registry_enterprise",
    columns=(
        "credit_code", "customs_code", "enterprise_name", "enterprise_type",
        "entry_date", "status", "status_date",
    ),
    required=("credit_code", "enterprise_type", "entry_date", "status"),
    key="credit_code",
    pattern="park_enterprises*.csv",
    formats=(("entry_date", "date"), ("status_date", "date")),
)

FX = CsvFeed(
    name="fx",
    table="fx_central_parity",
    columns=("rate_date", "currency_pair", "rate"),
    required=("rate_date", "currency_pair", "rate"),
    key="currency_pair",
    pattern="cny_central_parity*.csv",
    formats=(("rate_date", "date"), ("currency_pair", "currency_pair"), ("rate", "decimal")),
)

COUNTRIES = CsvFeed(
    name="countries",
    table="reference_country",
    columns=(
        "customs_code", "iso_alpha2", "iso_alpha3", "iso_numeric", "name_en", "name_zh", "region",
        "asean_member", "asean_since", "rcep_member", "rcep_in_force_since",
        "bri_member", "bri_valid_from", "bri_valid_to", "bri_confidence", "as_of",
    ),
    required=("customs_code", "name_zh", "region", "asean_member", "rcep_member", "bri_member"),
    key="customs_code",
    pattern="countries*.csv",
)

SETTLEMENTS = CsvFeed(
    name="payments",
    table="payment_settlement",
    columns=(
        "record_id", "settlement_date", "transaction_type", "pay_no", "original_pay_no", "order_no",
        "ebp_code", "ebc_code", "transaction_time", "currency", "gross_amount", "fee_amount", "net_amount",
        "fx_rate", "rate_type", "settlement_currency", "settlement_amount_cny",
    ),
    required=("record_id", "settlement_date", "transaction_type", "pay_no", "currency", "gross_amount",
              "fee_amount", "net_amount", "fx_rate", "settlement_amount_cny"),
    key="record_id",
    pattern="settlement_*.csv",
    formats=(("settlement_date", "date"), ("transaction_time", "instant"), ("currency", "currency"),
             ("gross_amount", "decimal"), ("fee_amount", "decimal"), ("net_amount", "decimal"),
             ("fx_rate", "decimal"), ("settlement_currency", "currency"), ("settlement_amount_cny", "decimal")),
)

@dataclass(frozen=True)
class ApiEventsFeed:
    """JSON events from a partner API page: one raw row per event, values as delivered (text)."""

    name: str
    table: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    key: str
    formats: tuple[tuple[str, str], ...] = ()  # (column, FORMATS name) the values must match

    def rows(self, events: list, source: str) -> Iterator[Row | RecordDone | Rejected]:
        columns, table = self.columns, self.table
        required = _tuple_getter([self.columns.index(c) for c in self.required])
        formatted = [(self.columns.index(c), FORMATS[f][0]) for c, f in self.formats]
        surely_valid = _all_surely_valid(self.formats, self.columns)
        for record_no, event in enumerate(events, start=1):
            if type(event) is dict:
                # The usual event, accepted in one pass: all text, required values there, short
                # enough, no NUL, formats hold (surely, by one regex call for all of them, else
                # value by value). Anything else takes the checks below, which name the field
                # (and only then is the event serialised for the quarantine).
                values = tuple(map(event.get, columns))
                try:
                    text = "".join([v for v in values if v is not None])
                except TypeError:
                    text = None
                if (text is not None and len(text) <= MAX_FIELD_CHARS and "\x00" not in text
                        and all(required(values))
                        and (surely_valid(values) or all(check(values[i]) for i, check in formatted
                                                         if values[i] is not None))):
                    yield Row(table, values, record_no)
                    yield RecordDone(record_no)
                    continue
            if not isinstance(event, dict):
                yield Rejected(record_no, "not_an_object", f"{source}: record {record_no}: not a JSON object",
                               raw_text=str(event)[:10_000])
                continue
            key = event.get(self.key)
            raw_text = json.dumps(event, ensure_ascii=False, sort_keys=True)
            empty = [c for c in self.required if event.get(c) in (None, "")]
            if empty:
                yield Rejected(record_no, "required", f"{source}: record {record_no} ({self.key}={key}): "
                               f"field {empty[0]} is required but empty", field=empty[0], record_key=key,
                               raw_text=raw_text)
                continue
            problem = self._problem(event)
            if problem:
                rule, column, detail = problem
                yield Rejected(record_no, rule, f"{source}: record {record_no} ({self.key}={_shown(str(key))}): "
                               f"field {column}: {detail}", field=column, record_key=str(key)[:200],
                               raw_text=raw_text[:_MAX_RAW_TEXT])
                continue
            values = tuple(event.get(c) for c in self.columns)
            yield Row(self.table, values, record_no)
            yield RecordDone(record_no)

    def _problem(self, event: dict) -> tuple[str, str, str] | None:
        """(rule, field, what is wrong) of the first value that is no text, too long, holds a NUL or
        breaks its column's format; None when the event can be loaded as delivered."""
        formats = dict(self.formats)
        for column in self.columns:
            value = event.get(column)
            if value is None:
                continue
            if not isinstance(value, str):
                return "type", column, f"{type(value).__name__} {_shown(json.dumps(value))} is not a string"
            if len(value) > MAX_FIELD_CHARS:
                return "oversized", column, f"{_shown(value)} longer than {MAX_FIELD_CHARS:,} characters"
            if "\x00" in value:
                return "nul_character", column, "contains a NUL character"
            if column in formats:
                check, expected = FORMATS[formats[column]]
                if not check(value):
                    return "format", column, f"{_shown(value)} is not {expected}"
        return None


TRACKING = ApiEventsFeed(
    name="tracking",
    table="tracking_event",
    columns=("event_id", "event_kind", "event_code", "event_time", "location", "logistics_no",
             "consignment_no", "container_no", "transport_mode", "vehicle_name", "voyage_no", "description",
             "updated_at"),
    required=("event_id", "event_kind", "event_code", "event_time", "updated_at"),
    key="event_id",
    formats=(("event_time", "instant"), ("updated_at", "instant")),
)

CUSTOMS = CebFeed()

# Feed name -> (feed, folder under the landing root that holds its day folders).
FEEDS: dict[str, tuple[CsvFeed | CebFeed, str]] = {
    "customs": (CUSTOMS, "customs"),
    "registry": (REGISTRY, "reference/registry"),
    "fx": (FX, "reference/fx"),
    "countries": (COUNTRIES, "reference/countries"),
    "payments": (SETTLEMENTS, "payments"),
}

# The CLI/DAG partner names and the feeds each one covers.
PARTNERS: dict[str, tuple[str, ...]] = {
    "customs": ("customs",),
    "reference": ("registry", "fx", "countries"),
    "payments": ("payments",),
}


def all_raw_tables() -> dict[str, list[str]]:
    """Every raw table and its delivered columns (lineage columns are added by the DDL)."""
    return {table: list(columns) for table, columns in _raw_tables().items()}


@functools.cache
def _raw_tables() -> dict[str, list[str]]:
    # (built once: the loader asks for every source, and spec's names are derived with regexes)
    tables: dict[str, list[str]] = {}
    for kind in spec.MESSAGE_ENTITIES.values():
        tables[kind.head_table] = spec.head_columns(kind)
        if kind.line:
            tables[kind.line_table] = spec.line_columns(kind)
    for feed in (REGISTRY, FX, COUNTRIES, SETTLEMENTS, TRACKING):
        tables[feed.table] = list(feed.columns)
    return tables


def _decode_text(path: Path) -> tuple[io.TextIOBase, str]:
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head.startswith(codecs.BOM_UTF8):
        return open(path, encoding="utf-8-sig", newline=""), "utf-8-sig"
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for _ in iter(lambda: f.read(1 << 20), ""):
                pass
        return open(path, encoding="utf-8", newline=""), "utf-8"
    except UnicodeDecodeError:
        return open(path, encoding="gb18030", newline=""), "gbk"


def _csv_records(lines: Iterator[str], more: Iterator[str], line_no: int) -> Iterator[tuple[int, list[str], bool, bool]]:
    """(last line number, fields, whether it holds a NUL, whether it is longer than
    MAX_FIELD_CHARS) of each CSV record in `lines`, numbering lines on from
    line_no. A line without quotes (or NUL) is split on commas, exactly what the csv module
    would make of it and faster; any other line goes to the csv module, which reads on from
    the same lines (and then from `more`) when a quoted field spans several."""
    for line in lines:
        line_no += 1
        if '"' in line or "\x00" in line:
            parser = csv.reader(itertools.chain((line,), lines, more))
            fields = next(parser)
            line_no += parser.line_num - 1
            yield line_no, fields, any("\x00" in f for f in fields), sum(map(len, fields)) > MAX_FIELD_CHARS
        else:
            long = len(line) > MAX_FIELD_CHARS
            line = line.rstrip("\r\n")
            yield line_no, line.split(",") if line else [], False, long


BLOCK_CHARS = 1 << 20  # text read per block of lines (bounded memory, few Python calls per row)
# Characters that rule a block out of the fast path: quotes (csv quoting), what COPY text would
# need escaped, NUL, and ASCII whitespace other than space and newline (str.strip would strip
# it). Non-ASCII blocks are also searched for any other Unicode whitespace.
_NOT_FAST = ('"', "\t", "\\", "\x00", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")
_ODD_SPACE = re.compile(r"[^\S \n]")
_EDGE_SPACE = (" ,", ", ", " \n", "\n ")


def _fast_lines(block: str, layout: re.Pattern) -> list[str] | None:
    """The block's records as COPY text lines, or None when any line needs the record-by-record
    path. `layout` matches whole lines of exactly the header's fields with every required
    field non-empty; the checks before it leave only lines that splitting on commas, stripping
    and NULL for empty would not change: no quotes, no CR but in CRLF, no tab, backslash or NUL,
    no whitespace at a field's edge."""
    if "\r" in block:
        if block.count("\r") != block.count("\r\n"):
            return None
        block = block.replace("\r\n", "\n")
    if not block.endswith("\n"):
        block += "\n"
    for char in _NOT_FAST:
        if char in block:
            return None
    if not block.isascii() and _ODD_SPACE.search(block):
        return None
    if " " in block and (block[0] == " " or any(edge in block for edge in _EDGE_SPACE)):
        return None
    if not layout.fullmatch(block):
        return None
    lines = block.replace(",", "\t").split("\n")
    lines.pop()  # after the last newline
    return lines


def read_csv_file(feed: CsvFeed, path: Path, source: str) -> Iterator[Row | CopyBlock | RecordDone | Rejected]:
    """The file's records: blocks of plain lines whose header is exactly the feed's columns go
    through as COPY text (CopyBlock) after whole-block checks; any other block, and every
    block of a file with another header, record by record (Row, Rejected) with the same rules."""
    text, _encoding = _decode_text(path)
    with text:
        try:
            try:
                line_no, header, _nul, _long = next(_csv_records(text, iter(()), 0))
            except StopIteration:
                raise SourceRejected("empty_file", f"{source}: empty file, expected header {','.join(feed.columns)}")
            header = [h.strip() for h in header]
            missing = [c for c in feed.columns if c not in header]
            if missing:
                raise SourceRejected(
                    "header", f"{source}: header lacks column(s) {', '.join(missing)} (found: {','.join(header)})"
                )
            pick = operator.itemgetter(*(header.index(c) for c in feed.columns))  # feed order; extras dropped
            width = len(header)
            key_at = feed.columns.index(feed.key)
            required = [(i, c) for i, c in enumerate(feed.columns) if c in feed.required]
            required_values = _tuple_getter([i for i, _c in required])
            layout = _layout(feed) if tuple(header) == feed.columns else None
            table = feed.table
            checks = [(feed.columns.index(c), c, *FORMATS[kind]) for c, kind in feed.formats]
            surely_valid = _all_surely_valid(feed.formats, feed.columns)
            record_no = 0
            while block := text.read(BLOCK_CHARS):
                if not block.endswith("\n"):
                    block += text.readline()  # whole lines only (after a CR, its LF)
                lines = _fast_lines(block, layout) if layout is not None else None
                if lines is not None and max(map(len, lines), default=0) > MAX_FIELD_CHARS:
                    lines = None  # a line that long may hold an oversized field
                if lines is not None:
                    yield CopyBlock(table, lines, record_no + 1)
                    record_no += len(lines)
                    line_no += len(lines)
                    continue
                for line_no, fields, nul, long in _csv_records(io.StringIO(block, newline=""), text, line_no):
                    if not fields:  # blank lines are not records
                        continue
                    record_no += 1
                    if nul:  # PostgreSQL text cannot hold a NUL character
                        at = next(i for i, f in enumerate(fields) if "\x00" in f)
                        column = header[at] if at < width else f"#{at + 1} (beyond the header)"
                        yield Rejected(record_no, "nul_character", f"{source}: record {record_no} (line {line_no}): "
                                       f"field {column}: contains a NUL character", field=column,
                                       raw_text=",".join(fields).replace("\x00", "\\x00")[:_MAX_RAW_TEXT])
                        continue
                    if len(fields) != width:
                        yield Rejected(record_no, "field_count", f"{source}: record {record_no} (line {line_no}): "
                                       f"{len(fields)} fields, header has {width}",
                                       raw_text=",".join(fields)[:_MAX_RAW_TEXT])
                        continue
                    values = tuple(map(str.strip, pick(fields)))
                    if "" in values:  # an empty field is NULL
                        values = tuple([v or None for v in values])
                        if None in required_values(values):
                            empty = [c for i, c in required if values[i] is None]
                            key = values[key_at]
                            yield Rejected(record_no, "required", f"{source}: record {record_no} ({feed.key}={key}, "
                                           f"line {line_no}): field {empty[0]} is required but empty",
                                           field=empty[0], record_key=key, raw_text=",".join(fields)[:_MAX_RAW_TEXT])
                            continue
                    broken = None
                    if long:
                        column = oversized_field(feed.columns, values)
                        if column:
                            broken = "oversized", column, f"longer than {MAX_FIELD_CHARS:,} characters"
                    for i, column, check, expected in () if surely_valid(values) else checks:
                        if broken:
                            break
                        value = values[i]
                        if value is not None and not check(value):
                            broken = "format", column, f"is not {expected}"
                    if broken:
                        rule, column, problem = broken
                        key = values[key_at]
                        yield Rejected(record_no, rule, f"{source}: record {record_no} ({feed.key}="
                                       f"{_shown(key) if key else key}, line {line_no}): field {column}: "
                                       f"{_shown(values[feed.columns.index(column)])} {problem}", field=column,
                                       record_key=key, raw_text=",".join(fields)[:_MAX_RAW_TEXT])
                        continue
                    yield Row(table, values, record_no)
                    yield RecordDone(record_no)
        except csv.Error as exc:
            raise SourceRejected("malformed_csv", f"{source}: not a readable CSV file: {exc}") from exc
        except UnicodeDecodeError as exc:  # neither valid UTF-8 nor valid GB18030
            raise SourceRejected("bad_encoding", f"{source}: bytes are neither UTF-8 nor GBK/GB18030 text: "
                                 f"{exc.reason} at byte {exc.start} of a chunk") from exc


@functools.cache
def _layout(feed: CsvFeed) -> re.Pattern:
    """Whole lines of the feed's columns in order, required ones non-empty, typed ones surely
    valid in their format (else the block goes record by record)."""
    formats = dict(feed.formats)
    fields = []
    for c in feed.columns:
        if c in formats:
            value = f"(?:{_SURE_PATTERNS[formats[c]]})"
            fields.append(value if c in feed.required else f"(?:{value})?")
        else:
            fields.append("[^,\n]+" if c in feed.required else "[^,\n]*")
    return re.compile("(?:" + ",".join(fields) + "\n)*", re.ASCII)
