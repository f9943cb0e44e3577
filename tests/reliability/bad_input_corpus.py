"""The bad-input corpus: malformed and hostile deliveries of the three partners, generated
deterministically (binary cases such as GBK, NUL bytes and UTF-16 stay exact this way).

`write_corpus(root)` writes a landing folder (customs XML, payment settlement CSV, reference CSV
and the tracking API's event file) and returns the index: one `Case` per input naming what must
happen to it. Outcomes:

- "loaded": every record lands in raw (text fields stored verbatim: `verbatim` lists values
  that must be found exactly as delivered);
- "quarantined": `quarantined` records go to audit.quarantine with `rule` and `field`, the
  other `loaded` records of the file still land;
- "refused": the file as a whole is quarantined (rule `rule`, its bytes kept), nothing loads;
- "not_read": the file is never opened (a symlink out of the landing).
"""

from __future__ import annotations

import json
import os
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from parkdw.ceb.writer import render_message
from parkdw.ingest.feeds import SETTLEMENTS

DAY = "2024-11-11"
SQL_INJECTION = "'); drop table raw.payment_settlement; --"
SQL_INJECTION_XML = "'); drop table raw.ceb_inventory_head; --"
FORMULA = "=cmd|' /C calc'!A0"
TRANSFER = {"copCode": "5001990DA1", "copName": "报关行", "dxpMode": "DXP", "dxpId": "DXPENT0000000001"}
OUTSIDE_SECRET = "root:x:0:0:outside-the-landing"


@dataclass
class Case:
    name: str
    partner: str  # customs | payments | reference | logistics
    path: str  # relative to the landing root ("" for API events)
    outcome: str  # loaded | quarantined | refused | not_read
    loaded: int = 0
    quarantined: int = 0
    rule: str | None = None
    field: str | None = None
    verbatim: list[str] = dataclasses.field(default_factory=list)


def guid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def inventory(n: int, **head_changes) -> dict:
    """A valid CEB603 inventory document (two lines); head_changes/line changes break it on purpose."""
    line_changes = head_changes.pop("line", {})
    head = {
        "guid": guid(n), "appType": "1", "appTime": "20241111101010", "appStatus": "2", "customsCode": "8000",
        "ebpCode": "5001960AB1", "ebpName": "平台", "orderNo": f"O{n}", "logisticsCode": "5001980LG1",
        "logisticsName": "物流", "logisticsNo": f"YX{n}", "copNo": f"C{n}", "ieFlag": "E", "portCode": "8011",
        "ieDate": "20241111", "statisticsFlag": "A", "agentCode": "5001990DA1", "agentName": "报关行",
        "ebcCode": "5001900001", "ebcName": "企业", "ownerCode": "5001900001", "ownerName": "企业",
        "tradeMode": "9610", "trafMode": "5", "country": "132", "POD": "SIN", "freight": "0",
        "fCurrency": "142", "fFlag": "3", "insuredFee": "0", "iCurrency": "142", "iFlag": "3",
        "wrapType": "2", "packNo": "1", "grossWeight": "1.5", "netWeight": "1.2",
    }
    head.update(head_changes)
    lines = [{"gnum": g, "itemNo": f"SKU{g}", "gcode": "8517629900", "gname": "耳机", "gmodel": "标准",
              "barCode": "无", "country": "132", "currency": "142", "qty": "2", "qty1": "2", "unit": "007",
              "unit1": "007", "price": "10.50", "totalPrice": "21.00"} for g in (1, 2)]
    lines[0].update(line_changes)
    return {"head": {k: v for k, v in head.items() if v is not None}, "lines": lines}


def message(*docs: dict, message_guid: str = guid(9000)) -> str:
    return render_message("CEB603Message", message_guid, list(docs), TRANSFER)


def settlement_row(n: int, **changes) -> dict:
    row = dict(zip(SETTLEMENTS.columns, (
        f"R{n:06d}", DAY, "PAYMENT", f"PAY{n:06d}", "", f"ORD{n:06d}", "500166000A", "5001660001",
        "2024-11-11T10:00:00+08:00", "USD", "10.00", "0.06", "9.94", "7.1234", "CENTRAL_PARITY", "CNY", "70.81")))
    row.update(changes)
    return row


