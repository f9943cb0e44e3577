"""The loader's hand-built COPY text: odd values land in raw exactly as delivered."""

import csv

import pytest

from parkdw.ingest import feeds, loader
from parkdw.ingest.feeds import SETTLEMENTS, TRACKING
from parkdw.ingest.loader import load_file, load_source
from parkdw.ingest.records import CopyBlock, RecordDone, Row

GBK_NAME = "重庆两江报关服务有限公司".encode("gbk").decode("gbk")
ODD = [
    "tab\there", "new\nline", "cr\rlf\r\n", "back\\slash", "\\", "ends with \\", "\\N", "\\t literal", "",
    "   spaced  ", "emoji 📦 and 中文", GBK_NAME, "ideographic\u3000space", "quote \" and , comma", "ẞ\u0301",
    "\\\\\t\n\r\\N mixed",
]


def rows_back(conn, table: str, columns: list[str]) -> list[tuple]:
    cols = ", ".join(columns)
    return conn.execute(f"select {cols} from raw.{table} order by _record_no").fetchall()


@pytest.mark.parametrize("flush_rows", [3, 5000])  # odd values alone in a chunk, and mixed with plain rows
def test_odd_values_round_trip_exactly(conn, monkeypatch, flush_rows):
    monkeypatch.setattr(loader, "FLUSH_ROWS", flush_rows)
    width = len(SETTLEMENTS.columns)
    plain = tuple(f"plain{i}" for i in range(width))
    expected = []
    for n, value in enumerate(ODD * 2 + [None], start=1):
        values = list(plain)
        values[n % width] = value
        values[(n + 5) % width] = None  # NULL next to the odd value, never confused with ''
        expected.append(tuple(values))
    expected += [plain] * 7
    items = []
    for record_no, values in enumerate(expected, start=1):
        items += [Row(SETTLEMENTS.table, values, record_no, "guid\twith tab" if record_no == 2 else None),
                  RecordDone(record_no)]
    result = load_source(conn, "payments", "odd\\source\twith tab", "a" * 64, lambda: iter(items), bytes)
    conn.commit()
    assert result.loaded == len(expected)
    assert rows_back(conn, SETTLEMENTS.table, list(SETTLEMENTS.columns)) == expected
    lineage = conn.execute("select b.source, r._message_guid from raw.payment_settlement r "
                           "join audit.load_batch b on b.batch_id = r._batch_id where r._record_no = 2").fetchone()
    assert lineage == ("odd\\source\twith tab", "guid\twith tab")
    nulls, empties = conn.execute(f"select count(*) filter (where {SETTLEMENTS.columns[0]} is null), "
                                  f"count(*) filter (where {SETTLEMENTS.columns[0]} = '') "
                                  "from raw.payment_settlement").fetchone()
    assert (nulls, empties) == (sum(v[0] is None for v in expected), sum(v[0] == "" for v in expected))


def test_a_gbk_csv_with_quoted_odd_fields_lands_as_the_csv_module_reads_it(conn, tmp_path):
    path = tmp_path / "settlement_gbk.csv"
    records = []
    for i, value in enumerate(["quoted, comma", "two\nlines", "tab\there", "back\\slash", GBK_NAME, 'say "hi"'], 1):
        # (odd text in a free-text column: the typed ones are format-checked at load)
        row = [f"R{i}", "2024-11-11", "payment", f"PAY{i}", "", value, "500166000A", "5001660001",
               "2024-11-11T10:00:00+08:00", "USD", "10.00", "0.06", "9.94", "7.1234", "central_parity", "CNY",
               "70.81"]
        records.append(row)
    with open(path, "w", encoding="gbk", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(SETTLEMENTS.columns)
        writer.writerows(records)
    result = load_file(conn, "payments", path)
    conn.commit()
    assert (result.received, result.loaded, result.quarantined) == (6, 6, 0)
    got = rows_back(conn, SETTLEMENTS.table, ["record_id", "original_pay_no", "order_no"])
    assert got == [(r[0], None, r[5].strip()) for r in records]


def test_a_gbk_customs_file_loads_the_same_values_as_its_utf8_original(conn, clean_landing, tmp_path):
    cfg, out = clean_landing
    original = sorted((out / "customs" / cfg.end.isoformat()).glob("CEB603_*.xml"))[0]
    text = original.read_text(encoding="utf-8")
    assert GBK_NAME in text
    gbk = tmp_path / "CEB603_gbk.xml"
    gbk.write_bytes(text.replace('encoding="UTF-8"', 'encoding="GBK"', 1).encode("gbk"))
    load_file(conn, "customs", original)
    load_file(conn, "customs", gbk)
    conn.commit()
    columns = [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' "
        "and table_name = 'ceb_inventory_head' and column_name not like '\\_%' order by ordinal_position")]
    by_source = {}
    for source in (str(original), str(gbk)):
        by_source[source] = conn.execute(
            f"select {', '.join(columns)} from raw.ceb_inventory_head h join audit.load_batch b "
            "on b.batch_id = h._batch_id where b.source = %s order by h._record_no",
            (source,)).fetchall()
    assert by_source[str(original)] == by_source[str(gbk)] and len(by_source[str(gbk)]) > 1


