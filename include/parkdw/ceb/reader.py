"""Streaming reader of CEB export message files: XML -> raw rows, or rejected records.

A file holds one CEB message (CEB303Message, CEB603Message, ...) with up to 100 documents.
The reader walks it with lxml iterparse, validates each document against the official XSD,
maps its head and list lines to rows and frees it, so memory stays flat however large the file.
Hostile input is refused: DTDs and entities are neither loaded nor expanded, no network access.
"""

from __future__ import annotations

import codecs
import io
import re
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Iterator

from lxml import etree

from parkdw.ceb import spec
from parkdw.ingest.records import RecordDone, Rejected, Row, SourceRejected

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
        raw_text = etree.tostring(elem, encoding="unicode")[:_MAX_RAW_TEXT]
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
            raw_text=etree.tostring(elem, encoding="unicode")[:_MAX_RAW_TEXT],
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
