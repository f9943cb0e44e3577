"""Every case of the bad-input corpus through the real loaders: the file partners' ingest over a
landing folder, the tracking ingest against the sandbox API on loopback. Nothing crashes; each
case is loaded or quarantined as its index entry says, with a reason naming file, record and
field; the counts reconcile; no text is executed; nothing outside the landing is read."""

from __future__ import annotations

import random
import secrets
from collections import Counter
from datetime import datetime, timedelta

import pytest

from parkdw import pipeline, warehouse
from parkdw.ingest.feeds import all_raw_tables
from parkdw.ingest.landing import check_relative
from parkdw.ingest.tracking import ingest_tracking
from parkdw.ingest.tracking_client import TrackingClient
from parkdw.sandbox.api import TrackingApiServer

from bad_input_corpus import DAY, OUTSIDE_SECRET, write_corpus

CLIENT = {"client_id": "corpus", "client_secret": secrets.token_urlsafe(16)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, wh, empty_warehouse):
    base = tmp_path_factory.mktemp("corpus")
    root, outside = base / "landing", base / "outside"
    cases = write_corpus(root, outside)
    with warehouse.connect(warehouse=wh) as conn:
        empty_warehouse(conn)
    start = datetime.fromisoformat(DAY)
    # The ingest DAGs' task code (also what `parkdw ingest` runs), for each file partner, over the
    # corpus day and the next (whose folder is a symlink out of the landing).
    summaries = {p: pipeline.ingest(p, start, start + timedelta(days=2), source=str(root))
                 for p in ("customs", "payments", "reference")}
    with TrackingApiServer(root, port=0, rate_limit_per_second=500, burst=1000, **CLIENT) as server, \
            warehouse.connect(warehouse=wh) as conn:
        client = TrackingClient(server.url, CLIENT["client_id"], CLIENT["client_secret"], rng=random.Random(1))
        summaries["logistics"] = ingest_tracking(conn, client, page_size=4).as_dict()
        conn.commit()
    with warehouse.connect(warehouse=wh) as conn:
        yield {"cases": cases, "root": root, "summaries": summaries, "conn": conn}


def batches_of(conn, case, root) -> list[tuple]:
    if case.partner == "logistics":
        return []
    return conn.execute("""select status, records_received, records_loaded, records_quarantined, batch_id
                           from audit.load_batch where source = %s""", (str(root / case.path),)).fetchall()


def test_the_corpus_has_at_least_fifty_distinct_cases_across_the_three_partners(corpus):
    cases = corpus["cases"]
    assert len({c.name for c in cases}) == len(cases) >= 50
    by_partner = Counter(c.partner for c in cases)
    assert by_partner["customs"] >= 15 and by_partner["payments"] >= 15 and by_partner["logistics"] >= 8


def test_every_file_case_is_loaded_quarantined_or_refused_as_its_index_says(corpus):
    conn, root = corpus["conn"], corpus["root"]
    wrong = {}
    for case in corpus["cases"]:
        if case.partner == "logistics" or case.outcome == "not_read":
            continue
        batches = batches_of(conn, case, root)
        quarantined = conn.execute("""select rule, field, reason, record_no from audit.quarantine q
                                      join audit.load_batch b using (batch_id) where b.source = %s
                                      order by record_no""", (str(root / case.path),)).fetchall()
        got = (len(batches), batches[0][0] if batches else None,
               batches[0][2] if batches else None, len(quarantined))
        expected_quarantined = case.quarantined if case.outcome != "refused" else 1
        if got != (1, "loaded", case.loaded, expected_quarantined):
            wrong[case.name] = ("batches, status, loaded, quarantined", got, case)
            continue
        for rule, field, reason, record_no in quarantined:
            if rule != case.rule or (case.field and field != case.field) or str(root / case.path) not in reason:
                wrong[case.name] = (rule, field, reason[:300], case)
            elif case.outcome == "quarantined" and (f"record {record_no}" not in reason or
                                                   (field and field not in reason)):
                wrong[case.name] = ("reason names no record/field", reason[:300])
            elif case.outcome == "refused" and record_no is not None:
                wrong[case.name] = ("a refused file is quarantined whole", record_no)
    assert wrong == {}


