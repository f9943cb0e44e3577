"""Render CEB export messages as the E-port exchange delivers them (fields in XSD order)."""

from __future__ import annotations

from functools import lru_cache
from xml.sax.saxutils import escape

from parkdw.ceb import spec

_BASE_TRANSFER = ("copCode", "copName", "dxpMode", "dxpId")


@lru_cache(maxsize=None)
def _tags(element: str, indent: str) -> tuple[tuple[str, str, str], ...]:
    """(field, opening, closing) per field of an element, in XSD order: built once."""
    return tuple((f.name, f"{indent}<ceb:{f.name}>", f"</ceb:{f.name}>") for f in spec.fields(element))


def _text(value: object) -> str:
    text = str(value)
    # Escaping is only needed for markup characters; most values are codes and numbers.
    return escape(text) if ("&" in text or "<" in text or ">" in text) else text


def _fields_xml(element: str, values: dict[str, object], indent: str) -> str:
    # Optional fields left as None are omitted; required ones are the caller's duty (the XSD checks).
    return "\n".join(f"{open_}{_text(v)}{close}" for name, open_, close in _tags(element, indent)
                     if (v := values.get(name)) is not None)


def render_message(message_type: str, message_guid: str, documents: list[dict], transfer: dict[str, str]) -> str:
    """One CEBxxxMessage holding up to 100 documents.

    A document is {"head": {...}, "lines": [{...}, ...]} for head/list entities, or a flat
    dict of fields for flat ones (receipts, waybills, replies).
    """
    kind = spec.MESSAGE_ENTITIES[message_type]
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<ceb:{message_type} guid="{message_guid}" version="1.0" xmlns:ceb="{spec.CEB_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
    ]
    for doc in documents:
        out.append(f"  <ceb:{kind.entity}>")
        if kind.line is None:
            out.append(_fields_xml(kind.head, doc, "    "))
        else:
            out.append(f"    <ceb:{kind.head}>")
            out.append(_fields_xml(kind.head, doc["head"], "      "))
            out.append(f"    </ceb:{kind.head}>")
            for line in doc["lines"]:
                out.append(f"    <ceb:{kind.line}>")
                out.append(_fields_xml(kind.line, line, "      "))
                out.append(f"    </ceb:{kind.line}>")
        out.append(f"  </ceb:{kind.entity}>")
    if message_type != "CEB604Message" and message_type != "CEB792Message":
        # Data messages carry the sender envelope; reply messages do not.
        out.append("  <ceb:BaseTransfer>")
        out.append("\n".join(f"    <ceb:{k}>{escape(transfer[k])}</ceb:{k}>" for k in _BASE_TRANSFER))
        out.append("  </ceb:BaseTransfer>")
    out.append(f"</ceb:{message_type}>")
    return "\n".join(out) + "\n"
