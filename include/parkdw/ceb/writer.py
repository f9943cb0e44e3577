"""Render CEB export messages as the E-port exchange delivers them (fields in XSD order).

A message is rendered document by document (render_document), so a producer can keep each
document as text as soon as it is complete and assemble messages of up to 100 later.
"""

from __future__ import annotations

from functools import lru_cache
from xml.sax.saxutils import escape

from parkdw.ceb import spec

_BASE_TRANSFER = ("copCode", "copName", "dxpMode", "dxpId")
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


@lru_cache(maxsize=None)
def _template(element: str, indent: str, keys: tuple[str, ...]) -> tuple[str, int]:
    """A %-template of the element's fields present in `keys`, in XSD order, and its tag count.

    Documents of one kind always carry the same keys, so an element renders with one C-level
    formatting step instead of a Python step per field. Keys that are no field are ignored.
    """
    present = set(keys)
    tags = [f"{indent}<ceb:{f.name}>%({f.name})s</ceb:{f.name}>" for f in spec.fields(element) if f.name in present]
    return "\n".join(tags), 2 * len(tags)


def _fields(element: str, values: dict[str, object], indent: str, escaped: bool) -> tuple[str, int]:
    # Optional fields left as None are omitted; required ones are the caller's duty (the XSD checks).
    if escaped or None in values.values():
        values = {k: (escape(str(v)) if escaped else v) for k, v in values.items() if v is not None}
    template, tags = _template(element, indent, tuple(values))
    return template % values, tags


def _document(kind: spec.EntityKind, doc: dict, escaped: bool) -> tuple[str, int]:
    """The document's lines and the number of tags in its markup (what the values add not counted)."""
    if kind.line is None:
        text, tags = _fields(kind.head, doc, "    ", escaped)
        return f"  <ceb:{kind.entity}>\n{text}\n  </ceb:{kind.entity}>", tags + 2
    text, tags = _fields(kind.head, doc["head"], "      ", escaped)
    out = [f"  <ceb:{kind.entity}>", f"    <ceb:{kind.head}>", text, f"    </ceb:{kind.head}>"]
    for line in doc["lines"]:
        text, n = _fields(kind.line, line, "      ", escaped)
        out += (f"    <ceb:{kind.line}>", text, f"    </ceb:{kind.line}>")
        tags += n + 2
    out.append(f"  </ceb:{kind.entity}>")
    return "\n".join(out), tags + 4


def render_document(message_type: str, doc: dict) -> str:
    """One document of a message, as the lines between the message's opening and closing tags.

    A document is {"head": {...}, "lines": [{...}, ...]} for head/list entities, or a flat
    dict of fields for flat ones (receipts, waybills, replies).
    """
    kind = spec.MESSAGE_ENTITIES[message_type]
    text, tags = _document(kind, doc, escaped=False)
    # Values are nearly always codes, numbers and plain names, so they are first written as they
    # are; a value with a markup character shows as an extra '<', '>' or '&', and only then is
    # every value escaped.
    if text.count("<") != tags or text.count(">") != tags or "&" in text:
        text = _document(kind, doc, escaped=True)[0]
    return text


def assemble_message(message_type: str, message_guid: str, documents: list[str], transfer: dict[str, str]) -> str:
    """One CEBxxxMessage from up to 100 rendered documents."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<ceb:{message_type} guid="{message_guid}" version="1.0" xmlns:ceb="{spec.CEB_NS}" xmlns:xsi="{_XSI}">',
        *documents,
    ]
    if message_type != "CEB604Message" and message_type != "CEB792Message":
        # Data messages carry the sender envelope; reply messages do not.
        out.append("  <ceb:BaseTransfer>")
        out += (f"    <ceb:{k}>{escape(transfer[k])}</ceb:{k}>" for k in _BASE_TRANSFER)
        out.append("  </ceb:BaseTransfer>")
    out.append(f"</ceb:{message_type}>")
    return "\n".join(out) + "\n"


def render_message(message_type: str, message_guid: str, documents: list[dict], transfer: dict[str, str]) -> str:
    """One CEBxxxMessage holding up to 100 documents (see render_document)."""
    return assemble_message(message_type, message_guid, [render_document(message_type, d) for d in documents],
                            transfer)