def test_every_api_event_case_is_loaded_or_quarantined_as_its_index_says(corpus):
    conn = corpus["conn"]
    wrong = {}
    for case in corpus["cases"]:
        if case.partner != "logistics":
            continue
        loaded = conn.execute("select count(*) from raw.tracking_event where event_id = %s", (case.path,)).fetchone()[0]
        quarantine = conn.execute("select rule, field, reason from audit.quarantine where feed = 'tracking' "
                                  "and record_key = %s", (case.path,)).fetchall()
        if (loaded, len(quarantine)) != (case.loaded, case.quarantined):
            wrong[case.name] = (loaded, quarantine)
        elif quarantine:
            rule, field, reason = quarantine[0]
            if (rule, field) != (case.rule, case.field) or "/v1/tracking-events?" not in reason or \
                    f"field {field}" not in reason or "record " not in reason:
                wrong[case.name] = quarantine[0]
    assert wrong == {}


def test_counts_reconcile_for_every_batch_and_every_run(corpus):
    conn, summaries = corpus["conn"], corpus["summaries"]
    unbalanced = conn.execute("""select b.source, b.records_received, b.records_loaded, b.records_quarantined,
                                        (select count(*) from audit.quarantine q where q.batch_id = b.batch_id)
                                 from audit.load_batch b where b.status = 'loaded'
                                   and (b.records_received <> b.records_loaded + b.records_quarantined
                                        or (b.records_quarantined > 0) <> exists (
                                            select from audit.quarantine q where q.batch_id = b.batch_id))""").fetchall()
    assert unbalanced == []
    for partner, summary in summaries.items():
        assert summary["received"] == summary["loaded"] + summary["quarantined"] > 0, partner
    # Raw rows trace to loaded batches: payments rows are one per loaded record.
    rows, loaded = conn.execute("""select (select count(*) from raw.payment_settlement),
                                          (select sum(records_loaded) from audit.load_batch where feed = 'payments')""").fetchone()
    assert rows == loaded


def test_text_is_stored_verbatim_and_never_executed(corpus):
    conn = corpus["conn"]
    tables = {r[0] for r in conn.execute("select table_name from information_schema.tables where table_schema = 'raw'")}
    assert tables == set(all_raw_tables())  # the injected "drop table" did nothing
    missing = []
    for case in corpus["cases"]:
        for text in case.verbatim:
            found = conn.execute("""select exists (select from raw.payment_settlement s where %(t)s in (s.order_no, s.ebp_code))
                                        or exists (select from raw.ceb_inventory_head h where %(t)s in (h.ebp_name, h.ebc_name, h.agent_name))
                                        or exists (select from raw.tracking_event e where e.description = %(t)s)""",
                                 {"t": text}).fetchone()[0]
            if not found:
                missing.append((case.name, text))
    assert missing == []
    conn.rollback()


def test_path_tricks_never_read_outside_the_landing(corpus):
    conn, root = corpus["conn"], corpus["root"]
    outside = conn.execute("""select source from audit.load_batch where feed <> 'tracking' and source not like %s""",
                           (f"{root}/%",)).fetchall()
    leaked = conn.execute("""select (select count(*) from raw.payment_settlement where order_no like %(s)s)
                                  + (select count(*) from audit.quarantine where raw_text like %(s)s
                                     or position(convert_to(%(t)s, 'UTF8') in coalesce(raw_bytes, '')) > 0)""",
                          {"s": f"%{OUTSIDE_SECRET}%", "t": OUTSIDE_SECRET}).fetchone()[0]
    assert (outside, leaked) == ([], 0)
    for case in corpus["cases"]:
        if case.outcome == "not_read":
            assert batches_of(conn, case, root) == [], case.name
    # Names a remote listing (SFTP) could return are refused before anything is fetched.
    for name in ("../../etc/passwd", "/etc/passwd", "payments/2024-11-11/../../x.csv", "a\x00b.csv", "a\\..\\b",
                 "payments//x.csv", ""):
        with pytest.raises(ValueError, match="not a plain path below the landing root"):
            check_relative(name)
    assert check_relative("payments/2024-11-11/settlement_..csv") == "payments/2024-11-11/settlement_..csv"