def test_a_nul_character_is_refused_naming_source_record_and_field(conn):
    values = tuple("x" for _ in TRACKING.columns[:-2]) + ("bad\x00text", "2024-11-11T00:00:00Z")
    items = [Row(TRACKING.table, values, 1), RecordDone(1)]
    with pytest.raises(ValueError, match=r"page-1: record 1: field description: contains a NUL"):
        load_source(conn, "tracking", "page-1", "b" * 64, lambda: iter(items), bytes)
    conn.rollback()
    assert conn.execute("select count(*) from audit.load_batch").fetchone()[0] == 0


def test_a_csv_read_in_blocks_loads_as_the_csv_module_reads_it_with_bad_records_numbered(conn, tmp_path, monkeypatch):
    """Plain blocks go to COPY whole; a block holding a bad record, a quoted field (one that
    spans two blocks), edge whitespace or a blank line goes record by record: both keep every
    record's number, and the bad ones are quarantined naming record, line and field."""
    plain = ["2024-11-11", "payment", "PAY{i}", "", "ORD{i}", "500166000A", "5001660001",
             "2024-11-11T10:00:00+08:00", "USD", "10.00", "0.06", "9.94", "7.1234", "central_parity", "CNY", "70.81"]
    records = [[f"R{i}"] + [v.format(i=i) for v in plain] for i in range(1, 61)]
    records[11][10] = ""  # required gross_amount empty: record 12
    records[17][5] = "two\nlines, quoted"  # a quoted field across lines
    records[23][5] = "  ORD24\u3000"  # edge whitespace, stripped
    records[29][16] = ""  # required settlement_amount_cny empty, last field: record 30
    path = tmp_path / "settlement_blocks.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)  # CRLF line ends
        writer.writerow(SETTLEMENTS.columns)
        for n, record in enumerate(records, start=1):
            writer.writerow(record)
            if n == 20:
                f.write("\r\n")  # a blank line is not a record
    text = path.read_bytes().decode("utf-8")
    # Blocks of about 17 records, the first one ending inside record 18's quoted field.
    monkeypatch.setattr(feeds, "BLOCK_CHARS", text.index("R18,") - text.index("\n") - 1 + 5)
    items = list(SETTLEMENTS.read(path))
    assert sum(type(i) is CopyBlock for i in items) >= 2 and sum(type(i) is Row for i in items) >= 30
    result = load_file(conn, "payments", path)
    conn.commit()
    assert (result.received, result.loaded, result.quarantined) == (60, 58, 2)
    quarantined = conn.execute("select record_no, field, rule, reason from audit.quarantine order by record_no").fetchall()
    assert quarantined == [
        (12, "gross_amount", "required", f"{path}: record 12 (record_id=R12, line 13): field gross_amount is required but empty"),
        (30, "settlement_amount_cny", "required",
         f"{path}: record 30 (record_id=R30, line 33): field settlement_amount_cny is required but empty"),
    ]
    got = conn.execute("select _record_no, record_id, original_pay_no, order_no, currency, settlement_amount_cny "
                       "from raw.payment_settlement order by _record_no").fetchall()
    with open(path, encoding="utf-8", newline="") as f:
        expected = [(n, r[0], r[4].strip() or None, r[5].strip(), r[9], r[16])
                    for n, r in enumerate((r for r in list(csv.reader(f))[1:] if r), start=1) if n not in (12, 30)]
    assert got == expected and got[16][3] == "two\nlines, quoted" and got[22][3] == "ORD24"


