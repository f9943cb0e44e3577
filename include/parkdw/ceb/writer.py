"""Render CEB export messages as the E-port exchange delivers them (fields in XSD order)."""

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


def _render(message_type: str, message_guid: str, documents: list[dict], transfer: dict[str, str],
            escaped: bool) -> tuple[str, int]:
    """The message text and the number of tags in its markup (what the values add not counted)."""
    kind = spec.MESSAGE_ENTITIES[message_type]
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<ceb:{message_type} guid="{message_guid}" version="1.0" xmlns:ceb="{spec.CEB_NS}" xmlns:xsi="{_XSI}">',
    ]
    field_tags = chunks = 0

    def add_fields(element: str, values: dict, indent: str) -> None:
        nonlocal field_tags, chunks
        # Optional fields left as None are omitted; required ones are the caller's duty (the XSD checks).
        if escaped or None in values.values():
            values = {k: (escape(str(v)) if escaped else v) for k, v in values.items() if v is not None}
        template, tags = _template(element, indent, tuple(values))
        out.append(template % values)
        field_tags += tags
        chunks += 1

    for doc in documents:
        out.append(f"  <ceb:{kind.entity}>")
        if kind.line is None:
            add_fields(kind.head, doc, "    ")
        else:
            out.append(f"    <ceb:{kind.head}>")
            add_fields(kind.head, doc["head"], "      ")
            out.append(f"    </ceb:{kind.head}>")
            for line in doc["lines"]:
                out.append(f"    <ceb:{kind.line}>")
                add_fields(kind.line, line, "      ")
                out.append(f"    </ceb:{kind.line}>")
        out.append(f"  </ceb:{kind.entity}>")
    if message_type != "CEB604Message" and message_type != "CEB792Message":
        # Data messages carry the sender envelope; reply messages do not.
        out.append("  <ceb:BaseTransfer>")
        out.append("\n".join(f"    <ceb:{k}>{escape(transfer[k])}</ceb:{k}>" for k in _BASE_TRANSFER))
        out.append("  </ceb:BaseTransfer>")
        field_tags += 2 * len(_BASE_TRANSFER)
        chunks += 1
    out.append(f"</ceb:{message_type}>")
    # Every line that is not a run of fields is one tag (declaration, root, openings, closings).
    return "\n".join(out) + "\n", field_tags + len(out) - chunks


def render_message(message_type: str, message_guid: str, documents: list[dict], transfer: dict[str, str]) -> str:
    """One CEBxxxMessage holding up to 100 documents.

    A document is {"head": {...}, "lines": [{...}, ...]} for head/list entities, or a flat
    dict of fields for flat ones (receipts, waybills, replies).
    """
    xml, tags = _render(message_type, message_guid, documents, transfer, escaped=False)
    # Values are nearly always codes, numbers and plain names, so the message is first rendered
    # unescaped; a value with a markup character shows as an extra '<', '>' or '&', and only then
    # is every value escaped.
    if xml.count("<") != tags or xml.count(">") != tags or "&" in xml:
        xml = _render(message_type, message_guid, documents, transfer, escaped=True)[0]
    return xml
