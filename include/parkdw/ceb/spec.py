"""The CEB export message spec, read from the official 2022-05 XSD (the one source of field names).

Both the sandbox's XML writer and the raw-table layout are derived from here, so a field is
named the same way in the file, in the raw table (snake_case) and in the docs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lxml import etree

CEB_NS = "http://www.chinaport.gov.cn/ceb"
XS_NS = "http://www.w3.org/2001/XMLSchema"
SCHEMA_DIR = Path(__file__).parent / "schemas"
XSD_PATH = SCHEMA_DIR / "export_202205.xsd"


@dataclass(frozen=True)
class Field:
    name: str  # as in the XSD (e.g. "fCurrency")
    column: str  # snake_case raw column (e.g. "f_currency")
    required: bool
    max_length: int | None
    xsd_type: str  # string | decimal | int


@dataclass(frozen=True)
class EntityKind:
    """One document entity in a message (e.g. Inventory = InventoryHead + InventoryList)."""

    entity: str  # element name repeated inside the message, e.g. "Inventory"
    head: str  # element holding the head fields (the entity itself when flat)
    line: str | None  # element of the list lines, or None for flat entities

    @property
    def head_table(self) -> str:
        return "ceb_" + snake(self.head)

    @property
    def line_table(self) -> str | None:
        return "ceb_" + snake(self.line) if self.line else None


# The export messages the warehouse ingests, by message type.
MESSAGE_ENTITIES: dict[str, EntityKind] = {
    "CEB303Message": EntityKind("Order", "OrderHead", "OrderList"),
    "CEB403Message": EntityKind("Receipts", "Receipts", None),
    "CEB505Message": EntityKind("Logistics", "Logistics", None),
    "CEB603Message": EntityKind("Inventory", "InventoryHead", "InventoryList"),
    "CEB604Message": EntityKind("InventoryReturn", "InventoryReturn", None),
    "CEB607Message": EntityKind("WayBill", "WayBillHead", "WayBillList"),
    "CEB701Message": EntityKind("SummaryApply", "SummaryApplyHead", "SummaryApplyList"),
    "CEB792Message": EntityKind("SummaryResult", "SummaryResultHead", "SummaryResultList"),
}


@lru_cache(maxsize=None)  # (table names are derived per document read)
def snake(name: str) -> str:
    """XSD element name -> raw column/table name: fCurrency -> f_currency, POD -> pod."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return s.lower()


@lru_cache(maxsize=1)
def _xsd_tree() -> etree._ElementTree:
    return etree.parse(str(XSD_PATH))


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The compiled XSD (the ds:Signature import resolves to the local stand-in)."""
    return etree.XMLSchema(_xsd_tree())


@lru_cache(maxsize=None)
def fields(element: str) -> tuple[Field, ...]:
    """The simple-typed child fields of a global element, in XSD sequence order."""
    ns = {"xs": XS_NS}
    nodes = _xsd_tree().xpath(f"/xs:schema/xs:element[@name='{element}']/xs:complexType/xs:sequence/xs:element[@name]", namespaces=ns)
    if not nodes:
        raise KeyError(f"element {element!r} has no fields in {XSD_PATH.name}")
    result = []
    for node in nodes:
        restriction = node.find(f"{{{XS_NS}}}simpleType/{{{XS_NS}}}restriction")
        base = restriction.get("base", "xs:string").split(":")[-1] if restriction is not None else "string"
        max_length = None
        if restriction is not None:
            for facet in ("length", "maxLength"):
                f = restriction.find(f"{{{XS_NS}}}{facet}")
                if f is not None:
                    max_length = int(f.get("value"))
        result.append(
            Field(
                name=node.get("name"),
                column=snake(node.get("name")),
                required=node.get("minOccurs", "1") != "0",
                max_length=max_length,
                xsd_type=base,
            )
        )
    return tuple(result)


# What every raw row carries of its load: the batch (audit.load_batch names its source file or
# page and checksum, once per batch rather than on each of its rows), the record in that source,
# and the CEB message it came in.
LINEAGE_COLUMNS = ("_batch_id", "_record_no", "_message_guid")


def head_columns(kind: EntityKind) -> list[str]:
    return [f.column for f in fields(kind.head)]


def line_columns(kind: EntityKind) -> list[str]:
    # List lines carry their head's guid and their position, keyed like the spec (guid, gnum).
    return ["head_guid", "line_no"] + [f.column for f in fields(kind.line)] if kind.line else []
