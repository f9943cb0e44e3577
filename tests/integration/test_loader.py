"""The raw loader against the real PostgreSQL and the sandbox's files."""

import csv
import hashlib
import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from parkdw.ingest import loader
from parkdw.ingest.feeds import FEEDS, PARTNERS
from parkdw.ingest.loader import ingest_partner, load_file
from parkdw.ingest.records import Rejected


def utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def truth_of(landing_dir, day: date) -> dict:
    return json.loads((landing_dir / "_truth" / f"{day.isoformat()}.json").read_text())


def test_a_day_lands_with_correct_counts_and_lineage(conn, clean_landing):
    cfg, out = clean_landing
    day = cfg.end
    summary = ingest_partner(conn, "customs", out, (utc(day), utc(date(2024, 11, 12))))
    conn.commit()
    truth = truth_of(out, day)
    assert summary.as_dict()["quarantined"] == 0
    heads = conn.execute("select count(*), count(distinct _batch_id) from raw.ceb_inventory_head").fetchone()
    assert heads[0] == truth["inventories"]
    assert conn.execute("select count(*) from raw.ceb_inventory_list").fetchone()[0] == truth["inventory_lines"]
    assert conn.execute("select count(*) from raw.ceb_order_head").fetchone()[0] == truth["orders"]
    # Lineage: every row names its loaded batch (which names the file and its checksum) and its
    # record number; the audit reconciles.
    bad = conn.execute("""
        select count(*) from raw.ceb_inventory_list r
        left join audit.load_batch b on b.batch_id = r._batch_id and b.status = 'loaded' and b.feed = 'customs'
        where b.batch_id is null or r._record_no < 1""").fetchone()[0]
    assert bad == 0
    received, loaded, quarantined = conn.execute(
        "select sum(records_received), sum(records_loaded), sum(records_quarantined) from audit.load_batch").fetchone()
    assert received == loaded + quarantined == summary.count("received")
    replies = conn.execute("select count(*) from raw.ceb_inventory_return").fetchone()[0]
    receipts, waybills, bills, summaries, results = (conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in (
        "ceb_receipts", "ceb_logistics", "ceb_way_bill_head", "ceb_summary_apply_head", "ceb_summary_result_head"))
    assert receipts == waybills == truth["orders"]
    assert bills > 0 and summaries > 0 and results > 0
    assert loaded == truth["orders"] * 3 + truth["inventories"] + replies + bills + summaries + results


def test_second_run_of_the_same_interval_adds_nothing(conn, landing):
    cfg, out = landing
    interval = (utc(cfg.start), utc(date(2024, 11, 12)))
    first = ingest_partner(conn, "customs", out, interval)
    conn.commit()
    before = conn.execute("select count(*) from raw.ceb_inventory_list").fetchone()[0]
    second = ingest_partner(conn, "customs", out, interval)
    conn.commit()
    assert first.skipped == 0 and first.count("loaded") > 0
    assert second.skipped == len(second.batches) == len(first.batches)
    assert second.count("loaded") == 0
    assert conn.execute("select count(*) from raw.ceb_inventory_list").fetchone()[0] == before
    skipped = conn.execute("select count(*) from audit.load_batch where status = 'skipped' "
                           "and duplicate_of_batch_id is not null").fetchone()[0]
    assert skipped == len(first.batches)


def test_every_injected_defect_is_loaded_or_quarantined_as_the_manifest_says(conn, landing):
    from parkdw.sandbox.generate import load_defects

    cfg, out = landing
    summary = ingest_partner(conn, "customs", out)
    conn.commit()
    defects = load_defects(out)
    expected_files = {str(out / d["file"]) for d in defects if d["expect"] == "quarantined_file"}
    expected_docs = {d["guid"] for d in defects if d["expect"] == "quarantined"}
    assert expected_files and expected_docs
    files = {r[0] for r in conn.execute("select source from audit.quarantine where record_no is null")}
    docs = {r[0]: r[1] for r in conn.execute("select record_key, rule from audit.quarantine where record_no is not null")}
    assert files == expected_files
    assert set(docs) == expected_docs and set(docs.values()) <= {"xsd", "positive_amount"}
    # Each malformed file's intact resend loaded; GBK and BOM files loaded.
    for d in defects:
        if d["defect"] == "malformed_file":
            assert conn.execute("select records_loaded from audit.load_batch where source = %s",
                                (str(out / d["resent_as"]),)).fetchone()[0] == d["documents"]
        if d["defect"] in ("gbk_file", "bom_file"):
            loaded, quarantined = conn.execute("select records_loaded, records_quarantined from audit.load_batch "
                                               "where source = %s", (str(out / d["file"]),)).fetchone()
            assert loaded > 0
    assert summary.count("received") == summary.count("loaded") + summary.count("quarantined")
    bad = conn.execute("select count(*) from audit.load_batch where records_received <> records_loaded + records_quarantined").fetchone()[0]
    assert bad == 0


