"""Render CEB export messages as the E-port exchange delivers them (fields in XSD order).

A message is rendered document by document (render_document), so a producer can keep each
document as text as soon as it is complete and assemble messages of up to 100 later.
"""

from __future__ import annotations

from collections.abc import Callable
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate, repeat
from xml.sax.saxutils import escape

from parkdw.ceb import spec

_BASE_TRANSFER = ("copCode", "copName", "dxpMode", "dxpId")
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


@lru_cache(maxsize=None)
def _renderer(element: str, indent: str, keys: tuple[str, ...]) -> tuple[Callable[[dict], str], int]:
    """A function writing the element (its opening tag at `indent`, its fields present in `keys` in
    XSD order, its closing tag), and the number of '<' in that markup.

    Documents of one kind always carry the same keys, so each kind gets one compiled f-string
    (about three times faster than %-formatting the dict). Only XSD field names reach the
    generated code, as string literals; keys that are no field are ignored. Values are written
    as str() spells them, as the escaping pass does (a Decimal's str() is about three times
    faster than its format()).
    """
    present = set(keys)
    names = [f.name for f in spec.fields(element) if f.name in present]
    inner = indent + "  "
    body = (f"{indent}<ceb:{element}>\n"
            + "\n".join(f"{inner}<ceb:{name}>{{v[{name!r}]!s}}</ceb:{name}>" for name in names)
            + f"\n{indent}</ceb:{element}>")
    namespace: dict = {}
    exec(f"def render(v):\n    return f{body!r}\n", namespace)  # noqa: S102 - code built from the XSD's names only
    return namespace["render"], 2 * len(names) + 2


def _fields(element: str, values: dict[str, object], indent: str, escaped: bool) -> tuple[str, int]:
    # Optional fields left as None are omitted; required ones are the caller's duty (the XSD checks).
    # The plain pass writes every value as it is (None as "None"); render_document then decides
    # whether the careful pass, which drops None and escapes, is needed.
    if escaped:
        values = {k: escape(str(v)) for k, v in values.items() if v is not None}
    render, tags = _renderer(element, indent, tuple(values))
    return render(values), tags


def _document(kind: spec.EntityKind, doc: dict, escaped: bool) -> tuple[str, int]:
    """The document's lines and the number of '<' in its markup (what the values add not counted)."""
    if kind.line is None:  # a flat entity is its own head element
        return _fields(kind.head, doc, "  ", escaped)
    text, tags = _fields(kind.head, doc["head"], "    ", escaped)
    out = [f"  <ceb:{kind.entity}>", text]
    for line in doc["lines"]:
        text, n = _fields(kind.line, line, "    ", escaped)
        out.append(text)
        tags += n
    out.append(f"  </ceb:{kind.entity}>")
    return "\n".join(out), tags + 2


def render_document(message_type: str, doc: dict) -> str:
    """One document of a message, as the lines between the message's opening and closing tags.

    A document is {"head": {...}, "lines": [{...}, ...]} for head/list entities, or a flat
    dict of fields for flat ones (receipts, waybills, replies).
    """
    kind = spec.MESSAGE_ENTITIES[message_type]
    text, tags = _document(kind, doc, escaped=False)
    # Values are nearly always present codes, numbers and plain names, so they are first written
    # as they are. A None shows as ">None<", a value with markup as an extra '<' or an '&' (a
    # lone '>' is legal in text): only then is the document written again, leaving out None
    # and escaping every value.
    if ">None<" in text or "&" in text or text.count("<") != tags:
        text = _document(kind, doc, escaped=True)[0]
    return text


