"""The CEB reader against real files: valid, malformed, hostile, and other encodings."""

from pathlib import Path

import pytest
from lxml import etree

from parkdw.ceb import spec
from parkdw.ceb import reader
from parkdw.ceb.reader import fast_copy_lines, read_ceb_file, read_ceb_message
from parkdw.ceb.writer import render_message
from parkdw.ingest.records import CopyLines, RecordDone, Rejected, Row, SourceRejected

TRANSFER = {"copCode": "5001990DA1", "copName": "报关行", "dxpMode": "DXP", "dxpId": "DXPENT0000000001"}


def inventory(guid: str, gcode: str = "8517629900", lines: int = 2) -> dict:
    head = {
        "guid": guid, "appType": "1", "appTime": "20241111101010", "appStatus": "2", "customsCode": "8000",
        "ebpCode": "5001960AB1", "ebpName": "平台", "orderNo": "O1", "logisticsCode": "5001980LG1",
        "logisticsName": "物流", "logisticsNo": "YX1", "copNo": "C1", "ieFlag": "E", "portCode": "8011",
        "ieDate": "20241111", "statisticsFlag": "A", "agentCode": "5001990DA1", "agentName": "报关行",
        "ebcCode": "5001900001", "ebcName": "企业", "ownerCode": "5001900001", "ownerName": "企业",
        "tradeMode": "9610", "trafMode": "5", "country": "132", "POD": "SIN", "freight": "0",
        "fCurrency": "142", "fFlag": "3", "insuredFee": "0", "iCurrency": "142", "iFlag": "3",
        "wrapType": "2", "packNo": "1", "grossWeight": "1.5", "netWeight": "1.2",
    }
    body = [{"gnum": n, "itemNo": f"SKU{n}", "gcode": gcode, "gname": "耳机", "gmodel": "标准", "barCode": "无",
             "country": "132", "currency": "142", "qty": "2", "qty1": "2", "unit": "007", "unit1": "007",
             "price": "10.50", "totalPrice": "21.00"} for n in range(1, lines + 1)]
    return {"head": head, "lines": body}


def guid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8", bom: bool = False) -> Path:
    path = tmp_path / name
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def test_written_message_validates_against_the_official_xsd(tmp_path):
    xml = render_message("CEB603Message", guid(99), [inventory(guid(1)), inventory(guid(2), lines=3)], TRANSFER)
    assert spec.schema().validate(etree.fromstring(xml.encode()))


def test_reader_maps_heads_and_lines_with_spec_columns(tmp_path):
    xml = render_message("CEB603Message", guid(99), [inventory(guid(1)), inventory(guid(2), lines=3)], TRANSFER)
    items = list(read_ceb_file(write(tmp_path, "a.xml", xml)))
    rows = [i for i in items if isinstance(i, Row)]
    heads = [r for r in rows if r.table == "ceb_inventory_head"]
    lines = [r for r in rows if r.table == "ceb_inventory_list"]
    assert [h.values[0] for h in heads] == [guid(1), guid(2)]
    assert len(lines) == 5 and {r.message_guid for r in rows} == {guid(99)}
    cols = spec.line_columns(spec.MESSAGE_ENTITIES["CEB603Message"])
    first = dict(zip(cols, lines[0].values))
    assert first["head_guid"] == guid(1) and first["gcode"] == "8517629900" and first["total_price"] == "21.00"
    assert sum(isinstance(i, RecordDone) for i in items) == 2


def test_invalid_document_is_rejected_with_file_record_and_field(tmp_path):
    xml = render_message("CEB603Message", guid(99), [inventory(guid(1)), inventory(guid(2), gcode="8517")], TRANSFER)
    path = write(tmp_path, "bad_hs.xml", xml)
    items = list(read_ceb_file(path))
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len(rejected) == 1
    r = rejected[0]
    assert r.record_no == 2 and r.field == "gcode" and r.record_key == guid(2) and r.rule == "xsd"
    assert str(path) in r.reason and "record 2" in r.reason and "gcode" in r.reason
    assert "<ceb:gcode>8517</ceb:gcode>" in r.raw_text
    assert sum(isinstance(i, RecordDone) for i in items) == 1  # the valid document still loads