def test_bad_file_and_bad_record_are_quarantined_and_counts_reconcile(conn, clean_landing, tmp_path):
    cfg, out = clean_landing
    source = sorted((out / "customs" / cfg.end.isoformat()).glob("CEB603_*.xml"))[0]
    text = source.read_text(encoding="utf-8")
    truncated = tmp_path / "CEB603_truncated.xml"
    truncated.write_text(text[: len(text) // 3], encoding="utf-8")
    bad_hs = tmp_path / "CEB603_bad_hs.xml"
    first_gcode = text.index("<ceb:gcode>") + len("<ceb:gcode>")
    bad_hs.write_text(text[:first_gcode] + "8517" + text[first_gcode + 10:], encoding="utf-8")

    r1 = load_file(conn, "customs", truncated)
    r2 = load_file(conn, "customs", bad_hs)
    conn.commit()
    assert (r1.loaded, r1.quarantined) == (0, r1.received) and r1.received >= 1
    assert r2.quarantined == 1 and r2.loaded == r2.received - 1 and r2.received == text.count("<ceb:Inventory>")
    rows = conn.execute("select source, record_no, field, rule, reason, raw_bytes is not null, raw_text "
                        "from audit.quarantine order by quarantine_id").fetchall()
    assert rows[0][0] == str(truncated) and rows[0][3] == "not_well_formed" and rows[0][5] is True
    assert rows[1][:4] == (str(bad_hs), 1, "gcode", "xsd")
    assert str(bad_hs) in rows[1][4] and "record 1" in rows[1][4]
    assert "8517</ceb:gcode>" in rows[1][6]
    # No partial rows from the truncated file; the bad record's lines are not in raw either.
    from_file = ("select count(*) from raw.ceb_inventory_head h join audit.load_batch b on b.batch_id = h._batch_id "
                 "where b.source = %s")
    assert conn.execute(from_file, (str(truncated),)).fetchone()[0] == 0
    assert conn.execute(from_file, (str(bad_hs),)).fetchone()[0] == r2.loaded
    bad = conn.execute("select count(*) from audit.load_batch where records_received <> records_loaded + records_quarantined").fetchone()[0]
    assert bad == 0


def _raw_and_audit(conn) -> dict:
    """Every raw CEB table's rows (all columns but the batch id and load time), the quarantine
    and the audit batches, in a stable order: what a load leaves behind, path aside."""
    from parkdw.ceb import spec

    got = {}
    tables = sorted({t for k in spec.MESSAGE_ENTITIES.values() for t in (k.head_table, k.line_table) if t})
    for table in tables:
        columns = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = %s "
            "and column_name not in ('_batch_id', '_loaded_at') order by ordinal_position", (table,))]
        listed = ", ".join(columns)
        got[table] = conn.execute(f"select {listed} from raw.{table} order by {listed}").fetchall()
    got["quarantine"] = conn.execute(
        "select feed, source, record_no, record_key, field, rule, reason, raw_text, raw_bytes from audit.quarantine "
        "order by source, record_no nulls first").fetchall()
    got["load_batch"] = conn.execute(
        "select feed, source, source_sha256, status, records_received, records_loaded, records_quarantined, "
        "rows_by_table from audit.load_batch order by source").fetchall()
    return got