class DocumentTemplate:
    """render_document for documents given as tuples of values in a fixed key order: one compiled
    f-string per element with positional fields, so a producer of many documents of one shape
    (the sandbox) builds no dict per document. The same text as render_document for the same
    values: the same check sends a document with a None, an '&' or markup in a value to
    render_document's careful pass (the values are then made into the dict it takes).
    """

    def __init__(self, message_type: str, head_keys: tuple[str, ...], line_keys: tuple[str, ...] = ()) -> None:
        self.message_type, self.head_keys, self.line_keys = message_type, head_keys, line_keys
        kind = spec.MESSAGE_ENTITIES[message_type]
        self.flat = kind.line is None
        if self.flat == bool(line_keys):
            raise ValueError(f"{message_type}: line keys are for head/list documents only")
        self._head, self._heads, self._head_tags = self._compile(kind.head, head_keys, "  " if self.flat else "    ")
        if not self.flat:
            self._line, self._lines, self._line_tags = self._compile(kind.line, line_keys, "    ")
            self._open, self._close = f"  <ceb:{kind.entity}>\n", f"\n  </ceb:{kind.entity}>"

    @staticmethod
    def _compile(element: str, keys: tuple[str, ...], indent: str) -> tuple[Callable, Callable, int]:
        """The element's renderer of one tuple of values, its renderer of columns (a list of texts,
        one per row), and the number of '<' in its markup."""
        position = {k: i for i, k in enumerate(keys)}
        names = [f.name for f in spec.fields(element) if f.name in position]
        if len(names) != len(keys):
            raise ValueError(f"{element}: not XSD fields: {sorted(set(keys) - set(names))}")
        inner = indent + "  "
        body = (f"{indent}<ceb:{element}>\n"
                + "\n".join(f"{inner}<ceb:{name}>{{v{position[name]}!s}}</ceb:{name}>" for name in names)
                + f"\n{indent}</ceb:{element}>")
        values = ", ".join(f"v{i}" for i in range(len(keys)))
        namespace: dict = {}
        # Code built from the XSD's names only; the columns' renderer is one comprehension (no call per row).
        exec(f"def render(v):\n    {values}, = v\n    return f{body!r}\n"  # noqa: S102
             f"def render_columns(*columns):\n    return [f{body!r} for {values}, in zip(*columns)]\n", namespace)
        return namespace["render"], namespace["render_columns"], 2 * len(names) + 2

    def render(self, head: tuple, lines: list[tuple] = ()) -> str:
        if self.flat:
            text, tags = self._head(head), self._head_tags
        else:
            render_line = self._line
            text = self._open + self._head(head) + "\n" + "\n".join([render_line(l) for l in lines]) + self._close
            tags = self._head_tags + self._line_tags * len(lines) + 2
        if ">None<" in text or "&" in text or text.count("<") != tags:
            return render_document(self.message_type, self.as_dict(head, lines))
        return text

    def render_columns(self, head: list, lines: list = (), lines_per_document: list[int] = ()) -> list[str]:
        """render() of many documents given as columns: head[k] holds key k's value for every document
        (a list) or one value for all; lines likewise for the documents' lines, one after another,
        lines_per_document[i] of them for document i. Columns are checked whole, at C speed; a
        document with a None or markup in a value is rendered again on its own, by render()."""
        n = len(lines_per_document) if not self.flat else max(len(c) for c in head if isinstance(c, list))
        texts = self._heads(*(c if isinstance(c, list) else repeat(c, n) for c in head))
        redo = set().union(*(_rows_needing_care(c, n) for c in head))
        if not self.flat:
            m = sum(lines_per_document)
            line_texts = self._lines(*(c if isinstance(c, list) else repeat(c, m) for c in lines))
            starts = list(accumulate(lines_per_document, initial=0))
            opening, closing = self._open, self._close
            texts = [f"{opening}{h}\n{line_texts[k]}{closing}" if count == 1
                     else f"{opening}{h}\n" + "\n".join(line_texts[k:k + count]) + closing
                     for h, k, count in zip(texts, starts, lines_per_document)]
            redo.update(bisect_right(starts, k) - 1 for k in set().union(*(_rows_needing_care(c, m) for c in lines)))
        for i in redo:
            row = tuple(c[i] if isinstance(c, list) else c for c in head)
            row_lines = [tuple(c[k] if isinstance(c, list) else c for c in lines)
                         for k in range(starts[i], starts[i + 1])] if not self.flat else ()
            texts[i] = self.render(row, row_lines)
        return texts

    def as_dict(self, head: tuple, lines: list[tuple] = ()) -> dict:
        """The document as render_document takes it."""
        if self.flat:
            return dict(zip(self.head_keys, head))
        return {"head": dict(zip(self.head_keys, head)), "lines": [dict(zip(self.line_keys, l)) for l in lines]}


def _rows_needing_care(column, n: int):
    """The rows of a column whose value is None or holds '&' or '<' (all n rows for such a constant)."""
    if not isinstance(column, list):
        return range(n) if column is None or "&" in str(column) or "<" in str(column) else ()
    try:
        joined = "".join(column)
    except TypeError:  # numbers (or None) among the values
        joined = "" if None in column else "".join(map(str, column))
    if joined and "&" not in joined and "<" not in joined:
        return ()
    return [i for i, v in enumerate(column) if v is None or "&" in str(v) or "<" in str(v)]


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
    out += (f"</ceb:{message_type}>", "")  # the empty item ends the text with a newline, without a copy
    return "\n".join(out)


def render_message(message_type: str, message_guid: str, documents: list[dict], transfer: dict[str, str]) -> str:
    """One CEBxxxMessage holding up to 100 documents (see render_document)."""
    return assemble_message(message_type, message_guid, [render_document(message_type, d) for d in documents],
                            transfer)