def csv_text(rows: list[dict], columns=SETTLEMENTS.columns) -> str:
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n\r') else v
    return "".join(",".join(cell(str(r.get(c, ""))) for c in columns) + "\r\n" for r in [dict(zip(columns, columns)), *rows])


def write_corpus(root: Path, outside: Path) -> list[Case]:
    """Write every case under `root` (the landing); `outside` is a folder beside it that a
    symlink points into. Returns the index."""
    cases: list[Case] = []
    customs = root / "customs" / DAY
    payments = root / "payments" / DAY
    registry = root / "reference" / "registry" / DAY
    fx = root / "reference" / "fx" / DAY
    for folder in (customs, payments, registry, fx):
        folder.mkdir(parents=True, exist_ok=True)
    n = iter(range(1, 10_000))

    def xml(name: str, content: str | bytes, outcome: str, **kw) -> None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        (customs / name).write_bytes(data)
        cases.append(Case(name, "customs", f"customs/{DAY}/{name}", outcome, **kw))

    def pay(name: str, content: str | bytes, outcome: str, **kw) -> None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        (payments / name).write_bytes(data)
        cases.append(Case(name, "payments", f"payments/{DAY}/{name}", outcome, **kw))

    # --- customs XML --------------------------------------------------------------------
    valid = message(inventory(next(n)), inventory(next(n)))
    xml("valid_two_lists.xml", valid, "loaded", loaded=2)
    xml("truncated.xml", valid[: len(valid) // 2], "refused", rule="not_well_formed")
    xml("unclosed_tag.xml", valid.replace("</ceb:ebpName>", "", 1), "refused", rule="not_well_formed")
    xml("wrong_namespace.xml", valid.replace("http://www.chinaport.gov.cn/ceb", "http://example.com/ceb"),
        "refused", rule="unsupported_root")
    xml("unknown_message_type.xml", valid.replace("CEB603Message", "CEB999Message"), "refused", rule="unsupported_root")
    xml("no_namespace.xml", '<?xml version="1.0"?><CEB603Message guid="x" version="1.0"/>', "refused",
        rule="unsupported_root")
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    xml("billion_laughs.xml", f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY l0 "lol">{laughs}]>'
        f'<ceb:CEB603Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x" version="1.0">&l9;'
        '</ceb:CEB603Message>', "refused", rule="dtd_refused")
    xml("quadratic_blowup.xml", f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "{"A" * 50_000}">]>'
        f'<ceb:CEB603Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x">{"&a;" * 2000}'
        '</ceb:CEB603Message>', "refused", rule="dtd_refused")
    for name, system_id in (("xxe_file.xml", f"file://{outside / 'secret.txt'}"),
                            ("xxe_http.xml", "http://127.0.0.1:9/secret")):
        xml(name, f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY e SYSTEM "{system_id}">]>'
            f'<ceb:CEB603Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x">&e;</ceb:CEB603Message>',
            "refused", rule="dtd_refused")
    xml("external_dtd.xml", valid.replace("<ceb:CEB603Message", f'<!DOCTYPE ceb:CEB603Message SYSTEM '
        f'"file://{outside / "evil.dtd"}">\n<ceb:CEB603Message', 1), "refused", rule="dtd_refused")
    xml("parameter_entity.xml", f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY % p SYSTEM "file://{outside / "evil.dtd"}"> %p;]>'
        '<ceb:CEB603Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x"/>', "refused", rule="dtd_refused")
    xml("xinclude.xml", valid.replace("<ceb:ebpName>平台</ceb:ebpName>",
        f'<ceb:ebpName>平台</ceb:ebpName><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
        f'href="file://{outside / "secret.txt"}" parse="text"/>', 1), "quarantined", loaded=1, quarantined=1, rule="xsd")
    xml("xsd_bad_hs_code.xml", message(inventory(next(n)), inventory(next(n), line={"gcode": "8517"})),
        "quarantined", loaded=1, quarantined=1, rule="xsd", field="gcode")
    xml("xsd_missing_required.xml", message(inventory(next(n), ebcCode=None), inventory(next(n))),
        "quarantined", loaded=1, quarantined=1, rule="xsd", field="ebcCode")
    xml("xsd_wrong_type_qty.xml", message(inventory(next(n), line={"qty": "two"})),
        "quarantined", quarantined=1, rule="xsd", field="qty")
    xml("xsd_oversized_name.xml", message(inventory(next(n), line={"gname": "耳" * 20_000})),
        "quarantined", quarantined=1, rule="xsd", field="gname")
    xml("xsd_bad_date.xml", message(inventory(next(n), appTime="2024-11-11 10:10")),
        "quarantined", quarantined=1, rule="xsd", field="appTime")
    xml("xsd_unknown_element.xml", valid.replace("<ceb:ebpName>平台</ceb:ebpName>",
        "<ceb:ebpName>平台</ceb:ebpName><ceb:shellCommand>rm -rf /</ceb:shellCommand>", 1),
        "quarantined", loaded=1, quarantined=1, rule="xsd", field="shellCommand")
    xml("negative_amount.xml", message(inventory(next(n), line={"totalPrice": "-21.00"})),
        "quarantined", quarantined=1, rule="positive_amount", field="totalPrice")
    xml("zero_price.xml", message(inventory(next(n), line={"price": "0"})),
        "quarantined", quarantined=1, rule="positive_amount", field="price")
    gbk_doc = message(inventory(next(n)))
    xml("gbk_declared_utf8.xml", gbk_doc.encode("gbk"), "refused", rule="bad_encoding")
    xml("gbk_undeclared.xml", message(inventory(next(n))).replace('<?xml version="1.0" encoding="UTF-8"?>\n', "")
        .encode("gbk"), "loaded", loaded=1, verbatim=["报关行"])
    xml("gbk_declared.xml", message(inventory(next(n))).replace('encoding="UTF-8"', 'encoding="GBK"').encode("gbk"),
        "loaded", loaded=1)
    xml("utf8_bom.xml", b"\xef\xbb\xbf" + message(inventory(next(n))).encode(), "loaded", loaded=1)
    xml("utf16_bom.xml", message(inventory(next(n))).replace('encoding="UTF-8"', 'encoding="UTF-16"')
        .encode("utf-16"), "loaded", loaded=1)
    xml("empty.xml", b"", "refused", rule="not_well_formed")
    xml("declaration_only.xml", '<?xml version="1.0" encoding="UTF-8"?>\n', "refused", rule="not_well_formed")
    xml("nul_byte.xml", valid.replace("平台", "平\x00台", 1), "refused", rule="not_well_formed")
    same = inventory(next(n))
    xml("duplicate_same_guid.xml", message(same, same), "loaded", loaded=2)
    conflicting = inventory(next(n))
    xml("conflicting_same_guid.xml", message(conflicting, {**conflicting, "lines": conflicting["lines"][:1]}),
        "loaded", loaded=2)
    xml("sql_injection_text.xml", message(inventory(next(n), ebpName=SQL_INJECTION_XML)), "loaded", loaded=1,
        verbatim=[SQL_INJECTION_XML])
    xml("markup_in_text.xml", message(inventory(next(n), ebcName="<script>alert(1)</script>&amp;")),
        "loaded", loaded=1, verbatim=["<script>alert(1)</script>&amp;"])
    xml("cdata_and_comments.xml", valid.replace("<ceb:ebpName>平台</ceb:ebpName>",
        "<!-- a comment --><?pi ignored?><ceb:ebpName><![CDATA[平台 & <b>]]></ceb:ebpName>", 1),
        "loaded", loaded=2, verbatim=["平台 & <b>"])

    # --- payments settlement CSV ------------------------------------------------------------
    def rows(k: int, **changes) -> list[dict]:
        return [settlement_row(next(n), **changes)] + [settlement_row(next(n)) for _ in range(k - 1)]

    pay("settlement_valid.csv", csv_text(rows(3)), "loaded", loaded=3)
    pay("settlement_wrong_header.csv", csv_text(rows(2)).replace("gross_amount", "gross", 1), "refused", rule="header")
    missing = [c for c in SETTLEMENTS.columns if c not in ("fx_rate", "net_amount")]
    pay("settlement_missing_columns.csv", csv_text(rows(2), missing), "refused", rule="header")
    extra = (*SETTLEMENTS.columns, "buyer_phone")
    pay("settlement_extra_column.csv", csv_text([{**r, "buyer_phone": "13800000000"} for r in rows(2)], extra),
        "loaded", loaded=2)
    pay("settlement_empty.csv", b"", "refused", rule="empty_file")
    pay("settlement_header_only.csv", csv_text([]), "loaded", loaded=0)
    for name, column, value in (
        ("float_exponent", "gross_amount", "1e3"), ("thousands_separator", "gross_amount", "1,234.00"),
        ("two_points", "fee_amount", "0.0.6"), ("currency_symbol", "settlement_amount_cny", "¥70.81"),
        ("nan", "net_amount", "NaN"), ("bad_date_month", "settlement_date", "2024-13-45"),
        ("bad_date_feb30", "settlement_date", "2024-02-30"), ("us_date", "settlement_date", "11/11/2024"),
        ("no_offset_time", "transaction_time", "2024-11-11T10:00:00"), ("bad_currency", "currency", "US$"),
        ("currency_name", "currency", "DOLLAR"), ("lowercase_currency", "settlement_currency", "cny"),
        # Digits of other scripts: Python's \d takes them, PostgreSQL's numeric cast does not.
        ("arabic_indic_digits", "gross_amount", "١٢٣.٤٥"), ("full_width_digits", "fx_rate", "７.１"),
    ):
        pay(f"settlement_{name}.csv", csv_text(rows(2, **{column: value})), "quarantined", loaded=1, quarantined=1,
            rule="format", field=column)
    pay("settlement_nul_byte.csv", csv_text(rows(2, order_no="ORD\x00X")), "quarantined", loaded=1, quarantined=1,
        rule="nul_character", field="order_no")
    pay("settlement_missing_required.csv", csv_text(rows(2, pay_no="")), "quarantined", loaded=1, quarantined=1,
        rule="required", field="pay_no")
    short = csv_text(rows(2)).splitlines(keepends=True)
    short[1] = ",".join(short[1].split(",")[:10]) + "\r\n"
    pay("settlement_short_row.csv", "".join(short), "quarantined", loaded=1, quarantined=1, rule="field_count")
    pay("settlement_oversized_field.csv", csv_text(rows(2, order_no="O" * 20_000)), "quarantined", loaded=1,
        quarantined=1, rule="oversized", field="order_no")
    pay("settlement_quoted_newline.csv", csv_text(rows(2, order_no="ORD\nSECOND LINE")), "loaded", loaded=2,
        verbatim=["ORD\nSECOND LINE"])
    pay("settlement_bom.csv", b"\xef\xbb\xbf" + csv_text(rows(2)).encode(), "loaded", loaded=2)
    pay("settlement_gbk.csv", csv_text(rows(2, ebp_code="跨境平台")).encode("gbk"), "loaded", loaded=2,
        verbatim=["跨境平台"])
    pay("settlement_sql_injection.csv", csv_text(rows(2, order_no=SQL_INJECTION)), "loaded", loaded=2,
        verbatim=[SQL_INJECTION])
    pay("settlement_formula_injection.csv", csv_text(rows(2, ebp_code=FORMULA, pay_no="@SUM(1+1)*cmd|' /C calc'!A0")),
        "loaded", loaded=2, verbatim=[FORMULA])
    dup = settlement_row(next(n))
    pay("settlement_duplicate_record.csv", csv_text([dup, dup]), "loaded", loaded=2)
    conflict = settlement_row(next(n))
    pay("settlement_conflicting_record.csv", csv_text([conflict, {**conflict, "gross_amount": "99.00"}]),
        "loaded", loaded=2)
    pay("settlement_unbalanced_quote.csv", csv_text(rows(1)) + 'R999999,"2024-11-11,PAYMENT\r\n', "quarantined",
        loaded=1, quarantined=1, rule="field_count")
    pay("settlement_binary_garbage.csv", bytes(range(256)) * 4, "refused", rule="bad_encoding")

    # --- reference CSV ------------------------------------------------------------------------
    (registry / "park_enterprises.csv").write_text(
        "credit_code,customs_code,enterprise_name,enterprise_type,entry_date,status,status_date\r\n"
        "91500000000000001X,5001900001,重庆企业有限公司,export,2022-10-06,active,2022-10-06\r\n"
        "91500000000000002X,5001900002,企业二,export,2024-02-30,active,2024-02-30\r\n", encoding="utf-8")
    cases.append(Case("registry_impossible_date", "reference", f"reference/registry/{DAY}/park_enterprises.csv",
                      "quarantined", loaded=1, quarantined=1, rule="format", field="entry_date"))
    (fx / "cny_central_parity.csv").write_text(
        "rate_date,currency_pair,rate\r\n2024-11-11,USD/CNY,7.1234\r\n2024-11-11,USD-CNY,7.1\r\n"
        "2024-11-11,EUR/CNY,abc\r\n2024-11-11,100JPY/CNY,4.6543\r\n", encoding="utf-8")
    cases.append(Case("fx_bad_pair_and_rate", "reference", f"reference/fx/{DAY}/cny_central_parity.csv",
                      "quarantined", loaded=2, quarantined=2, rule="format"))

    # --- file names: path tricks ----------------------------------------------------------------
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.txt").write_text(OUTSIDE_SECRET + "\n")
    (outside / "settlement_outside.csv").write_text(csv_text(rows(1, order_no=OUTSIDE_SECRET)))
    os.symlink(outside / "settlement_outside.csv", payments / "settlement_symlink_out.csv")
    cases.append(Case("symlink_out_of_landing", "payments", f"payments/{DAY}/settlement_symlink_out.csv", "not_read"))
    os.symlink(outside, root / "payments" / "2024-11-12")  # a day folder that leads outside
    cases.append(Case("symlinked_day_folder", "payments", "payments/2024-11-12/settlement_outside.csv", "not_read"))
    for name in ("settlement_重庆_跨境.csv", "settlement_" + "x" * 230 + ".csv", "settlement_a'b;drop table x;--.csv",
                 "settlement_..csv", "settlement_ leading space and $(id).csv"):
        pay(name, csv_text(rows(1)), "loaded", loaded=1)

    # --- tracking API events (served by the sandbox API from its event file) ----------------------
    def event(i: int, **changes) -> dict:
        e = {"event_id": f"EV{i:06d}", "event_kind": "parcel", "event_code": "PICKED_UP",
             "event_time": "2024-11-11T10:00:00+08:00", "location": "CQ", "logistics_no": f"YX{i}",
             "consignment_no": None, "container_no": None, "transport_mode": "road", "vehicle_name": None,
             "voyage_no": None, "description": "picked up", "updated_at": f"2024-11-11T02:{i % 60:02d}:00Z"}
        e.update(changes)
        return e

    api_cases = [
        ("event_valid", event(1), "loaded", None, None, []),
        ("event_missing_code", {k: v for k, v in event(2).items() if k != "event_code"}, "quarantined", "required", "event_code", []),
        ("event_time_number", event(3, event_time=1731290400), "quarantined", "type", "event_time", []),
        ("event_location_object", event(4, location={"city": "CQ"}), "quarantined", "type", "location", []),
        ("event_code_list", event(5, event_code=["A", "B"]), "quarantined", "type", "event_code", []),
        ("event_huge_description", event(6, description="x" * 1_000_000), "quarantined", "oversized", "description", []),
        ("event_time_no_offset", event(7, event_time="2024-11-11 10:00"), "quarantined", "format", "event_time", []),
        ("event_nul_in_text", event(8, description="bad\x00byte"), "quarantined", "nul_character", "description", []),
        ("event_sql_injection", event(9, description="'); drop table raw.tracking_event; --"), "loaded", None, None,
         ["'); drop table raw.tracking_event; --"]),
        ("event_boolean_code", event(10, event_code=True), "quarantined", "type", "event_code", []),
        ("event_time_full_width_digits", event(11, event_time="２０２４-11-11T10:00:00+08:00"), "quarantined",
         "format", "event_time", []),
    ]
    tracking = root / "_sandbox" / "tracking"
    tracking.mkdir(parents=True)
    with open(tracking / "corpus.jsonl", "w", encoding="utf-8") as f:
        for name, e, outcome, rule, column, verbatim in api_cases:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
            cases.append(Case(name, "logistics", e["event_id"], outcome, loaded=int(outcome == "loaded"),
                              quarantined=int(outcome == "quarantined"), rule=rule, field=column, verbatim=verbatim))
    return cases