@pytest.mark.parametrize(
    "name, text, rule",
    [
        ("truncated.xml", None, "not_well_formed"),
        ("wrong_ns.xml", '<?xml version="1.0"?><ceb:CEB603Message xmlns:ceb="http://example.com/other" guid="x" version="1.0"/>', "unsupported_root"),
        ("doctype.xml", '<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
                        '<ceb:CEB603Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x" version="1.0">&b;</ceb:CEB603Message>', "dtd_refused"),
        ("xxe.xml", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                    '<ceb:CEB603Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x" version="1.0">&e;</ceb:CEB603Message>', "dtd_refused"),
        ("empty.xml", "", "not_well_formed"),
    ],
)
def test_unusable_files_are_rejected_whole(tmp_path, name, text, rule):
    if text is None:
        full = render_message("CEB603Message", guid(99), [inventory(guid(1)), inventory(guid(2))], TRANSFER)
        text = full[: len(full) // 2]
    path = write(tmp_path, name, text)
    with pytest.raises(SourceRejected) as exc:
        list(read_ceb_file(path))
    assert exc.value.rule == rule
    assert str(path) in exc.value.reason
    assert "root:" not in exc.value.reason  # nothing from /etc/passwd was read into the message


def test_bytes_that_do_not_match_the_declared_encoding_are_rejected_as_bad_encoding(tmp_path):
    xml = render_message("CEB603Message", guid(99), [inventory(guid(1))], TRANSFER)
    path = write(tmp_path, "declared_utf8_but_gbk.xml", xml, "gbk")  # still declares UTF-8
    with pytest.raises(SourceRejected) as exc:
        list(read_ceb_file(path))
    assert exc.value.rule == "bad_encoding"
    assert str(path) in exc.value.reason and "not valid utf-8" in exc.value.reason and "line" in exc.value.reason


def test_gbk_without_declaration_and_utf8_with_bom_are_read(tmp_path):
    xml = render_message("CEB603Message", guid(99), [inventory(guid(1))], TRANSFER)
    undeclared = xml.replace('<?xml version="1.0" encoding="UTF-8"?>\n', "")
    declared_gbk = xml.replace('encoding="UTF-8"', 'encoding="GBK"')
    for path in (write(tmp_path, "gbk.xml", undeclared, "gbk"), write(tmp_path, "gbk_decl.xml", declared_gbk, "gbk"),
                 write(tmp_path, "bom.xml", xml, bom=True)):
        heads = [r for r in read_ceb_file(path) if isinstance(r, Row) and r.table == "ceb_inventory_head"]
        assert len(heads) == 1, path
        assert dict(zip(spec.head_columns(spec.MESSAGE_ENTITIES["CEB603Message"]), heads[0].values))["ebp_name"] == "平台"


def test_spec_reads_field_order_and_names_from_the_xsd():
    names = [f.name for f in spec.fields("InventoryHead")]
    assert names[:3] == ["guid", "appType", "appTime"] and "POD" in names and "fCurrency" in names
    assert spec.snake("fCurrency") == "f_currency" and spec.snake("POD") == "pod" and spec.snake("ebcCode") == "ebc_code"
    gcode = next(f for f in spec.fields("InventoryList") if f.name == "gcode")
    assert gcode.max_length == 10 and gcode.required


BILLION_LAUGHS = ('<!ENTITY l0 "ha">' + "".join(
    f'<!ENTITY l{n} "{("&l" + str(n - 1) + ";") * 10}">' for n in range(1, 10)))


def test_every_entity_and_dtd_shape_is_refused_before_its_content_is_used(tmp_path):
    """External entities (a local file, a parameter entity, an external DTD) and entity expansion
    (exponential and quadratic) are refused as a whole file, and nothing they point at reaches the
    reason. Without the DOCTYPE refusal these files would get other rules (or expand)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("LEAKED-FROM-FILE")
    dtd = tmp_path / "external.dtd"
    dtd.write_text(f'<!ENTITY leak SYSTEM "file://{secret}">')
    root_open = '<ceb:CEB603Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x" version="1.0">'
    cases = {
        "file_entity.xml": f'<!DOCTYPE m [<!ENTITY e SYSTEM "file://{secret}">]>{root_open}<ceb:x>&e;</ceb:x>',
        "entity_in_attribute.xml": '<!DOCTYPE m [<!ENTITY e "injected">]>' + root_open.replace('guid="x"', 'guid="&e;"'),
        "parameter_entity.xml": f'<!DOCTYPE m [<!ENTITY % p SYSTEM "file://{dtd}"> %p;]>{root_open}&leak;',
        "external_dtd.xml": f'<!DOCTYPE m SYSTEM "file://{dtd}">{root_open}&leak;',
        "network_dtd.xml": f'<!DOCTYPE m SYSTEM "http://127.0.0.1:9/x.dtd">{root_open}',
        "billion_laughs.xml": f"<!DOCTYPE m [{BILLION_LAUGHS}]>{root_open}&l9;",
        "quadratic_blowup.xml": f'<!DOCTYPE m [<!ENTITY a "{"x" * 50_000}">]>{root_open}{"&a;" * 2_000}',
    }
    for name, body in cases.items():
        path = write(tmp_path, name, f'<?xml version="1.0" encoding="UTF-8"?>{body}</ceb:CEB603Message>')
        with pytest.raises(SourceRejected) as exc:
            list(read_ceb_file(path))
        assert exc.value.rule == "dtd_refused", name
        assert str(path) in exc.value.reason and "LEAKED" not in exc.value.reason, name


ODD_VALUES = ["a\tb", "back\\slash", "new\nline", "\\N", "  spaced  ", "😀 non-BMP 𠀀", "<&>\"'", "x\\t\\n",
              "\t\\\n\\\t", "end\\"]


def odd_message() -> str:
    docs = []
    for n, value in enumerate(ODD_VALUES, start=1):
        doc = inventory(guid(n))
        doc["head"]["ebpName"] = doc["head"]["note"] = doc["lines"][0]["gname"] = doc["lines"][1]["note"] = value
        docs.append(doc)
    xml = render_message("CEB603Message", guid(99), docs, TRANSFER)
    # A CR can only arrive as a character reference; empty elements read as NULL.
    return (xml.replace("<ceb:ebpName>a\tb</ceb:ebpName>", "<ceb:ebpName>cr&#13;here&#13;&#10;x</ceb:ebpName>")
            .replace("<ceb:note>back\\slash</ceb:note>", "<ceb:note></ceb:note>", 1)
            .replace("<ceb:note>\\N</ceb:note>", "<ceb:note/>", 1))


def as_copy_lines(items) -> dict[str, list[str]]:
    """Record-path rows as the whole-message path writes them: record, guid, escaped values."""
    escapes = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
    lines: dict[str, list[str]] = {}
    for item in items:
        assert not isinstance(item, Rejected), item
        if isinstance(item, Row):
            values = [str(item.record_no), item.message_guid] + list(item.values)
            lines.setdefault(item.table, []).append("\t".join("" if v is None else v.translate(escapes) for v in values))
    return lines


@pytest.mark.parametrize("variant", ["odd_values", "mixed_shapes", "crlf", "undeclared", "plain", "bom",
                                     "gbk_declared", "gbk_undeclared"])
def test_the_whole_message_path_writes_what_the_record_path_reads(tmp_path, variant):
    """Including BOM-prefixed and GBK files (declared, or undeclared and transcoded from GB 18030
    as the record path does): the sandbox sends about 6% of its files so."""
    xml = odd_message()
    encoding, bom = "utf-8", False
    if variant == "mixed_shapes":  # an optional field in some heads and lines only: gaps found per row
        for _ in range(2):  # the first head's note, then the first line's
            start = xml.index("<ceb:note>")
            xml = xml[:start] + xml[xml.index("</ceb:note>", start) + len("</ceb:note>"):]
        xml = xml.replace("</ceb:itemNo>", "</ceb:itemNo><ceb:itemRecordNo>R1</ceb:itemRecordNo>", 1)
    elif variant == "crlf":
        xml = xml.replace("\n", "\r\n")
    elif variant == "undeclared":
        xml = xml.split("\n", 1)[1]
    elif variant == "bom":
        bom = True
    elif variant.startswith("gbk"):  # (GB 18030 holds every odd value, emoji included)
        xml = xml.replace('encoding="UTF-8"', 'encoding="GB18030"')
        if variant == "gbk_undeclared":
            xml = xml.split("\n", 1)[1]
        encoding = "gb18030"
    elif variant == "plain":
        xml = render_message("CEB303Message", guid(98), [{"head": {
            "guid": guid(1), "appType": "1", "appTime": "20241111101010", "appStatus": "2", "orderType": "E",
            "orderNo": "O1", "ebpCode": "5001960AB1", "ebpName": "平台", "ebcCode": "5001900001", "ebcName": "企业",
            "goodsValue": "21.00", "freight": "0", "currency": "142"},
            "lines": [{"gnum": "1", "itemNo": "SKU1", "itemName": "耳机", "itemDescribe": "无", "barCode": "无",
                       "unit": "007", "currency": "142", "qty": "2", "price": "10.50", "totalPrice": "21.00",
                       "country": "132"}]}], TRANSFER)
    path = write(tmp_path, "m.xml", xml, encoding, bom)
    fast = fast_copy_lines(path.read_bytes())
    assert fast is not None, "the fast path must take a valid message in UTF-8 or GBK"
    assert {c.table: c.text.decode().split("\n")[:-1] for c in fast} == as_copy_lines(read_ceb_file(path))
    assert [type(i) for i in read_ceb_message(path)] == [CopyLines] * 2
    heads = fast[0]
    assert heads.records == heads.rows == (1 if variant == "plain" else len(ODD_VALUES)) and fast[1].records == 0


@pytest.mark.parametrize("case", ["utf16", "gbk_unreadable", "comment", "bom_comment", "cdata", "pi",
                                  "foreign_namespace_document", "not_well_formed", "too_large"])
def test_the_whole_message_path_leaves_every_odd_file_to_the_record_path(tmp_path, monkeypatch, case):
    xml = render_message("CEB603Message", guid(99), [inventory(guid(1)), inventory(guid(2))], TRANSFER)
    data = {
        "utf16": xml.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"),
        # Undeclared, not UTF-8 and not GB 18030 either: the record path names the decoding error.
        "gbk_unreadable": xml.split("\n", 1)[1].encode("gbk").replace("耳".encode("gbk"), b"\x81\x30\xff", 1),
        "comment": xml.replace("<ceb:Inventory>", "<!-- c --><ceb:Inventory>", 1).encode(),
        "bom_comment": b"\xef\xbb\xbf" + xml.replace("<ceb:Inventory>", "<!-- c --><ceb:Inventory>", 1).encode(),
        "cdata": xml.replace("<ceb:gname>耳机</ceb:gname>", "<ceb:gname><![CDATA[耳机]]></ceb:gname>", 1).encode(),
        "pi": xml.replace("<ceb:Inventory>", "<?pi x?><ceb:Inventory>", 1).encode(),
        # A record to the record path (which rejects it), but no document to the stylesheets.
        "foreign_namespace_document": xml.replace("<ceb:Inventory>", '<x:Inventory xmlns:x="urn:other">', 1)
                                         .replace("</ceb:Inventory>", "</x:Inventory>", 1).encode(),
        "not_well_formed": xml[: len(xml) // 2].encode(),
        "too_large": xml.encode(),
    }[case]
    if case == "too_large":
        monkeypatch.setattr(reader, "MAX_FAST_BYTES", len(data) - 1)
    assert fast_copy_lines(data) is None
    path = tmp_path / f"{case}.xml"
    path.write_bytes(data)

    def outcome(items):
        try:
            return [i for i in items]
        except SourceRejected as exc:
            return (exc.rule, exc.reason, exc.records_seen)

    result = outcome(read_ceb_message(path))
    assert result == outcome(read_ceb_file(path))
    assert isinstance(result, tuple) or not any(isinstance(i, CopyLines) for i in result)


def test_hostile_files_are_refused_by_the_whole_message_reader_too(tmp_path):
    """Every DTD shape is refused as a whole file by what the customs feed reads: the fast path
    never parses a DOCTYPE (any '<!' sends the file to the record path, which refuses it)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("LEAKED-FROM-FILE")
    root_open = '<ceb:CEB603Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x" version="1.0">'
    for name, body in {
        "file_entity.xml": f'<!DOCTYPE m [<!ENTITY e SYSTEM "file://{secret}">]>{root_open}<ceb:x>&e;</ceb:x>',
        "billion_laughs.xml": f"<!DOCTYPE m [{BILLION_LAUGHS}]>{root_open}&l9;",
        "network_dtd.xml": f'<!DOCTYPE m SYSTEM "http://127.0.0.1:9/x.dtd">{root_open}',
    }.items():
        path = write(tmp_path, name, f'<?xml version="1.0" encoding="UTF-8"?>{body}</ceb:CEB603Message>')
        assert fast_copy_lines(path.read_bytes()) is None
        with pytest.raises(SourceRejected) as exc:
            list(read_ceb_message(path))
        assert exc.value.rule == "dtd_refused" and "LEAKED" not in exc.value.reason, name
    # The stylesheets read nothing but the message (and run with XSLTAccessControl.DENY_ALL).
    for kind in spec.MESSAGE_ENTITIES.values():
        for table in filter(None, (kind.head_table, kind.line_table)):
            for escaped in (False, True):
                text = reader._stylesheet(kind, table, escaped)
                assert "document(" not in text and "extension-element-prefixes" not in text and "import" not in text


def test_a_document_template_writes_what_render_document_writes():
    """The sandbox renders documents from tuples (DocumentTemplate): the same text as the dict path,
    including the careful pass for a None (left out) and markup in a value (escaped)."""
    from parkdw.ceb.writer import DocumentTemplate, render_document

    head_keys = ("orderNo", "guid", "appType", "appTime", "appStatus", "orderType", "ebpCode", "ebpName", "ebcCode",
                 "ebcName", "goodsValue", "freight", "currency")  # not in XSD order: the template orders them
    line_keys = ("gnum", "itemNo", "itemName", "unit", "currency", "qty", "price", "totalPrice")
    template = DocumentTemplate("CEB303Message", head_keys, line_keys)
    head = ("ORD1", "G-1", "1", "20240304120000", "2", "E", "P1", "平台", "E1", "企业", "12.30", "0", "142")
    lines = [(1, "SKU1", "耳机", "007", "142", 2, "6.15", "12.30"), (2, "SKU2", "A&B <x>", "007", "142", 1, "1", "1")]
    for line_values in ([lines[0]], lines):
        doc = {"head": dict(zip(head_keys, head)), "lines": [dict(zip(line_keys, l)) for l in line_values]}
        assert template.render(head, line_values) == render_document("CEB303Message", doc)
    assert "A&amp;B &lt;x&gt;" in template.render(head, lines)
    # Many documents as columns: a column per key (or one value for all), the lines one after another.
    heads = [head, ("ORD2", *head[1:7], None, *head[8:]), ("ORD3", *head[1:])]  # a None: left out
    per_document = [[lines[0]], [lines[0]], lines]  # the last has a line with markup: escaped
    head_columns = [[h[k] for h in heads] for k in range(len(head_keys))]
    head_columns[2] = "1"  # the same appType for all
    flat_lines = [l for ls in per_document for l in ls]
    line_columns = [[l[k] for l in flat_lines] for k in range(len(line_keys))]
    assert template.render_columns(head_columns, line_columns, [1, 1, 2]) == [
        template.render(h, ls) for h, ls in zip(heads, per_document)]
    assert template.render_columns([c[:2] if isinstance(c, list) else c for c in head_columns],
                                   [c[:2] for c in line_columns], [1, 1]) == [
        template.render(h, ls) for h, ls in zip(heads[:2], per_document[:2])]  # one line each
    receipt = DocumentTemplate("CEB403Message", ("guid", "orderNo", "charge", "currency"))
    assert receipt.render(("G-2", None, "1.00", "142")) == render_document(
        "CEB403Message", {"guid": "G-2", "orderNo": None, "charge": "1.00", "currency": "142"})
    assert "orderNo" not in receipt.render(("G-2", None, "1.00", "142"))
    assert receipt.render_columns([["G-3", "G-4"], ["O3", None], "1.00", "142"]) == [
        receipt.render(("G-3", "O3", "1.00", "142")), receipt.render(("G-4", None, "1.00", "142"))]
    with pytest.raises(ValueError, match="not XSD fields"):
        DocumentTemplate("CEB403Message", ("guid", "orderNumber"))


@pytest.mark.parametrize("case", ["bad_gcode", "zero_qty", "plus_qty_and_bad_gcode", "every_document_bad",
                                  "envelope_only", "odd_values_and_a_missing_field"])
def test_a_message_with_rejected_documents_loads_the_rest_as_the_record_path_does(tmp_path, case):
    """The whole-message path checks each document of a message that fails as a whole: it
    rejects the very documents the record path rejects (same reason, field, raw text) and writes
    the others' rows, numbered by their place in the message, as the record path reads them."""
    docs = [inventory(guid(n)) for n in range(1, 6)]
    xml = render_message("CEB603Message", guid(99), docs, TRANSFER)
    bad_gcode = ("<ceb:gcode>8517629900</ceb:gcode>", "<ceb:gcode>8517</ceb:gcode>")

    def in_document(text: str, n: int, old: str, new: str) -> str:  # the n-th document (1-based) only
        at = 0
        for _ in range(n):
            at = text.index("<ceb:Inventory>", at) + 1
        end = text.index("</ceb:Inventory>", at)
        return text[:at] + text[at:end].replace(old, new, 1) + text[end:]

    if case == "bad_gcode":
        xml = in_document(xml, 2, *bad_gcode)
    elif case == "zero_qty":
        xml = in_document(xml, 4, "<ceb:qty>2</ceb:qty>", "<ceb:qty>0.00</ceb:qty>")
    elif case == "plus_qty_and_bad_gcode":  # "+2" is a decimal the record path loads as it is
        xml = in_document(in_document(xml, 1, "<ceb:qty>2</ceb:qty>", "<ceb:qty>+2</ceb:qty>"), 5, *bad_gcode)
    elif case == "every_document_bad":
        for n in range(1, 6):
            xml = in_document(xml, n, *bad_gcode)
    elif case == "envelope_only":  # the message is invalid, its documents are not: all load
        xml = xml.replace("<ceb:dxpMode>DXP</ceb:dxpMode>", "", 1)
    else:
        xml = odd_message()
        xml = in_document(xml, 3, "<ceb:gcode>8517629900</ceb:gcode>", "")
    path = write(tmp_path, f"{case}.xml", xml)
    record_path = list(read_ceb_file(path))
    whole = list(read_ceb_message(path))
    assert not any(isinstance(i, Row) for i in whole), "the documents that load go through the stylesheets"
    rejected = [i for i in record_path if isinstance(i, Rejected)]
    assert [i for i in whole if isinstance(i, Rejected)] == rejected
    expected_rejected = {"bad_gcode": [2], "zero_qty": [4], "plus_qty_and_bad_gcode": [5],
                         "every_document_bad": [1, 2, 3, 4, 5], "envelope_only": [],
                         "odd_values_and_a_missing_field": [3]}[case]
    assert [r.record_no for r in rejected] == expected_rejected
    assert all(str(path) in r.reason and r.raw_text.startswith("<ceb:Inventory") and r.raw_text.endswith(">")
               for r in rejected)
    lines = [i for i in whole if isinstance(i, CopyLines)]
    assert {c.table: c.text.decode().split("\n")[:-1] for c in lines} == as_copy_lines(
        i for i in record_path if not isinstance(i, Rejected))
    loaded = sum(1 for i in record_path if isinstance(i, RecordDone))
    assert sum(c.records for c in lines) == loaded == (len(ODD_VALUES) if case.startswith("odd") else 5) - len(rejected)
