"""Quarantine: list what was rejected, and replay records or files an operator has fixed.

A replay goes through the same loader as any partner file (same checks, same lineage): the
fixed record is wrapped back into its feed's format (a CEB message or a CSV with its header),
loaded as a new batch, and the quarantine row points at that batch.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import psycopg
from lxml import etree

from parkdw.ceb import spec
from parkdw.ingest.feeds import FEEDS, CsvFeed
from parkdw.ingest.loader import BatchResult, load_file
from parkdw.settings import SCHEMA_AUDIT

_ENTITY_MESSAGE = {kind.entity: message for message, kind in spec.MESSAGE_ENTITIES.items()}


def list_quarantine(conn: psycopg.Connection, feed: str | None = None, limit: int = 20) -> tuple[list, list]:
    """Counts by feed and rule (not yet replayed), and the latest records."""
    where = "where replayed_batch_id is null" + (" and feed = %(feed)s" if feed else "")
    counts = conn.execute(
        f"select feed, rule, count(*) from {SCHEMA_AUDIT}.quarantine {where} group by 1, 2 order by 3 desc",
        {"feed": feed}).fetchall()
    latest = conn.execute(
        f"""select quarantine_id, feed, rule, field, record_key, left(reason, 200) from {SCHEMA_AUDIT}.quarantine
            {where} order by quarantine_id desc limit %(limit)s""", {"feed": feed, "limit": limit}).fetchall()
    return counts, latest


def quarantined_content(conn: psycopg.Connection, quarantine_id: int) -> bytes:
    """The rejected record's text (or the whole file's bytes), for an operator to fix."""
    row = conn.execute(f"select raw_text, raw_bytes from {SCHEMA_AUDIT}.quarantine where quarantine_id = %s",
                       (quarantine_id,)).fetchone()
    if row is None:
        raise LookupError(f"no quarantined record {quarantine_id}")
    return row[1] if row[1] is not None else (row[0] or "").encode("utf-8")


def replay(conn: psycopg.Connection, quarantine_id: int, fixed: Path) -> BatchResult:
    """Load a fixed version of a quarantined record or file as a new batch."""
    row = conn.execute(
        f"select feed, record_no, replayed_batch_id from {SCHEMA_AUDIT}.quarantine where quarantine_id = %s",
        (quarantine_id,)).fetchone()
    if row is None:
        raise LookupError(f"no quarantined record {quarantine_id}")
    feed_name, record_no, replayed = row
    if replayed is not None:
        raise ValueError(f"quarantined record {quarantine_id} was already replayed as batch {replayed}")
    feed, _ = FEEDS[feed_name]
    with tempfile.TemporaryDirectory(prefix="parkdw-replay-") as tmp:
        path = fixed
        if record_no is not None:  # a single record: rebuild a file around it
            path = Path(tmp) / f"replay_{quarantine_id}{fixed.suffix or '.txt'}"
            path.write_bytes(_wrap_record(feed, fixed.read_bytes()))
        result = load_file(conn, feed_name, path, source=f"replay of quarantine {quarantine_id}: {fixed}")
    if result.status == "loaded" and result.quarantined == 0:
        conn.execute(f"update {SCHEMA_AUDIT}.quarantine set replayed_batch_id = %s where quarantine_id = %s",
                     (result.batch_id, quarantine_id))
    return result


def _wrap_record(feed, record: bytes) -> bytes:
    if isinstance(feed, CsvFeed):
        return (",".join(feed.columns) + "\n").encode() + record.strip() + b"\n"
    document = etree.fromstring(record, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    entity = etree.QName(document).localname
    if entity not in _ENTITY_MESSAGE:
        raise ValueError(f"a replayed CEB record must be one of {', '.join(_ENTITY_MESSAGE)}, not {entity}")
    message = _ENTITY_MESSAGE[entity]
    body = etree.tostring(document, encoding="unicode")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ceb:{message} xmlns:ceb="{spec.CEB_NS}" '
            f'guid="00000000-0000-0000-0000-000000000000" version="1.0">{body}</ceb:{message}>\n').encode("utf-8")
