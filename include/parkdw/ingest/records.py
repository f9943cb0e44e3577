"""What a source reader yields to the loader: rows for raw tables, or rejected records."""

from __future__ import annotations

from typing import NamedTuple

# Named tuples, not dataclasses: a million-row file makes two of these per record, and a
# named tuple is several times cheaper to create (and just as immutable).


class Row(NamedTuple):
    """One raw-table row. A source record may produce several (a head and its list lines)."""

    table: str
    values: tuple
    record_no: int
    message_guid: str | None = None


class CopyBlock(NamedTuple):
    """Consecutive records already checked and written as COPY text, one line each (no newline):
    the delivered columns tab-separated, an empty field for NULL, nothing that needs escaping.
    Their record numbers run from first_record_no; each is one row of `table`, loaded."""

    table: str
    lines: list[str]
    first_record_no: int


class CopyLines(NamedTuple):
    """Rows of one raw table already encoded as COPY text (UTF-8, escaped, an empty field for
    NULL: the readers never deliver an empty string), one line each ending in a newline:
    `_record_no`, `_message_guid`, then the delivered columns, tab-separated. The loader puts
    the batch's lineage in front of each line. `records` counts the source records these lines
    complete (loaded): a message's heads carry them, its list lines none."""

    table: str
    text: bytes
    rows: int
    records: int


class RecordDone(NamedTuple):
    """Marks the end of one source record whose rows were all yielded (counts it as loaded)."""

    record_no: int


class Rejected(NamedTuple):
    """A record that cannot be loaded; it goes to quarantine with its raw text and reason."""

    record_no: int
    rule: str
    reason: str
    field: str | None = None
    record_key: str | None = None
    raw_text: str | None = None


class SourceRejected(Exception):
    """The whole source (file or page) is unusable: not well-formed, wrong root, hostile.

    Raised by a reader; the loader rolls back what the source produced and quarantines the
    source as a whole, with its bytes, so nothing is lost.
    """

    def __init__(self, rule: str, reason: str, records_seen: int = 0) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason
        self.records_seen = records_seen
