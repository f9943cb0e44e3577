"""Ingest of the carriers' tracking API into raw.tracking_event, page by page, exactly once.

Position: a watermark (updated_since, the last (updated_at, event_id) loaded, the next cursor)
kept in audit.api_watermark and committed in the same transaction as the page's rows. A run
that dies mid-way resumes from the last committed page; events at or before the last loaded
key are never loaded twice. A run reads events updated before its data interval's end, so a
backfill of an interval does not run ahead of it.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack, closing
from datetime import datetime

import psycopg

from parkdw.ingest.feeds import TRACKING
from parkdw.ingest.loader import RunSummary, load_source
from parkdw.ingest.tracking_client import Attempt, TrackingClient
from parkdw.settings import SCHEMA_AUDIT

log = logging.getLogger(__name__)

START_OF_TIME = "2022-09-23T00:00:00Z"  # the park opened: nothing to read before it


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _before(event, until: datetime) -> bool:
    """Whether an event was updated before `until`. One whose updated_at is missing or no ISO
    instant counts as before: it is read, and the feed's checks quarantine it."""
    value = event.get("updated_at") if type(event) is dict else None
    if type(value) is not str:
        return True
    try:
        return _iso(value) < until
    except (ValueError, TypeError):  # (TypeError: a time without its offset)
        return True


def read_watermark(conn: psycopg.Connection, feed: str = TRACKING.name) -> dict:
    row = conn.execute(
        f"select updated_since, last_updated_at, last_event_id, next_cursor from {SCHEMA_AUDIT}.api_watermark "
        "where feed = %s", (feed,)).fetchone()
    if row is None:
        return {"updated_since": START_OF_TIME, "last_key": None, "cursor": None}
    last_key = (row[1], row[2]) if row[1] else None
    return {"updated_since": row[0], "last_key": last_key, "cursor": row[3]}


def _save_watermark(conn, feed: str, updated_since: str, last_key, cursor) -> None:
    conn.execute(
        f"""insert into {SCHEMA_AUDIT}.api_watermark (feed, updated_since, last_updated_at, last_event_id, next_cursor)
            values (%s, %s, %s, %s, %s)
            on conflict (feed) do update set updated_since = excluded.updated_since,
                last_updated_at = excluded.last_updated_at, last_event_id = excluded.last_event_id,
                next_cursor = excluded.next_cursor, updated_at = now()""",
        (feed, updated_since, *(last_key or (None, None)), cursor))


def ingest_tracking(
    conn: psycopg.Connection,
    client: TrackingClient,
    until: datetime | None = None,
    interval: tuple[datetime, datetime] | None = None,
    page_size: int = 1000,
) -> RunSummary:
    """Load every event updated after the watermark and before `until`, one batch per page.

    Pages of 1,000 events, the API's largest: each page is a request and a transaction, so the
    default 500 cost twice the round trips and commits for the same events."""
    summary = RunSummary()
    state = read_watermark(conn)
    conn.commit()  # each page below is then its own committed transaction (rows + watermark)
    last_key = tuple(state["last_key"]) if state["last_key"] else None
    updated_since = state["updated_since"]
    # closing(): a page the client asked for ahead is dropped before this returns or raises.
    with closing(client.pages(updated_since, state["cursor"], page_size)) as pages:
        for page in pages:
            events, reached_until = page.events, False
            # Pages come in updated_at order, so only a page whose last event is not before
            # `until` holds the first one that is not: the events from there on are left.
            if until is not None and events and not _before(events[-1], until):
                cut = next(n for n, event in enumerate(events) if not _before(event, until))
                events, reached_until = events[:cut], True
            # Events at or before the last loaded key were loaded already (a resumed run).
            fresh, newest = [], last_key
            for event in events:
                if type(event) is dict:
                    key = (event.get("updated_at"), event.get("event_id"))
                    if type(key[0]) is str and type(key[1]) is str:
                        if last_key is not None and key <= last_key:
                            continue
                        if newest is None or key > newest:
                            newest = key
                fresh.append(event)  # (an event without a usable key: the feed's checks quarantine it)
            with conn.transaction():
                if fresh:
                    result = load_source(conn, TRACKING.name, page.url, page.sha256,
                                         lambda: TRACKING.rows(fresh, page.url), lambda: b"", interval)
                    summary.batches.append(result)
                last_key = newest
                done = reached_until or not page.has_more
                if done and last_key:
                    updated_since = last_key[0]
                _save_watermark(conn, TRACKING.name, updated_since, last_key, None if done else page.next_cursor)
            if reached_until:
                break
    log.info("tracking: %s (watermark %s)", summary.line(), last_key)
    return summary


class AttemptRecorder:
    """An observer that writes each API attempt to audit.api_request, committed at once and
    apart from the page transactions (a failed attempt stays recorded when its page rolls back).

    One connection serves every attempt of a run: a connection per attempt cost a backend
    start each time, about a fifth of a month's logistics ingest (13,295 pages)."""

    def __init__(self, conn_factory) -> None:
        self._connect, self._conn, self._open = conn_factory, None, ExitStack()

    def __call__(self, attempt: Attempt) -> None:
        if self._conn is None or self._conn.broken:
            self.close()
            self._conn = self._open.enter_context(self._connect())
            self._conn.autocommit = True
        self._conn.execute(
            f"insert into {SCHEMA_AUDIT}.api_request (feed, url, http_status, outcome, seconds, waited_seconds) "
            "values (%s, %s, %s, %s, %s, %s)",
            (TRACKING.name, attempt.url, attempt.status, attempt.outcome, round(attempt.seconds, 3),
             round(attempt.waited, 3)))

    def close(self) -> None:
        self._conn = None
        self._open.close()


def record_attempts(conn_factory) -> AttemptRecorder:
    """The observer for TrackingClient: each attempt in audit.api_request (close it after the run)."""
    return AttemptRecorder(conn_factory)