def test_odd_values_in_a_customs_message_land_the_same_through_both_paths(conn, empty_warehouse, tmp_path,
                                                                          monkeypatch):
    """Tabs, newlines, CRs, backslashes, a literal \\N, non-BMP characters and empty elements
    (NULL) written as COPY text by the whole-message XSLT land exactly as the record path lands them."""
    from parkdw.ceb import reader, spec
    from parkdw.ceb.writer import render_message

    kind = spec.MESSAGE_ENTITIES["CEB603Message"]
    head_names = [f.name for f in spec.fields(kind.head)]
    line_names = [f.name for f in spec.fields(kind.line)]
    odd = [v for v in ODD if v and "\r" not in v]  # (a CR only arrives as &#13;, added below)
    docs = []
    for n, value in enumerate(odd, start=1):
        head = {name: None for name in head_names}
        head.update({"guid": f"00000000-0000-4000-8000-{n:012d}", "appType": "1", "appTime": "20241111101010",
                     "appStatus": "2", "customsCode": "8000", "ebpCode": "5001960AB1", "ebpName": value,
                     "orderNo": "O1", "logisticsCode": "5001980LG1", "logisticsName": GBK_NAME, "logisticsNo": "YX1",
                     "copNo": "C1", "ieFlag": "E", "portCode": "8011", "ieDate": "20241111", "statisticsFlag": "A",
                     "agentCode": "5001990DA1", "agentName": "报关行", "ebcCode": "5001900001", "ebcName": "企业",
                     "ownerCode": "5001900001", "ownerName": "企业", "tradeMode": "9610", "trafMode": "5",
                     "country": "132", "POD": "SIN", "freight": "0", "fCurrency": "142", "fFlag": "3",
                     "insuredFee": "0", "iCurrency": "142", "iFlag": "3", "wrapType": "2", "packNo": "1",
                     "grossWeight": "1.5", "netWeight": "1.2", "note": value})
        line = {"gnum": "1", "itemNo": "SKU1", "gcode": "8517629900", "gname": value, "gmodel": "标准",
                "barCode": "无", "country": "132", "currency": "142", "qty": "2", "qty1": "2", "unit": "007",
                "unit1": "007", "price": "10.50", "totalPrice": "21.00", "note": value}
        assert set(line) <= set(line_names)
        docs.append({"head": head, "lines": [line, dict(line, gnum="2", note=None)]})
    xml = render_message("CEB603Message", "00000000-0000-4000-8000-000000000099", docs,
                         {"copCode": "5001990DA1", "copName": "报关行", "dxpMode": "DXP", "dxpId": "DXPENT0000000001"})
    xml = xml.replace("<ceb:note>new\nline</ceb:note>", "<ceb:note>cr&#13;lf&#13;&#10;</ceb:note>", 1)
    path = tmp_path / "CEB603_odd.xml"
    path.write_text(xml, encoding="utf-8")
    assert reader.fast_copy_lines(path.read_bytes()) is not None

    def landed():
        got = {}
        for table in (kind.head_table, kind.line_table):
            columns = [c for c in loader.all_raw_tables()[table]] + ["_record_no", "_message_guid"]
            got[table] = conn.execute(f"select {', '.join(columns)} from raw.{table} order by _record_no, "
                                      f"{columns[1]}").fetchall()
        return got

    fast = load_file(conn, "customs", path)
    conn.commit()
    via_fast = landed()
    conn.rollback()
    empty_warehouse(conn)
    monkeypatch.setattr(reader, "MAX_FAST_BYTES", -1)
    by_record = load_file(conn, "customs", path)
    conn.commit()
    assert (fast.received, fast.loaded, fast.rows_by_table) == (by_record.received, by_record.loaded,
                                                               by_record.rows_by_table) == (
        len(odd), len(odd), {kind.head_table: len(odd), kind.line_table: 2 * len(odd)})
    assert landed() == via_fast
    ebp_name = loader.all_raw_tables()[kind.head_table].index("ebp_name")
    assert {r[ebp_name] for r in via_fast[kind.head_table]} == set(odd)  # as delivered
    note = loader.all_raw_tables()[kind.line_table].index("note")
    assert {r[note] for r in via_fast[kind.line_table]} == set(odd) | {None}
    head_note = loader.all_raw_tables()[kind.head_table].index("note")
    assert "cr\rlf\r\n" in {r[head_note] for r in via_fast[kind.head_table]}
