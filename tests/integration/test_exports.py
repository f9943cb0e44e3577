"""Exports of the marts: partners' text that a spreadsheet would run as a formula is defused in CSV."""

import csv
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow.parquet as pq

from parkdw.publishing import write_exports

HOSTILE = ["=cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "+41 cmd", "-2+3", "\tTAB", "\rCR"]
PLAIN = ["重庆渝新欧供应链有限公司", "plain = text", "O'Brien Ltd"]


def test_csv_export_defuses_formula_text_and_parquet_keeps_it_verbatim(conn, tmp_path):
    conn.execute("create table marts.mart_target_progress (as_of_date date, metric text)")
    conn.execute("insert into marts.mart_target_progress values ('2024-11-11', 'export_volume_cny')")
    conn.execute("create table marts.mart_partner_text (id int, name text, code varchar(20), amount numeric(12, 2))")
    values = HOSTILE + PLAIN
    with conn.cursor() as cur:
        cur.executemany("insert into marts.mart_partner_text values (%s, %s, %s, %s)",
                        [(i, v, v[:20], Decimal("-5.25") if i % 2 else Decimal("3.10")) for i, v in enumerate(values)])
    conn.commit()

    manifest = write_exports(conn, tmp_path, "passed")

    assert manifest["data_as_of_date"] == date(2024, 11, 11).isoformat()
    assert "apostrophe" in json.loads((tmp_path / "manifest.json").read_text())["csv_text_guard"]
    with open(tmp_path / "mart_partner_text.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["id"]) for r in rows] == list(range(len(values)))  # ordered by the stored values
    for row, value in zip(rows, values):
        expected = "'" + value if value in HOSTILE else value
        assert row["name"] == expected, row
        assert row["code"] == ("'" + value[:20] if value in HOSTILE else value[:20])
        # Numbers are not text: a negative amount stays a number.
        assert row["amount"] == ("-5.25" if int(row["id"]) % 2 else "3.10")
    assert not any(r["name"][0] in "=+-@\t\r" for r in rows)
    parquet = pq.read_table(tmp_path / "mart_partner_text.parquet").to_pydict()
    assert parquet["name"] == values  # verbatim, as stored
    assert manifest["tables"]["mart_partner_text"]["rows"] == len(values)


def test_parquet_export_keeps_every_type_null_and_empty_text_exactly(conn, tmp_path):
    """The Parquet file is read from PostgreSQL's CSV: NULL and empty text stay apart, times keep
    their instant and microseconds whatever the session's time zone, numerics stay exact."""
    conn.execute("set timezone = 'Asia/Shanghai'")
    conn.execute("create table marts.mart_target_progress (as_of_date date, metric text)")
    conn.execute("create table marts.mart_typed (id int, note text, at timestamptz, on_day date, flag boolean,"
                 " big bigint, amount numeric)")
    rows = [
        (1, "", datetime(2024, 3, 1, 0, 0, 0, 123456, tzinfo=timezone.utc), date(2024, 2, 29), True,
         9_007_199_254_740_993, Decimal("123456789012345678.000001")),
        (2, None, None, None, None, None, None),
        (3, 'line one\nline "two", with a comma', datetime(2024, 3, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=8))),
         date(2022, 9, 23), False, -1, Decimal("-0.10")),
    ]
    with conn.cursor() as cur:
        cur.executemany("insert into marts.mart_typed values (%s, %s, %s, %s, %s, %s, %s)", rows)
    conn.execute("create table marts.mart_one_column (note text)")
    conn.execute("insert into marts.mart_one_column values (null), (''), ('x')")
    conn.commit()

    write_exports(conn, tmp_path, "passed")

    table = pq.read_table(tmp_path / "mart_typed.parquet")
    assert str(table.schema.field("at").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("amount").type) == "decimal128(24, 6)"
    exported = table.to_pylist()
    assert [r["note"] for r in exported] == ["", None, 'line one\nline "two", with a comma']
    assert [r["at"] for r in exported] == [rows[0][2], None, rows[2][2]]  # the same instants
    assert [r["on_day"] for r in exported] == [date(2024, 2, 29), None, date(2022, 9, 23)]
    assert [r["flag"] for r in exported] == [True, None, False]
    assert [r["big"] for r in exported] == [9_007_199_254_740_993, None, -1]
    assert [r["amount"] for r in exported] == [Decimal("123456789012345678.000001"), None, Decimal("-0.100000")]
    # A one-column table's NULL is an empty CSV line, its empty text a quoted "": both kept.
    assert pq.read_table(tmp_path / "mart_one_column.parquet").to_pydict() == {"note": ["", "x", None]}  # NULLs last