def test_the_whole_message_path_loads_exactly_what_the_record_path_loads(conn, landing, empty_warehouse,
                                                                          monkeypatch):
    """The same landing folder (every sandbox defect on) through the fast path and record by
    record: the same raw rows, values and lineage, the same quarantine and audit counts."""
    from parkdw.ceb import reader

    cfg, out = landing
    taken, with_rejections = [], []
    real_fast = reader.fast_copy_lines

    def spying(data, source):
        items = real_fast(data, source)
        taken.append(items is not None)
        with_rejections.append(items is not None and any(isinstance(i, Rejected) for i in items))
        return items

    monkeypatch.setattr(reader, "fast_copy_lines", spying)
    fast = ingest_partner(conn, "customs", out)
    conn.commit()
    via_fast = _raw_and_audit(conn)
    conn.rollback()
    # Most files take the fast path, those with invalid or non-positive documents too (the
    # documents rejected as the record path rejects them); malformed and odd files go record by record.
    assert sum(taken) > len(taken) / 2 and not all(taken) and sum(with_rejections) > 0

    empty_warehouse(conn)
    monkeypatch.setattr(reader, "MAX_FAST_BYTES", -1)  # every file record by record
    taken.clear()
    by_record = ingest_partner(conn, "customs", out)
    conn.commit()
    assert not any(taken)
    assert fast.as_dict() == by_record.as_dict() and fast.count("quarantined") > 0
    assert [(b.source, b.received, b.loaded, b.quarantined, b.rows_by_table) for b in fast.batches] == \
        [(b.source, b.received, b.loaded, b.quarantined, b.rows_by_table) for b in by_record.batches]
    assert sum(len(v) for v in via_fast.values()) > 1000
    assert _raw_and_audit(conn) == via_fast


def test_day_folders_loaded_by_two_processes_give_what_one_process_gives(conn, wh, landing, empty_warehouse):
    """A backfill with workers: each day folder in a spawned process on its own connection. The
    same raw rows, quarantine and audit as one process, the batches reported in the same order,
    and a rerun with workers skips every file."""
    cfg, out = landing
    one = ingest_partner(conn, "customs", out)
    conn.commit()
    expected = _raw_and_audit(conn)
    conn.rollback()

    empty_warehouse(conn)
    two = ingest_partner(conn, "customs", out, workers=2, warehouse=wh)
    assert len({b.source.split("/")[-2] for b in two.batches}) > 2  # (day folders shared out)
    assert [(b.source, b.status, b.received, b.loaded, b.quarantined, b.rows_by_table) for b in two.batches] == \
        [(b.source, b.status, b.received, b.loaded, b.quarantined, b.rows_by_table) for b in one.batches]
    assert _raw_and_audit(conn) == expected and two.count("quarantined") > 0
    conn.rollback()
    again = ingest_partner(conn, "customs", out, workers=2, warehouse=wh)
    assert again.skipped == len(again.batches) == len(one.batches)


def test_workers_without_a_warehouse_login_is_refused(conn, landing):
    cfg, out = landing
    with pytest.raises(ValueError, match="needs the warehouse login"):
        ingest_partner(conn, "customs", out, workers=2)


@pytest.mark.parametrize("path", ["record", "whole_message"])
def test_a_load_that_dies_mid_copy_leaves_no_partial_batch(conn, clean_landing, monkeypatch, path):
    from parkdw.ceb import reader

    cfg, out = clean_landing
    source = sorted((out / "customs" / cfg.end.isoformat()).glob("CEB603_*.xml"))[0]
    calls = {"n": 0}
    if path == "record":
        monkeypatch.setattr(reader, "MAX_FAST_BYTES", -1)
        monkeypatch.setattr(loader, "FLUSH_ROWS", 10)  # force several COPY flushes before the failure
        method, real = "add", loader._TableWriter.add

        def failing(self, row):
            calls["n"] += 1
            if calls["n"] == 55:
                raise OSError("connection lost mid-COPY")
            real(self, row)
    else:
        method, real = "add_lines", loader._TableWriter.add_lines

        def failing(self, lines):
            calls["n"] += 1
            real(self, lines)
            if calls["n"] == 2:  # the heads are sent, the list lines' COPY is open with its rows in it
                raise OSError("connection lost mid-COPY")

    monkeypatch.setattr(loader._TableWriter, method, failing)
    with pytest.raises(OSError):
        load_file(conn, "customs", source)
    conn.rollback()
    assert calls["n"] >= 2
    assert conn.execute("select count(*) from raw.ceb_inventory_head").fetchone()[0] == 0
    assert conn.execute("select count(*) from raw.ceb_inventory_list").fetchone()[0] == 0
    assert conn.execute("select count(*) from audit.load_batch").fetchone()[0] == 0
    monkeypatch.setattr(loader._TableWriter, method, real)
    result = load_file(conn, "customs", source)  # the rerun completes
    conn.commit()
    assert result.status == "loaded" and result.loaded == result.received > 0
    assert conn.execute("select count(*) from raw.ceb_inventory_head").fetchone()[0] == result.loaded


