"""Streaming reader of CEB export message files: XML -> raw rows, or rejected records.

A file holds one CEB message (CEB303Message, CEB603Message, ...) with up to 100 documents.
The reader walks it with lxml iterparse, validates each document against the official XSD,
maps its head and list lines to rows and frees it, so memory stays flat however large the file.
Hostile input is refused: DTDs and entities are neither loaded nor expanded, no network access.

What the customs feed reads is read_ceb_message: a message of up to 16 MiB in plain UTF-8 or
GBK is parsed whole and written by one XSLT per raw table straight to COPY text (CopyLines).
Valid against the XSD as a whole with every amount positive, it is validated once; otherwise
each document is checked as the record path checks it, and those it rejects are rejected the
same way and skipped by the XSLT. Any other file goes record by record through read_ceb_file,
so what lands and what is quarantined is the same either way.
"""

from __future__ import annotations

import codecs
import io
import re
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Iterator, NamedTuple

from lxml import etree

from parkdw.ceb import spec
from parkdw.ingest.records import CopyLines, RecordDone, Rejected, Row, SourceRejected

_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")
_ERROR_ELEMENT = re.compile(r"Element '(?:\{[^}]*\})?([A-Za-z0-9_]+)'")
_EXPECTED_ELEMENT = re.compile(r"Expected is (?:one of )?\( (?:\{[^}]*\})?([A-Za-z0-9_]+)")
_MAX_RAW_TEXT = 1_000_000  # characters of a rejected document kept in quarantine

# Business rules the XSD cannot express: amounts and quantities that must be positive.
POSITIVE_FIELDS = {
    "OrderHead": ("goodsValue",),
    "OrderList": ("qty", "price", "totalPrice"),
    "Receipts": ("charge",),
    "InventoryList": ("qty", "price", "totalPrice"),
}


