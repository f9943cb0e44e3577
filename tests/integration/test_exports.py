"""Exports of the marts: partners' text that a spreadsheet would run as a formula is defused in CSV."""

import csv
import json
from datetime import date
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