def test_a_file_found_broken_after_rows_were_streamed_is_quarantined_whole(conn, clean_landing, tmp_path, monkeypatch):
    cfg, out = clean_landing
    source = sorted((out / "customs" / cfg.end.isoformat()).glob("CEB603_*.xml"))[0]
    text = source.read_text(encoding="utf-8")
    truncated = tmp_path / "CEB603_cut.xml"
    truncated.write_text(text[: len(text) * 2 // 3], encoding="utf-8")
    monkeypatch.setattr(loader, "FLUSH_ROWS", 10)  # rows are already in an open COPY when the cut is found
    result = load_file(conn, "customs", truncated)
    conn.commit()
    assert result.loaded == 0 and result.quarantined == result.received > 10
    assert sum(conn.execute(f"select count(*) from raw.{t}").fetchone()[0]
               for t in ("ceb_inventory_head", "ceb_inventory_list")) == 0
    assert conn.execute("select rule, raw_bytes = %s from audit.quarantine", (truncated.read_bytes(),)).fetchone() \
        == ("not_well_formed", True)


@pytest.mark.parametrize("partner", ["payments", "reference"])
def test_file_feeds_land_every_record_with_lineage_and_a_rerun_adds_nothing(conn, landing, partner):
    cfg, out = landing
    first = ingest_partner(conn, partner, out)
    conn.commit()
    assert first.count("quarantined") == 0 and first.skipped == 0
    for feed_name in PARTNERS[partner]:
        feed, folder = FEEDS[feed_name]
        files = sorted((out / folder).glob(f"*/{feed.pattern}"))
        assert files
        for path in files:
            with open(path, newline="", encoding="utf-8") as f:
                records = sum(1 for r in csv.reader(f) if r) - 1
            got = conn.execute(f"""select count(*), min(r._record_no), max(r._record_no), count(distinct r._batch_id),
                                          bool_and(b.source_sha256 = %s) from raw.{feed.table} r
                                   join audit.load_batch b on b.batch_id = r._batch_id where b.source = %s""",
                               (hashlib.sha256(path.read_bytes()).hexdigest(), str(path))).fetchone()
            assert got == (records, 1, records, 1, True), path
    before = {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in first.batches[0].rows_by_table}
    second = ingest_partner(conn, partner, out)
    conn.commit()
    assert second.skipped == len(second.batches) == len(first.batches) and second.count("loaded") == 0
    assert {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in before} == before


def test_reference_feeds_load_and_reject_rows_missing_required_fields(conn, landing, tmp_path):
    cfg, out = landing
    summary = ingest_partner(conn, "reference", out)
    conn.commit()
    assert summary.count("quarantined") == 0
    assert conn.execute("select count(distinct rate_date) from raw.fx_central_parity").fetchone()[0] >= 5
    bad = tmp_path / "reference" / "fx" / "2024-11-12"
    bad.mkdir(parents=True)
    (bad / "cny_central_parity.csv").write_text("rate_date,currency_pair,rate\n2024-11-12,USD/CNY,7.1\n2024-11-12,EUR/CNY,\n")
    result = load_file(conn, "fx", bad / "cny_central_parity.csv")
    conn.commit()
    assert (result.received, result.loaded, result.quarantined) == (2, 1, 1)
    field, reason = conn.execute("select field, reason from audit.quarantine").fetchone()
    assert field == "rate" and "record 2" in reason and "EUR/CNY" in reason
    missing_header = tmp_path / "no_header.csv"
    missing_header.write_text("day,pair\n2024-11-12,USD/CNY\n")
    result = load_file(conn, "fx", missing_header)
    conn.commit()
    assert result.loaded == 0 and result.quarantined == 1


def test_country_reference_lands_with_counts_memberships_and_lineage(conn, clean_landing):
    cfg, out = clean_landing
    summary = ingest_partner(conn, "reference", out)
    conn.commit()
    assert summary.count("quarantined") == 0
    # One snapshot a day, every customs country in each.
    files = sorted((out / "reference" / "countries").glob("*/countries.csv"))
    assert [f.parent.name for f in files] == ["2024-11-10", "2024-11-11"]
    per_file = len(files[0].read_text(encoding="utf-8").splitlines()) - 1
    assert per_file == 243
    batches = [(b.source.split("/")[-2], b.status) for b in summary.batches if b.feed == "countries"]
    assert batches == [("2024-11-10", "loaded"), ("2024-11-11", "loaded")]
    assert conn.execute("select count(*), count(distinct customs_code) from raw.reference_country").fetchone() == (
        2 * per_file, per_file)
    day = conn.execute("""
        select string_agg(customs_code, ',' order by customs_code) filter (where asean_member = 'Y'),
               count(*) filter (where rcep_member = 'Y'),
               count(*) filter (where bri_member = 'Y'),
               max(bri_valid_from || '/' || bri_valid_to) filter (where iso_alpha2 = 'IT'),
               max(bri_member) filter (where iso_alpha2 = 'PA')
        from raw.reference_country where as_of = '2024-11-11'""").fetchone()
    # ASEAN's ten, Brunei 105 to Vietnam 141 (Timor-Leste 144 joins 2025-10); all 15 RCEP parties in
    # force; Belt and Road: 152 signatories less Colombia (2025-05) and Italy, which signed and left.
    assert day == ("105,106,107,112,119,122,129,132,136,141", 15, 150, "2019-03-23/2023-12-01", "Y")
    # Lineage: each row names its loaded batch (its file and checksum) and record number, and the
    # audit reconciles.
    bad = conn.execute("""
        select count(*) from raw.reference_country r
        left join audit.load_batch b on b.batch_id = r._batch_id and b.status = 'loaded' and b.feed = 'countries'
        where b.batch_id is null or r._record_no not between 1 and %s""",
        (per_file,)).fetchone()[0]
    assert bad == 0
    assert conn.execute("select sum(records_received), sum(records_loaded) from audit.load_batch "
                        "where feed = 'countries' and status = 'loaded'").fetchone() == (2 * per_file, 2 * per_file)


def test_settlement_files_land_with_exact_decimal_totals(conn, clean_landing):
    cfg, out = clean_landing
    summary = ingest_partner(conn, "payments", out)
    conn.commit()
    truths = [json.loads((out / "_truth" / f"{d}.json").read_text()) for d in ("2024-11-10", "2024-11-11")]
    rows = sum(sum(t["settlements"]["rows"].values()) for t in truths)
    net_cny = sum(Decimal(t["settlements"]["net_cny"]) for t in truths)
    assert summary.count("quarantined") == 0 and summary.count("loaded") == rows > 0
    loaded_rows, loaded_cny, non_decimal = conn.execute(
        r"""select count(*), sum(settlement_amount_cny::numeric),
                   count(*) filter (where gross_amount !~ '^-?\d+\.\d{2}$') from raw.payment_settlement""").fetchone()
    assert (loaded_rows, loaded_cny, non_decimal) == (rows, net_cny, 0)  # text as delivered, exact to the fen


def test_a_fixed_quarantined_record_is_replayed_through_the_loader(conn, clean_landing, tmp_path):
    from parkdw.ingest.replay import list_quarantine, quarantined_content, replay

    cfg, out = clean_landing
    source = sorted((out / "customs" / cfg.end.isoformat()).glob("CEB603_*.xml"))[0]
    text = source.read_text(encoding="utf-8")
    first = text.index("<ceb:gcode>") + len("<ceb:gcode>")
    bad = tmp_path / "CEB603_bad.xml"
    bad.write_text(text[:first] + "8517" + text[first + 10:], encoding="utf-8")
    result = load_file(conn, "customs", bad)
    conn.commit()
    counts, latest = list_quarantine(conn)
    assert counts == [("customs", "xsd", 1)]
    qid = latest[0][0]
    record = quarantined_content(conn, qid).decode()
    fixed = tmp_path / "fixed.xml"
    fixed.write_text(record.replace("<ceb:gcode>8517</ceb:gcode>", "<ceb:gcode>8517629900</ceb:gcode>"))
    replayed = replay(conn, qid, fixed)
    conn.commit()
    assert (replayed.received, replayed.loaded, replayed.quarantined) == (1, 1, 0)
    guid = conn.execute("select record_key from audit.quarantine where quarantine_id = %s", (qid,)).fetchone()[0]
    assert conn.execute("select count(*) from raw.ceb_inventory_head where guid = %s", (guid,)).fetchone()[0] == 1
    assert conn.execute("select b.source from raw.ceb_inventory_head h join audit.load_batch b "
                        "on b.batch_id = h._batch_id where h.guid = %s", (guid,)).fetchone()[0] \
        == f"replay of quarantine {qid}: {fixed}"
    assert list_quarantine(conn)[0] == []  # nothing left to replay
    with pytest.raises(ValueError, match="already replayed"):
        replay(conn, qid, fixed)
    assert result.quarantined == 1


def _raw_text_columns_not_bytewise(conn) -> list[tuple[str, str]]:
    return conn.execute(
        """select c.relname, a.attname from pg_attribute a
           join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'raw' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
             and a.atttypid = 'text'::regtype and a.attcollation <> 'pg_catalog."C"'::regcollation
           order by 1, 2""").fetchall()


def _raw_columns_named(conn, names: list[str]) -> list[tuple[str, str]]:
    return conn.execute("select table_name, column_name from information_schema.columns where table_schema = 'raw' "
                        "and column_name = any(%s) order by 1, 2", (names,)).fetchall()


def test_raw_text_is_collated_bytewise_and_an_older_warehouse_is_migrated_keeping_its_rows(conn):
    from parkdw import warehouse

    assert conn.execute("select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                        "where n.nspname = 'raw' and c.relkind = 'r'").fetchone()[0] >= 15
    assert _raw_text_columns_not_bytewise(conn) == []
    assert _raw_columns_named(conn, ["_source", "_source_sha256"]) == []
    # An older release's table: text in the database's default collation, the batch's source and
    # checksum on every row, rows loaded, and a view of dbt's over it (which pins the columns).
    conn.execute('alter table raw.fx_central_parity alter column currency_pair type text collate "default", '
                 'alter column rate type text collate "default", add column _source text, '
                 'add column _source_sha256 text')
    conn.execute("insert into raw.fx_central_parity (rate_date, currency_pair, rate, _batch_id, _source, "
                 "_source_sha256, _record_no) values ('2024-11-11', 'USD/CNY', '7.1', 1, 'f.csv', 'abc', 1), "
                 "('2024-11-11', '100JPY/CNY', '4.7', 1, 'f.csv', 'abc', 2)")
    conn.execute("create schema if not exists staging")
    conn.execute("create view staging.stg_reference__fx_rates as select currency_pair, rate, _source "
                 "from raw.fx_central_parity")
    conn.commit()
    assert _raw_text_columns_not_bytewise(conn) == [
        ("fx_central_parity", "_source"), ("fx_central_parity", "_source_sha256"),
        ("fx_central_parity", "currency_pair"), ("fx_central_parity", "rate")]

    warehouse.ensure_schemas(conn)

    assert _raw_text_columns_not_bytewise(conn) == []
    assert _raw_columns_named(conn, ["_source", "_source_sha256"]) == []
    assert conn.execute("select to_regclass('staging.stg_reference__fx_rates')").fetchone()[0] is None
    assert conn.execute("select currency_pair, rate from raw.fx_central_parity order by currency_pair").fetchall() == [
        ("100JPY/CNY", "4.7"), ("USD/CNY", "7.1")]
    warehouse.ensure_schemas(conn)  # nothing left to migrate: a no-op
    assert _raw_text_columns_not_bytewise(conn) == []