def detect_encoding(head: bytes) -> str:
    """Encoding of an XML file from its first bytes: BOM, then the declaration, else UTF-8/GBK."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    declared = _DECLARED_ENCODING.match(head)
    if declared:
        return declared.group(1).decode("ascii").lower()
    return "undeclared"


class _TranscodingReader(io.RawIOBase):
    """Feeds a GBK (or other legacy) file to the parser as UTF-8, chunk by chunk."""

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._raw.read(65536)
            text = self._decoder.decode(chunk, final=not chunk)
            self._pending = text.encode("utf-8")
            if not chunk:
                break
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _open_for_parse(path: Path) -> tuple[BinaryIO, str]:
    """Open a file so lxml sees bytes it can decode; returns the stream and encoding found."""
    raw = open(path, "rb")
    head = raw.read(4096)
    raw.seek(0)
    encoding = detect_encoding(head)
    if encoding != "undeclared":
        return raw, encoding  # lxml honours the BOM or declaration itself
    # No declaration: the XML default is UTF-8; partners in practice also send GBK this way.
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in iter(lambda: raw.read(1 << 20), b""):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        raw.seek(0)
        return raw, "utf-8"
    except UnicodeDecodeError:
        raw.seek(0)
        return io.BufferedReader(_TranscodingReader(raw, "gb18030")), "gbk"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _fields_of(element: etree._Element) -> dict[str, str | None]:
    return {_local(child.tag): child.text for child in element if isinstance(child.tag, str)}


def read_ceb_file(path: Path, source: str | None = None) -> Iterator[Row | RecordDone | Rejected]:
    """Yield raw rows and rejections for one CEB message file.

    Raises SourceRejected when the file as a whole is unusable (not well-formed, a DTD, a root
    that is not a supported CEB export message). Rows are not final until the loader commits.
    """
    source = source or str(path)
    stream, encoding = _open_for_parse(path)
    xsd = spec.schema()
    kind: spec.EntityKind | None = None
    message_guid = None
    record_no = 0
    depth = 0
    try:
        parser = etree.iterparse(
            stream,
            events=("start", "end"),
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        for event, elem in parser:
            if event == "start":
                depth += 1
                if depth == 1:
                    if elem.getroottree().docinfo.doctype:
                        raise SourceRejected("dtd_refused", f"{source}: DOCTYPE/DTD declarations are refused")
                    name = _local(elem.tag)
                    namespace = elem.tag[1:].split("}")[0] if elem.tag.startswith("{") else ""
                    if namespace != spec.CEB_NS or name not in spec.MESSAGE_ENTITIES:
                        raise SourceRejected(
                            "unsupported_root",
                            f"{source}: root element {elem.tag!r} is not a supported CEB export message "
                            f"(expected one of {', '.join(spec.MESSAGE_ENTITIES)} in namespace {spec.CEB_NS})",
                        )
                    kind = spec.MESSAGE_ENTITIES[name]
                    message_guid = elem.get("guid")
                continue
            depth -= 1
            if depth != 1 or kind is None:
                continue
            if _local(elem.tag) == kind.entity:
                record_no += 1
                yield from _map_document(elem, kind, xsd, record_no, message_guid, source)
            # Free what has been read: the document and any envelope siblings before it.
            elem.clear()
            parent = elem.getparent()
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        # exc.msg, not str(exc): lxml appends the parsed file's name, a spool copy for SFTP files.
        if exc.code == etree.ErrorTypes.ERR_INVALID_ENCODING:
            raise SourceRejected("bad_encoding", f"{source}: bytes are not valid {encoding} (declared or detected "
                                 f"encoding): {exc.msg}", record_no) from exc
        raise SourceRejected("not_well_formed", f"{source}: not well-formed XML: {exc.msg}", record_no) from exc
    except UnicodeDecodeError as exc:
        raise SourceRejected("bad_encoding", f"{source}: cannot decode: {exc}", record_no) from exc
    finally:
        stream.close()
    if kind is None:
        raise SourceRejected("empty_file", f"{source}: no XML root element")


@lru_cache(maxsize=1)
def _known_fields() -> frozenset[str]:
    return frozenset(f.name for kind in spec.MESSAGE_ENTITIES.values() for element in (kind.head, kind.line)
                     if element for f in spec.fields(element))


def _map_document(elem, kind: spec.EntityKind, xsd, record_no: int, message_guid, source: str):
    head_el = elem if kind.line is None else elem.find(f"{{{spec.CEB_NS}}}{kind.head}")
    head = _fields_of(head_el) if head_el is not None else {}
    guid = head.get("guid")
    if not xsd.validate(elem):
        errors = list(xsd.error_log)
        first = errors[0]
        match = _ERROR_ELEMENT.search(first.message)
        field = match.group(1) if match else None
        expected = _EXPECTED_ELEMENT.search(first.message)
        if expected and field in _known_fields():
            # A known field where another was expected: the expected one is missing (or misplaced).
            field = expected.group(1)
        details = "; ".join(e.message for e in errors[:5])
        raw_text = etree.tostring(elem, encoding="unicode", with_tail=False)[:_MAX_RAW_TEXT]
        yield Rejected(
            record_no=record_no,
            rule="xsd",
            field=field,
            record_key=guid,
            reason=f"{source}: record {record_no} ({kind.entity} guid={guid}, line {elem.sourceline}): "
            f"field {field}: {details}",
            raw_text=raw_text,
        )
        return
    broken = _rule_violation(elem, kind)
    if broken:
        field, value = broken
        yield Rejected(
            record_no=record_no, rule="positive_amount", field=field, record_key=guid,
            reason=f"{source}: record {record_no} ({kind.entity} guid={guid}, line {elem.sourceline}): "
            f"field {field}: {value!r} must be greater than zero",
            raw_text=etree.tostring(elem, encoding="unicode", with_tail=False)[:_MAX_RAW_TEXT],
        )
        return
    head_cols = spec.fields(kind.head)
    yield Row(kind.head_table, tuple(head.get(f.name) for f in head_cols), record_no, message_guid)
    if kind.line:
        line_fields = spec.fields(kind.line)
        for line_no, line_el in enumerate(elem.iterfind(f"{{{spec.CEB_NS}}}{kind.line}"), start=1):
            values = _fields_of(line_el)
            yield Row(
                kind.line_table,
                (guid, str(line_no)) + tuple(values.get(f.name) for f in line_fields),
                record_no,
                message_guid,
            )
    yield RecordDone(record_no)


def _rule_violation(elem, kind: spec.EntityKind) -> tuple[str, str] | None:
    """The first field breaking a business rule (non-positive amount), or None."""
    parts = [(kind.head, [elem if kind.line is None else elem.find(f"{{{spec.CEB_NS}}}{kind.head}")])]
    if kind.line:
        parts.append((kind.line, list(elem.iterfind(f"{{{spec.CEB_NS}}}{kind.line}"))))
    for element_name, nodes in parts:
        for name in POSITIVE_FIELDS.get(element_name, ()):
            for node in nodes:
                value = node.findtext(f"{{{spec.CEB_NS}}}{name}") if node is not None else None
                if value is not None and float(value) <= 0:  # XSD already proved it a decimal
                    return name, value
    return None


# --- Whole-message fast path -------------------------------------------------------------------
#
# Most files are clean: every document valid, every amount positive. For those, validating the
# message once and letting one XSLT per raw table write the COPY text is several times cheaper
# than a Python step per document and field. The fast path only takes a file when it can prove
# the record path would load every document of it, unchanged; anything else (a rejection to
# report, an odd encoding, markup the record path strips) goes record by record.

MAX_FAST_BYTES = 16 << 20  # larger files stream record by record (bounded memory)
_XSL_NS = "http://www.w3.org/1999/XSL/Transform"
# Marks a rejected document in a message's tree: the stylesheets write no row for it, and the
# documents after it keep their positions as record numbers. (A partner's document cannot carry
# it: the XSD allows no attributes there, so such a document is rejected itself.)
_SKIP_NS = "urn:parkdw:reader"
_SKIP = f"{{{_SKIP_NS}}}skip"
_KEPT = "[not(@parkdw:skip)]"
_TAB = "<xsl:text>&#9;</xsl:text>"


def _xsl_value(select: str, escaped: bool) -> str:
    """A COPY field of the text of the element at `select`: empty when the element is missing
    or empty (NULL, the record path's None for element.text), escaped as the loader escapes
    (\\, \t, \n, \r) in the stylesheet for messages holding such a character."""
    if not escaped:
        return f'<xsl:value-of select="{select}"/>'
    return f'<xsl:call-template name="escape"><xsl:with-param name="s" select="string({select})"/></xsl:call-template>'


def _in_order(element: str, mode: str, present: frozenset[str] | None = None) -> tuple[str, str]:
    """Templates writing each field of `element` as it comes, and the XSLT that closes a row.

    The XSD holds the fields in one sequence, each at most once, so in a valid message a head's
    or line's children are its fields in spec order with optional ones left out. Reading the
    children once in order (instead of looking each field up by name) needs only the gap before
    each: a field writes one tab per column since the field before it, found among the few
    that can precede it (back to the nearest required one); after the last child, one tab per
    optional column left out at the end. A missing field is thus an empty field: NULL.
    `present`: the optional fields every row of the message holds (the others none), when that
    is known; then every gap is fixed and no field needs a test."""
    fields = spec.fields(element)
    if present is not None:
        kept = [(k, f) for k, f in enumerate(fields, start=1) if f.required or f.name in present]
        templates = [f'<xsl:template match="ceb:{f.name}" mode="{mode}">{_choose([("", k - previous)])}'
                     f'<xsl:value-of select="."/></xsl:template>'
                     for (previous, _), (k, f) in zip([(0, None)] + kept, kept)]
        return "".join(templates), _choose([("", len(fields) - kept[-1][0])])
    templates = []
    for k, f in enumerate(fields, start=1):
        gaps = []  # (test on the previous sibling, tabs), the last one the default
        for j in range(k - 1, -1, -1):
            gaps.append((f"preceding-sibling::*[1][self::ceb:{fields[j - 1].name}]" if j else "", k - j))
            if j and fields[j - 1].required:
                break
        templates.append(f'<xsl:template match="ceb:{f.name}" mode="{mode}">{_choose(gaps)}'
                         f'<xsl:value-of select="."/></xsl:template>')
    tail = []
    for last in range(len(fields), 0, -1):
        tail.append((f"self::ceb:{fields[last - 1].name}", len(fields) - last))
        if fields[last - 1].required:
            break
    return "".join(templates), f'<xsl:for-each select="*[last()]">{_choose(tail)}</xsl:for-each>'


def _choose(gaps: list[tuple[str, int]]) -> str:
    """XSLT writing the tabs of the first gap whose test holds (the last one otherwise)."""
    def tabs(n: int) -> str:
        return f"<xsl:text>{'&#9;' * n}</xsl:text>" if n else ""
    if len(gaps) == 1:
        return tabs(gaps[0][1])
    whens = "".join(f'<xsl:when test="{test}">{tabs(n)}</xsl:when>' for test, n in gaps[:-1])
    return f"<xsl:choose>{whens}<xsl:otherwise>{tabs(gaps[-1][1])}</xsl:otherwise></xsl:choose>"


def _stylesheet(kind: spec.EntityKind, table: str, escaped: bool, present: frozenset[str] | None = None) -> str:
    """An XSLT writing a valid message's rows of one raw table as COPY text lines: record
    number (the document's position), message guid, then the columns of spec.head_columns or
    spec.line_columns; an empty field is NULL."""
    head = "" if kind.line is None else f"ceb:{kind.head}/"
    start = f"<xsl:value-of select='$record'/>{_TAB}{_xsl_value('/*/@guid', escaped)}"
    element = kind.head if table == kind.head_table else kind.line
    if escaped:  # (rare: each field looked up by name, its text escaped)
        templates = ""
        values = "".join(_TAB + _xsl_value("ceb:" + f.name, escaped) for f in spec.fields(element))
    else:
        templates, close = _in_order(element, "row", present)
        values = f'<xsl:apply-templates select="*" mode="row"/>{close}'
    if table == kind.head_table:
        rows = (start + (values if kind.line is None else f"<xsl:for-each select='ceb:{kind.head}'>{values}</xsl:for-each>")
                + "<xsl:text>&#10;</xsl:text>")
    else:
        rows = (f"<xsl:variable name='head_guid'>{_xsl_value(head + 'ceb:guid', escaped)}</xsl:variable>"
                f"<xsl:for-each select='ceb:{kind.line}'>{start}{_TAB}<xsl:value-of select='$head_guid'/>{_TAB}"
                f"<xsl:value-of select='position()'/>{values}<xsl:text>&#10;</xsl:text></xsl:for-each>")
    rep = ('<xsl:call-template name="replace"><xsl:with-param name="s" select="{s}"/>'
           '<xsl:with-param name="c" select="\'{c}\'"/><xsl:with-param name="r" select="\'{r}\'"/></xsl:call-template>')
    steps = [("$s", "\\", "\\\\"), ("string($a)", "&#9;", "\\t"), ("string($b)", "&#10;", "\\n"),
             ("string($c)", "&#13;", "\\r")]  # backslashes first, then what stands for the others
    escape = "".join(f'<xsl:variable name="{name}">{rep.format(s=s, c=c, r=r)}</xsl:variable>'
                     for name, (s, c, r) in zip("abc", steps)) + rep.format(s=steps[3][0], c=steps[3][1], r=steps[3][2])
    return f"""<xsl:stylesheet version="1.0" xmlns:xsl="{_XSL_NS}" xmlns:ceb="{spec.CEB_NS}" xmlns:parkdw="{_SKIP_NS}">
<xsl:output method="text" encoding="UTF-8"/>
<xsl:template match="/"><xsl:for-each select="/*/ceb:{kind.entity}"><xsl:variable name="record" select="position()"/><xsl:if test="not(@parkdw:skip)">{rows}</xsl:if></xsl:for-each></xsl:template>
{templates}
<xsl:template name="escape"><xsl:param name="s"/>{escape}</xsl:template>
<xsl:template name="replace"><xsl:param name="s"/><xsl:param name="c"/><xsl:param name="r"/><xsl:choose>
  <xsl:when test="contains($s, $c)"><xsl:value-of select="substring-before($s, $c)"/><xsl:value-of select="$r"/>
    <xsl:call-template name="replace"><xsl:with-param name="s" select="substring-after($s, $c)"/>
    <xsl:with-param name="c" select="$c"/><xsl:with-param name="r" select="$r"/></xsl:call-template></xsl:when>
  <xsl:otherwise><xsl:value-of select="$s"/></xsl:otherwise></xsl:choose></xsl:template>
</xsl:stylesheet>"""


class _Table(NamedTuple):
    table: str
    width: int  # its delivered columns
    plain: etree.XSLT  # values as they are
    escaping: etree.XSLT  # values escaped
    optional: tuple[str, ...]  # its optional fields
    shape: etree.XPath | None  # how many rows hold each optional field, "n,n,..."


def _xslt(text: str) -> etree.XSLT:
    # No document(), no extension functions or elements, no file or network access.
    return etree.XSLT(etree.XML(text.encode()), access_control=etree.XSLTAccessControl.DENY_ALL)


@lru_cache(maxsize=256)
def _shaped(root_name: str, table: str, present: frozenset[str]) -> etree.XSLT:
    """The plain stylesheet for messages whose rows all hold the same optional fields."""
    return _xslt(_stylesheet(spec.MESSAGE_ENTITIES[root_name], table, False, present))


class _FastKind(NamedTuple):
    kind: spec.EntityKind
    tables: tuple[_Table, ...]  # the head table, then the list lines' if any
    lines: etree.XPath  # the number of list lines in the message
    not_positive: etree.XPath  # true when a business rule would reject a document


def _plain_sequence(element: str) -> bool:
    """Whether the XSD defines the element as one sequence of spec.fields, each at most once:
    what the in-order stylesheets rely on."""
    ns = {"xs": spec.XS_NS}
    sequence = spec._xsd_tree().xpath(f"/xs:schema/xs:element[@name='{element}']/xs:complexType/*", namespaces=ns)
    if len(sequence) != 1 or sequence[0].tag != f"{{{spec.XS_NS}}}sequence":
        return False
    children = [c for c in sequence[0] if isinstance(c.tag, str)]
    return ([c.get("name") for c in children] == [f.name for f in spec.fields(element)]
            and all(c.tag == f"{{{spec.XS_NS}}}element" and c.get("maxOccurs", "1") == "1" for c in children))


@lru_cache(maxsize=None)
def _fast_kind(root_name: str) -> _FastKind | None:
    """The stylesheets and checks of one message type, or None when its XSD shape is not one the
    fast path can read (then its files go record by record)."""
    kind = spec.MESSAGE_ENTITIES[root_name]
    if not all(_plain_sequence(element) for element in (kind.head, kind.line) if element):
        return None
    ns = {"ceb": spec.CEB_NS, "parkdw": _SKIP_NS}
    tables = []
    for table, columns in ((kind.head_table, spec.head_columns(kind)), (kind.line_table, spec.line_columns(kind))):
        if not table:
            continue
        element = kind.head if table == kind.head_table else kind.line
        at = f"/*/ceb:{kind.entity}{_KEPT}" + ("" if element == kind.entity else f"/ceb:{element}")
        optional = tuple(f.name for f in spec.fields(element) if not f.required)
        counts = [f"count({at}/ceb:{name})" for name in optional]
        shape = None
        if counts:
            joined = ", ',', ".join(counts)
            shape = etree.XPath(f"concat({joined})" if len(counts) > 1 else f"string({counts[0]})", namespaces=ns)
        tables.append(_Table(table, len(columns), _xslt(_stylesheet(kind, table, False)),
                             _xslt(_stylesheet(kind, table, True)), optional, shape))
    lines = etree.XPath(f"count(/*/ceb:{kind.entity}{_KEPT}/ceb:{kind.line})" if kind.line else "0", namespaces=ns)
    paths = []
    for element, names in POSITIVE_FIELDS.items():
        at = {kind.head: "" if kind.line is None else f"/ceb:{kind.head}", kind.line: f"/ceb:{kind.line}"}.get(element)
        if at is not None:
            # not(> 0) also holds for what XPath cannot read as a number (e.g. "+1"): those go
            # record by record, where float() decides.
            paths += [f"/*/ceb:{kind.entity}{at}/ceb:{name}[not(number(.) > 0)]" for name in names]
    not_positive = etree.XPath(f"boolean({' | '.join(paths)})" if paths else "false()", namespaces=ns)
    return _FastKind(kind, tuple(tables), lines, not_positive)


def _fast_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
                           remove_comments=True, remove_pis=True)


# Encodings the whole-message path reads besides UTF-8: the GBK family partners declare. Their
# multi-byte characters never contain an ASCII '<', so the byte checks below stay exact.
_FAST_DECLARED = frozenset({"utf-8", "utf8", "utf-8-sig", "gbk", "gb2312", "gb18030"})


def _as_parsed(data: bytes) -> bytes | None:
    """The bytes lxml reads the file from, as the record path hands them to it, or None when the
    file is left to the record path.

    BOM-prefixed and GBK-declared files are parsed as they are (lxml honours the BOM or the
    declaration, as it does for the record path); an undeclared file that is not UTF-8 is
    transcoded from GB 18030, as the record path's _open_for_parse does. Refused: UTF-16 and
    other encodings, and any DTD, comment, CDATA section or processing instruction (a DOCTYPE
    must be refused, the others are stripped or merged by the record path's parser: left to it).
    """
    encoding = detect_encoding(data[:4096])
    if encoding == "undeclared":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                data = data.decode("gb18030").encode("utf-8")
            except UnicodeDecodeError:
                return None
    elif encoding not in _FAST_DECLARED:
        return None
    body = data[3:] if encoding == "utf-8-sig" else data
    if b"<!" in body:
        return None
    pis = body.count(b"<?")
    if pis == 0 or (pis == 1 and body.startswith(b"<?xml") and body[5:6] in (b" ", b"\t", b"\r", b"\n")):
        return data
    return None


def fast_copy_lines(data: bytes, source: str = "message") -> list[CopyLines | Rejected] | None:
    """A whole message's rows as COPY text per raw table, or None when the file must go record
    by record: not plain XML in UTF-8 or GBK (see _as_parsed), not well-formed, not a supported
    message, or its documents not all in the CEB namespace. When this returns lines, the record
    path would have loaded every document to exactly these rows.

    A message not valid as a whole, or with a document breaking a business rule, is checked
    document by document, as the record path checks it: each rejected document comes first, as
    the record path rejects it (`source` names the file in the reason); the stylesheets then
    write the others, numbered by their place in the message."""
    if len(data) > MAX_FAST_BYTES:
        return None
    data = _as_parsed(data)
    if data is None:
        return None
    try:
        root = etree.fromstring(data, _fast_parser())
    except etree.XMLSyntaxError:
        return None
    name = _local(root.tag)
    if root.tag != f"{{{spec.CEB_NS}}}{name}" or name not in spec.MESSAGE_ENTITIES or not root.get("guid"):
        return None  # (an empty guid would read as NULL)
    fast = _fast_kind(name)
    if fast is None:
        return None
    rejected: list[Rejected] = []
    if not spec.schema().validate(root) or fast.not_positive(root):
        rejected = _rejected_documents(root, fast.kind, source)
        if rejected is None:
            return None
    documents = len(root.findall(f"{{{spec.CEB_NS}}}{fast.kind.entity}")) - len(rejected)
    result = []
    for t, rows in zip(fast.tables, (documents, int(fast.lines(root)))):
        table, width, plain = t.table, t.width, t.plain
        if t.shape is not None:
            counts = t.shape(root).split(",")
            if all(c == "0" or int(c) == rows for c in counts):  # (the usual case)
                plain = _shaped(name, table, frozenset(f for f, c in zip(t.optional, counts) if c != "0"))
        text = bytes(plain(root))
        if (text.count(b"\n") != rows or text.count(b"\t") != rows * (width + 1)
                or b"\\" in text or b"\r" in text):
            try:
                text = bytes(t.escaping(root))
            except etree.XSLTApplyError:
                return None  # e.g. a value with so many special characters that escaping recursed too deep
            if text.count(b"\n") != rows or text.count(b"\t") != rows * (width + 1):
                return None  # (cannot happen: each line is record, guid and the columns, escaped)
        result.append(CopyLines(table, text, rows, 0 if result else documents))  # (heads first)
    return rejected + result


def _rejected_documents(root, kind: spec.EntityKind, source: str) -> list[Rejected] | None:
    """The documents of a parsed message the record path would reject, rejected as it does
    (_map_document), and marked for the stylesheets to skip; None when a document is not in the
    CEB namespace (the record path counts it as a record, the stylesheets would not)."""
    xsd, rejected, record_no, message_guid = spec.schema(), [], 0, root.get("guid")
    for document in root:
        if not isinstance(document.tag, str) or _local(document.tag) != kind.entity:
            continue
        if document.tag != f"{{{spec.CEB_NS}}}{kind.entity}":
            return None
        record_no += 1
        if xsd.validate(document) and not _rule_violation(document, kind):
            continue
        rejected += _map_document(document, kind, xsd, record_no, message_guid, source)
        document.set(_SKIP, "1")
    return rejected


def read_ceb_message(path: Path, source: str | None = None) -> Iterator[Row | RecordDone | Rejected | CopyLines]:
    """What read_ceb_file yields for a file, as loaded: the whole message as COPY text lines
    per raw table when the fast path can take it (fast_copy_lines), else record by record."""
    source = source or str(path)
    items = None
    if path.stat().st_size <= MAX_FAST_BYTES:
        items = fast_copy_lines(path.read_bytes(), source)
    if items is None:
        yield from read_ceb_file(path, source)
        return
    for item in items:
        if type(item) is Rejected or item.rows:
            yield item
