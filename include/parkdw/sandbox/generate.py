"""Write the park's partner feeds for a date range into a landing folder, plus ground truth.

Layout (one folder per partner and delivery day, as the partners deliver):
  customs/YYYY-MM-DD/CEBnnn_<origin day>_<seq>.xml   303 orders, 403 receipts, 505 waybills,
                                                      603 inventories, 604 replies, 607 bill lists,
                                                      701 summary applications, 792 summary results
  payments/YYYY-MM-DD/settlement_<pay code>_<settlement day>_<transaction day>.csv
  _sandbox/tracking/YYYY-MM-DD.jsonl                  (tracking events the sandbox API serves)
  reference/registry/YYYY-MM-DD/park_enterprises.csv  (the registry snapshot of that day)
  reference/fx/YYYY-MM-DD/cny_central_parity.csv      (business days only)
  reference/countries/YYYY-MM-DD/countries.csv        (the country reference as known that day)
  _truth/YYYY-MM-DD.json                              (what the origin day's documents imply)
  _manifest/defects_YYYY-MM-DD.jsonl                  (every defect injected on purpose)

Everything a day writes depends only on the seed and that day, so any sub-range generated on
its own gives byte-identical files. Documents can be delivered late (into a later day's
folder); the truth records, per released declaration, the day it became complete.
"""

from __future__ import annotations

import csv
import json
import math
import multiprocessing
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from parkdw.ceb.writer import DocumentTemplate, assemble_message, render_document
from parkdw.sandbox import countries, payments, tracking, world
from parkdw.sandbox.columns import digit_texts, mulmod, reversed_digits, texts, uuid_bytes, uuid_texts
from parkdw.sandbox.holidays import is_business_day

FEN = Decimal("0.01")
BATCH = 100  # documents per CEB message (the spec's maximum)
# Orders a day at scale 1 before the ramp (x0.35 at the opening to x2.6 at the end): mid-period,
# about 48,000 a day or 1.5 million a month.
BASE_ORDERS_PER_DAY = 33_000
SCENARIO_FACTOR = {"on-track": 1.0, "ahead": 1.35, "behind": 0.6}
TRADE_MODES = (("9610", 0.88), ("9710", 0.03), ("9810", 0.08), ("1210", 0.01))
FX_PAIRS = {"USD": Decimal("7.1000"), "EUR": Decimal("7.7500"), "SGD": Decimal("5.3000"), "100JPY": Decimal("4.9000")}
RELEASED = "800"
# Calibrates the on-track scenario to about 16 billion yuan over the five years at scale 1.
PRICE_LEVEL = Decimal("0.43")
REJECT_RATE = 0.04  # customs returns (100) a share of declarations...
REDECLARE_RATE = 0.6  # ...and most of those are declared again under a new guid


@lru_cache(maxsize=None)
def _doc_text(text: str) -> str:
    """A text as the documents carry it: its UTF-8 bytes, one character per byte (latin-1).

    Documents are assembled from such texts and written with .encode("latin-1"), which gives their
    UTF-8 bytes. Python holds a text with one Chinese character in two or four bytes per character,
    so every f-string, join and scan of a document, and its final UTF-8 encoding, would otherwise
    widen or narrow all its ASCII markup: a third of the rendering's time. A real Chinese text that
    reached a document by mistake makes the latin-1 encoding fail rather than pass unnoticed.
    """
    return text.encode("utf-8").decode("latin-1")


_AGENT = (world.AGENT[0], _doc_text(world.AGENT[1]))
_LOGISTICS = (world.LOGISTICS[0], _doc_text(world.LOGISTICS[1]))
TRANSFER = {"copCode": _AGENT[0], "copName": _AGENT[1], "dxpMode": "DXP", "dxpId": "DXPENT0000000001"}


@dataclass(frozen=True)
class DefectRates:
    """Rates of the defects the sandbox injects on purpose (each one written to the manifest)."""

    resend: float = 0.01  # the same document (guid) resent in a later file
    correction: float = 0.01  # an appType=2 version with a changed quantity
    deletion: float = 0.003  # an appType=3 version before release (never released)
    late_file: float = 0.02  # a declaration delivered 1-3 days late (in a later day's file)
    reply_out_of_order: float = 0.02  # the 120 reply arrives after the 800 release, a day late
    orphan_receipt: float = 0.003  # a CEB403 receipt for an order that does not exist
    orphan_waybill: float = 0.003  # a CEB505 waybill for a parcel that does not exist
    order_no_reuse: float = 0.002  # the same orderNo on a second platform
    logistics_no_reuse: float = 0.002  # a logisticsNo reused about six months later
    bad_hs_code: float = 0.002  # gcode with 4 digits or missing: fails the XSD; customs rejects
    nonpositive_amount: float = 0.002  # a line totalPrice 0 or negative; customs rejects
    currency_variant: float = 0.01  # "CNY" or "156" where the customs code "142" belongs
    wrong_timezone: float = 0.005  # appTime written in UTC instead of Beijing time
    malformed_file: float = 0.01  # a file truncated or in a wrong namespace, resent intact later
    gbk_file: float = 0.03  # a file encoded in GBK
    bom_file: float = 0.03  # a UTF-8 file with a byte-order mark

    @classmethod
    def none(cls) -> "DefectRates":
        return cls(**{f.name: 0.0 for f in fields(cls)})


@dataclass(frozen=True)
class SimulationConfig:
    start: date
    end: date  # inclusive
    seed: int = 42
    scale: float = 0.01
    scenario: str = "on-track"
    defects: DefectRates = field(default_factory=DefectRates)


_UUID4 = (~(0xC000 << 48) & ~(0xF000 << 64), (0x8000 << 48) | (4 << 76))  # version and variant bits


def _guid(rng) -> str:
    """str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(), without building the object."""
    h = "%032X" % (rng.getrandbits(128) & _UUID4[0] | _UUID4[1])
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@lru_cache(maxsize=4096)
def fx_rates(day: date) -> dict[str, Decimal]:
    """CNY central parity for a business day: a smooth drift plus a small daily wobble."""
    rng = world._rng(0, "fx", day.isoformat())
    t = (day - world.PARK_OPENED).days
    return {
        pair: (base * Decimal(str(1 + 0.02 * math.sin(t / 90 + i) + rng.uniform(-0.002, 0.002)))).quantize(Decimal("0.0001"))
        for i, (pair, base) in enumerate(FX_PAIRS.items())
    }


def rate_for(day: date, iso_currency: str) -> Decimal:
    """The rate in force on a day (CNY per one unit): that day's parity or the previous business day's."""
    if iso_currency == "CNY":
        return Decimal(1)
    while not is_business_day(day):
        day -= timedelta(days=1)
    rates = fx_rates(day)
    if iso_currency == "JPY":
        return rates["100JPY"] / 100
    return rates[iso_currency]


def orders_on(day: date, cfg: SimulationConfig) -> int:
    """Daily demand: a ramp over the years, a weekly pattern, the e-commerce peaks and troughs."""
    years = (day - world.PARK_OPENED).days / 365.25
    ramp = 0.35 + 0.45 * years  # grows from a third to about 2.6x the base over five years
    weekly = (0.9, 0.95, 1.0, 1.0, 1.05, 1.1, 0.95)[day.weekday()]
    peak = 1.0
    md = (day.month, day.day)
    if md == (11, 11):
        peak = 3.0
    elif day.month == 11 and 1 <= day.day <= 12:
        peak = 1.4
    elif md in ((6, 18), (12, 12), (9, 9), (10, 10)):
        peak = 1.8
    elif day.month == 7 and 8 <= day.day <= 12:  # Prime Day
        peak = 1.5
    elif day.month in (11, 12) and _is_black_friday_week(day):
        peak = 1.6
    cny = _chinese_new_year(day.year)
    if cny and -10 <= (day - cny).days <= 14:  # factories and carriers pause around Spring Festival
        peak *= 0.45
    n = BASE_ORDERS_PER_DAY * cfg.scale * ramp * weekly * peak * SCENARIO_FACTOR[cfg.scenario]
    rng = world._rng(cfg.seed, "volume", day.isoformat())
    return max(1, int(n * rng.uniform(0.92, 1.08)))


def _is_black_friday_week(day: date) -> bool:
    thanksgiving = date(day.year, 11, 22 + (3 - date(day.year, 11, 22).weekday()) % 7)
    return thanksgiving < day <= thanksgiving + timedelta(days=5)  # Black Friday to Cyber Monday


def _chinese_new_year(year: int) -> date | None:
    return {2023: date(2023, 1, 22), 2024: date(2024, 2, 10), 2025: date(2025, 1, 29),
            2026: date(2026, 2, 17), 2027: date(2027, 2, 6)}.get(year)


_UNITS_PER_LINE = {"9610": 1, "1210": 1, "9710": 3, "9810": 4}


@lru_cache(maxsize=4096)
def _permutation_key(seed: int, kind: str, scope: str, digits: int) -> tuple[int, int, int, int, int]:
    """Two affine maps mod 10**digits (multipliers prime to 10, so each is one-to-one), and the modulus."""
    h, modulus = world.keyed_digest((seed, kind, scope), "permutation"), 10 ** digits

    def unit(b: bytes) -> int:
        x = int.from_bytes(b, "big") % modulus | 1
        while x % 5 == 0:
            x += 2
        return x

    return (unit(h[:8]), int.from_bytes(h[8:16], "big") % modulus, unit(h[16:24]),
            int.from_bytes(h[24:32], "big") % modulus, modulus)


def _number(seed: int, kind: str, scope: str, index: int, digits: int) -> str:
    """The index-th number of this kind in its scope (a day, a year...): reusable later without
    regenerating, and one-to-one, so two indexes never share a number. (They were hashes: at scale
    1, two payments of 2023-11-03 drew one pay_no.) An affine map, the digits reversed (so
    consecutive indexes do not differ by one stride), another affine map."""
    a1, b1, a2, b2, modulus = _permutation_key(seed, kind, scope, digits)
    reversed_digits = int(f"{(index * a1 + b1) % modulus:0{digits}d}"[::-1])
    return f"{(reversed_digits * a2 + b2) % modulus:0{digits}d}"


def _slotted_number(seed: int, kind: str, scope: str, slot: int, index: int, per_slot: int, digits: int) -> str:
    """A number unique over a scope of many slots (days): the index-th of slot `slot`."""
    if not 0 <= index < per_slot:
        raise ValueError(f"{kind} index {index} out of range (at most {per_slot:,} a day)")
    return _number(seed, kind, scope, slot * per_slot + index, digits)


_SERIALS_PER_DAY = 2 * 10 ** 6  # an inventory per order and one re-declaration


def _invt_number(seed: int, day: date, serial: int) -> str:
    """The 9 digits of an invtNo, unique within its year (the number names the year, not the day)."""
    return _slotted_number(seed, "invt", str(day.year), day.timetuple().tm_yday - 1, serial, _SERIALS_PER_DAY, 9)


_PARCEL_EPOCH = date(2020, 1, 1).toordinal()
_PARCELS_PER_DAY = 10 ** 9  # 13 digits = 4 for the day (to 2047) + 9 for the parcel of the day


def _parcel_number(seed: int, day: date, index: int) -> str:
    """A parcel's logisticsNo, unique over all days (it carries no date, unlike orderNo and payNo):
    a logisticsNo comes back only where the sandbox reuses one on purpose."""
    return _slotted_number(seed, "parcel", "all days", day.toordinal() - _PARCEL_EPOCH, index, _PARCELS_PER_DAY, 13)


def _ts(t: datetime) -> str:
    # YYYYMMDDHHMMSS: about 3x faster than %-formatting six attributes (strftime is slower still).
    return t.isoformat("-")[:19].replace("-", "").replace(":", "")


_DAY = 86_400
_HH = tuple(f"{h:02d}" for h in range(24))
_MINSEC = tuple(f"{m:02d}{s:02d}" for m in range(60) for s in range(60))  # by second of the hour


@lru_cache(maxsize=1)
def _hms() -> tuple[str, ...]:
    """HHMMSS by second of the day."""
    return tuple(f"{hh}{ms}" for hh in _HH for ms in _MINSEC)


def _generator(seed: int, *parts: object) -> np.random.Generator:
    """A numpy stream per (seed, purpose, day): PCG64 keyed by sha256. The same draws on every run
    with the pinned numpy (NEP 19 allows a new numpy release to change how a distribution draws)."""
    key = world.keyed_digest((seed, *parts[:-1]), str(parts[-1]))
    return np.random.Generator(np.random.PCG64(int.from_bytes(key, "big")))


class _Day:
    """One origin day's documents by message type and delivery day, and its truth.

    The day's orders are drawn as columns and each kind of document is rendered for the whole day
    at once; a message file is written as soon as 100 documents wait for it, so memory holds the
    day's columns, one kind's documents and at most one unfinished message per (type, delivery
    day). Each file draws its guid and file-level defects from its own stream, so what a file
    holds does not depend on when it is written.
    """

    def __init__(self, day: date, cfg: SimulationConfig, out: Path) -> None:
        self.day, self.cfg, self.out = day, cfg, out
        self.iso, self.ymd = day.isoformat(), f"{day:%Y%m%d}"  # formatted once: used in every document
        self.midnight = datetime.combine(day, datetime.min.time())
        self.midnight_cst = datetime.combine(day, datetime.min.time(), payments.CST)
        self.fx: dict[str, Decimal] = {}  # rate_for(day, currency), asked three times per order
        self.rng = world._rng(cfg.seed, "day", day.isoformat())  # the day's bill lists, summaries and strays
        # The orders are drawn a column at a time; the defects from their own stream, so that
        # changing a rate does not move the orders' own draws.
        self.gen = _generator(cfg.seed, "orders", self.iso)
        self.defect_gen = _generator(cfg.seed, "defects", self.iso)
        self.rates = vars(cfg.defects)  # a defect's rate by name (asked a dozen times per order)
        self.pending: dict[tuple[date, str], list[str]] = {}  # rendered documents not yet in a file
        self.files: dict[tuple[date, str], int] = {}  # message files written so far
        self.folders: set[str] = set()  # customs folders made so far
        self.payments: list[dict] = []  # customer payments captured today (the settlement feed)
        self.parcels: list[dict] = []  # parcels released today (the carriers' tracking feed)
        self.defects: list[dict] = []
        self.truth = {
            "day": day.isoformat(), "orders": 0, "inventories": 0, "inventory_lines": 0,
            "released_inventories": 0, "released_lines": 0, "rejected_inventories": 0,
            "deleted_inventories": 0, "released_value_cny": Decimal(0),
            "released_value_cny_by_trade_mode": {}, "released_value_cny_by_available_day": {},
            "released_lines_by_available_day": {},
        }

    def stamp(self, seconds: int) -> str:
        """_ts of the time `seconds` after the day's midnight. An order's times are kept as such seconds:
        seven stamps an order, from two table lookups instead of a datetime each."""
        if 0 <= seconds < _DAY:
            return f"{self.ymd}{_HH[seconds // 3600]}{_MINSEC[seconds % 3600]}"
        return _ts(self.midnight + timedelta(seconds=seconds))

    def rate(self, iso_currency: str) -> Decimal:
        rate = self.fx.get(iso_currency)
        if rate is None:
            rate = self.fx[iso_currency] = rate_for(self.day, iso_currency)
        return rate

    def stamps(self, seconds: np.ndarray) -> list[str]:
        """stamp of each time."""
        ymd, hms = self.ymd, _hms()
        return [ymd + hms[t] if 0 <= t < _DAY else self.stamp(t) for t in seconds.tolist()]

    def chances(self, name: str, n: int) -> np.ndarray:
        """Whether each of n documents gets the defect: always n draws, whatever the rate."""
        return self.defect_gen.random(n) < self.rates[name]

    def days(self, offsets: np.ndarray) -> list[date]:
        """The day that many days after the origin day, for each offset."""
        dates = {k: self.day + timedelta(days=k) for k in np.unique(offsets).tolist()}
        return [dates[k] for k in offsets.tolist()]

    def emit_many(self, message_type: str, texts: list[str], deliveries: list[date] | None = None) -> None:
        """emit each document (delivered on the origin day, or on its day in deliveries)."""
        groups: dict[date, list[str]] = {self.day: texts}
        if deliveries is not None and any(when != self.day for when in deliveries):
            groups = {}
            for text, when in zip(texts, deliveries):
                groups.setdefault(when, []).append(text)
        for delivery, group in groups.items():
            key, start = (delivery, message_type), 0
            while start < len(group):
                docs = self.pending.setdefault(key, [])
                take = BATCH - len(docs)
                docs += group[start:start + take]
                start += take
                if len(docs) == BATCH:
                    _write_message_file(self, key, docs)
                    del self.pending[key]

    def emit(self, message_type: str, text: str, delivery: date | None = None) -> date:
        """Queue a rendered document for its message file."""
        delivery = delivery or self.day
        key = (delivery, message_type)
        docs = self.pending.setdefault(key, [])
        docs.append(text)
        if len(docs) == BATCH:
            _write_message_file(self, key, docs)
            del self.pending[key]
        return delivery

    def flush(self) -> None:
        for key in sorted(self.pending):
            _write_message_file(self, key, self.pending[key])
        self.pending.clear()

    def defect(self, name: str, **detail) -> None:
        self.defects.append({"defect": name, "origin_day": self.iso, **detail})


def simulate_day(day: date, cfg: SimulationConfig, out: Path) -> dict:
    """Write one origin day's feeds and return its ground truth."""
    d = _Day(day, cfg, out)
    firms = [e for e in world.enterprises(cfg.seed) if e.entry_date <= day]
    exporters = [e for e in firms if e.weight > 0]
    _write_registry(day, cfg, out)
    countries.write_countries(out, day)
    if is_business_day(day):
        _write_fx(day, out)
    if exporters:
        orders = _draw_orders(d, exporters)
        _order_documents(d, orders)
        consignments, summaries = _declare_all(d, orders)
        _bill_lists(d, consignments)
        _summaries(d, summaries)
        _orphans(d)
    d.flush()
    d.truth["settlements"] = payments.write_settlements(out, day, cfg.seed, d.payments)["total"]
    d.truth["tracking_events"] = tracking.write_day_events(out, day, cfg.seed, d.parcels)
    manifest_dir = out / "_manifest"
    manifest_dir.mkdir(parents=True, exist_ok=True)
    with open(manifest_dir / f"defects_{day.isoformat()}.jsonl", "w", encoding="utf-8") as f:
        for item in d.defects:
            f.write(json.dumps(item, sort_keys=True, ensure_ascii=False) + "\n")
    d.truth["defects"] = len(d.defects)
    return d.truth


# Document shapes: the keys of each document the order model renders, in the order its values come.
_T303 = DocumentTemplate(
    "CEB303Message",
    ("guid", "appType", "appTime", "appStatus", "orderType", "orderNo", "ebpCode", "ebpName", "ebcCode", "ebcName",
     "goodsValue", "freight", "currency"),
    ("gnum", "itemNo", "itemName", "unit", "currency", "qty", "price", "totalPrice"))
_T403 = DocumentTemplate(
    "CEB403Message",
    ("guid", "appType", "appTime", "appStatus", "ebpCode", "ebpName", "ebcCode", "ebcName", "orderNo", "payCode",
     "payName", "payNo", "charge", "currency", "accountingDate"))
_WAYBILL_KEYS = ("guid", "appType", "appTime", "appStatus", "logisticsCode", "logisticsName", "logisticsNo", "freight",
                 "insuredFee", "currency", "grossWeight", "packNo", "goodsInfo")
_T505 = DocumentTemplate("CEB505Message", _WAYBILL_KEYS)
# A B2C parcel's waybill carries the overseas buyer's telephone (收发货人电话): personal data the
# warehouse must never pass on in clear.
_T505_B2C = DocumentTemplate("CEB505Message", (*_WAYBILL_KEYS, "ebcTelephone"))
_T603 = DocumentTemplate(
    "CEB603Message",
    ("guid", "appType", "appTime", "appStatus", "customsCode", "ebpCode", "ebpName", "orderNo", "logisticsCode",
     "logisticsName", "logisticsNo", "copNo", "ieFlag", "portCode", "ieDate", "statisticsFlag", "agentCode",
     "agentName", "ebcCode", "ebcName", "ownerCode", "ownerName", "tradeMode", "trafMode", "country", "POD",
     "freight", "fCurrency", "fFlag", "insuredFee", "iCurrency", "iFlag", "wrapType", "packNo", "grossWeight",
     "netWeight"),
    ("gnum", "itemNo", "itemName", "gcode", "gname", "gmodel", "barCode", "country", "currency", "qty", "qty1",
     "unit", "unit1", "price", "totalPrice"))
_T604 = DocumentTemplate(
    "CEB604Message",
    ("guid", "agentCode", "copNo", "preNo", "invtNo", "ebcCode", "ebpCode", "orderNo", "statisticsFlag",
     "returnStatus", "returnTime", "returnInfo"))
_603_APP_TYPE, _603_APP_TIME, _603_LINE_QTY, _603_LINE_QTY1, _603_LINE_TOTAL = 1, 2, 9, 10, 14  # positions in the keys

_MODES = tuple(m for m, _ in TRADE_MODES)
_MODE_UNITS = np.array([_UNITS_PER_LINE[m] for m in _MODES])
_MODE_USD = np.array([m in ("9710", "9810") for m in _MODES])  # declared in USD; the others in CNY
_MODE_B2C = np.array([m == "9610" for m in _MODES])  # statisticsFlag A; the others B (summary declaration)
_PRODUCT_FEN = np.array([int(p[3] * 100) for p in world.PRODUCTS])
_ITEM_NOS = tuple(tuple(f"SKU{p[0][:6]}{gnum}" for gnum in (1, 2)) for p in world.PRODUCTS)
_VERSIONS = ("wrong_timezone", "resend", "correction", "deletion")  # at most one per declaration, first wins
_CENTS = tuple(f".{c:02d}" for c in range(100))
_GRAMS = tuple(f".{g:03d}" for g in range(1000))


def _fen_text(fen: int) -> str:
    """An amount in fen as a Decimal quantized to 0.01 spells it ("12.30", "-0.50")."""
    return f"{fen // 100}{_CENTS[fen % 100]}" if fen >= 0 else f"-{-fen // 100}{_CENTS[-fen % 100]}"


def _fen_texts(fen: np.ndarray) -> list[str]:
    return [f"{v // 100}{_CENTS[v % 100]}" for v in fen.tolist()]  # (amounts drawn are positive)


def _gram_texts(grams: np.ndarray) -> list[str]:
    """Weights in grams as kilograms with three decimals ("0.450")."""
    return [f"{g // 1000}{_GRAMS[g % 1000]}" for g in grams.tolist()]


def _fen(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


def _rate_e6(d: _Day, iso_currency: str) -> int:
    """The day's rate (CNY per unit) in millionths: exact (parities have 4 decimals, JPY's is per 100)."""
    return int(d.rate(iso_currency) * 1_000_000)


def _pick(cumulative: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """The index of each uniform draw's band in cumulative weights (a weighted choice per draw)."""
    return np.minimum(np.searchsorted(cumulative, draws * cumulative[-1], side="right"), len(cumulative) - 1)


_MODE_CUMULATIVE = np.cumsum([w for _, w in TRADE_MODES])
_DESTINATION_CUMULATIVE = np.cumsum([x.weight for x in world.DESTINATIONS])


def _numbers(seed: int, kind: str, scope: str, indexes: np.ndarray, digits: int) -> np.ndarray:
    """_number of each index, as an (n, digits) array of characters (the same numbers)."""
    a1, b1, a2, b2, modulus = _permutation_key(seed, kind, scope, digits)
    first = (mulmod(a1, indexes, modulus) + b1) % modulus
    return digit_texts((mulmod(a2, reversed_digits(first, digits), modulus) + b2) % modulus, digits)


def _prefixed(prefix: str, chars: np.ndarray) -> list[str]:
    return [prefix + t for t in texts(chars)]


@dataclass
class _Orders:
    """One origin day's orders as columns: what the day's order model drew, one row per order."""

    firm: list  # the exporting enterprise
    mode: np.ndarray  # index into _MODES
    dest: np.ndarray  # index into world.DESTINATIONS
    platform: np.ndarray  # index into world.PLATFORMS (a reused orderNo moves to another platform)
    two_lines: np.ndarray
    product: np.ndarray  # (n, 2): index into world.PRODUCTS per line
    qty: np.ndarray  # (n, 2)
    price: np.ndarray  # (n, 2) fen of the declaration's currency
    app_time: np.ndarray  # seconds after the origin day's midnight (see _Day.stamp)
    order_no: list[str]
    logistics_no: list[str]
    grams: np.ndarray  # gross weight

    def __post_init__(self) -> None:
        # The orders' lines, one after another (an order has one or two), and the texts the documents
        # take from them, made once.
        self.n = len(self.mode)
        self.lines_per_order = 1 + self.two_lines.astype(np.int64)
        self.line_order = np.repeat(np.arange(self.n), self.lines_per_order)
        self.first_line = np.concatenate([[0], np.cumsum(self.lines_per_order)[:-1]])
        k = np.arange(len(self.line_order)) - self.first_line[self.line_order]  # 0 or 1: the line in its order
        product = self.product[self.line_order, k].tolist()
        self.line_qty_array, self.line_price_array = self.qty[self.line_order, k], self.price[self.line_order, k]
        self.line_gnum = (k + 1).tolist()
        self.line_item_no = [_ITEM_NOS[p][g - 1] for p, g in zip(product, self.line_gnum)]
        self.line_gcode, self.line_gname, self.line_unit = ([_doc_text(world.PRODUCTS[p][field]) for p in product]
                                                            for field in range(3))
        self.line_qty = self.line_qty_array.tolist()
        self.line_price = _fen_texts(self.line_price_array)
        self.line_total = _fen_texts(self.line_qty_array * self.line_price_array)
        self.totals = self.qty * self.price
        platforms = self.platform.tolist()
        self.platform_codes, self.platform_names = ([_doc_text(world.PLATFORMS[p][field]) for p in platforms]
                                                    for field in range(2))
        self.grams_list = self.grams.tolist()
        self.weight_texts = _gram_texts(self.grams)
        self.net_weight_texts = _gram_texts(self.grams * 9 // 10)


def _draw_orders(d: _Day, exporters: list) -> _Orders:
    """Every order of the day, drawn as columns from the day's generator."""
    g, cfg, n = d.gen, d.cfg, orders_on(d.day, d.cfg)
    firm_cumulative = np.cumsum([e.weight for e in exporters])
    firm = [exporters[i] for i in _pick(firm_cumulative, g.random(n)).tolist()]
    mode = _pick(_MODE_CUMULATIVE, g.random(n))
    dest = _pick(_DESTINATION_CUMULATIVE, g.random(n))
    platform = g.integers(0, len(world.PLATFORMS), n)
    two_lines = g.integers(0, 4, n) == 3
    product = g.integers(0, len(world.PRODUCTS), (n, 2))
    qty = (1 + (g.integers(0, 4, (n, 2)) == 3)) * _MODE_UNITS[mode][:, None]
    price_cny = np.rint(_PRODUCT_FEN[product] * float(PRICE_LEVEL) * (0.7 + 0.6 * g.random((n, 2)))).astype(np.int64)
    usd = float(d.rate("USD"))
    price = np.where(_MODE_USD[mode][:, None], np.maximum(1, np.rint(price_cny / usd)).astype(np.int64), price_cny)
    app_time = 8 * 3600 + g.integers(0, 14 * 3600 + 1, n)
    index = np.arange(n)
    numbers = texts(_numbers(cfg.seed, "order", d.iso, index, 10))
    order_no = [f"{world.PLATFORMS[p][0][-3:]}{d.ymd}{x}" for p, x in zip(platform.tolist(), numbers)]
    slot = d.day.toordinal() - _PARCEL_EPOCH
    logistics_no = _prefixed("YX", _numbers(cfg.seed, "parcel", "all days", slot * _PARCELS_PER_DAY + index, 13))
    _reuse_numbers(d, platform, order_no, logistics_no)
    return _Orders(firm, mode, dest, platform, two_lines, product, qty, price, app_time, order_no, logistics_no,
                   450 * np.where(two_lines, qty.sum(axis=1), qty[:, 0]))


def _reuse_numbers(d: _Day, platform: np.ndarray, order_no: list[str], logistics_no: list[str]) -> None:
    """The defects that give an order a number already used: an orderNo of an earlier order of the
    day on another platform, a logisticsNo of a parcel about six months before."""
    dg, n = d.defect_gen, len(order_no)
    reuse_order = d.chances("order_no_reuse", n) & (np.arange(n) > 0)
    earlier_u, platform_u = dg.random(n), dg.random(n)
    reuse_parcel, parcel_u = d.chances("logistics_no_reuse", n), dg.random(n)
    for i in np.flatnonzero(reuse_order).tolist():  # in order: an earlier order may itself reuse a number
        j = int(earlier_u[i] * i)
        other = int(platform[j])
        candidates = [p for p in range(len(world.PLATFORMS)) if p != other]
        platform[i], order_no[i] = candidates[int(platform_u[i] * len(candidates))], order_no[j]
        d.defect("order_no_reuse", order_no=order_no[i],
                 platforms=[world.PLATFORMS[other][0], world.PLATFORMS[platform[i]][0]], expect="loaded")
    earlier = d.day - timedelta(days=183)
    for i in np.flatnonzero(reuse_parcel).tolist():
        # Any parcel of that day (not a handful), so a number comes back about once, as carriers recycle.
        logistics_no[i] = f"YX{_parcel_number(d.cfg.seed, earlier, int(parcel_u[i] * orders_on(earlier, d.cfg)))}"
        d.defect("logistics_no_reuse", logistics_no=logistics_no[i], first_used=earlier.isoformat(),
                 expect="loaded")


def _order_documents(d: _Day, o: _Orders) -> None:
    """Each order's CEB303 order, CEB403 payment receipt and CEB505 waybill, and its payment."""
    g, cfg, n, ymd = d.gen, d.cfg, o.n, d.ymd
    guids = texts(uuid_texts(uuid_bytes(g.bytes(48 * n), 3 * n), upper=True))
    pay_time = o.app_time + 60 * (1 + g.integers(0, 15, n))
    index = np.arange(n)
    pay_no = _prefixed(f"P{ymd}", _numbers(cfg.seed, "pay", d.iso, index, 12))
    goods_fen = o.totals[:, 0] + np.where(o.two_lines, o.totals[:, 1], 0)
    goods = _fen_texts(goods_fen)
    currency = np.where(_MODE_USD[o.mode], "502", "142").tolist()
    ebp_code, ebp_name = o.platform_codes, o.platform_names
    ebc_code, ebc_name = [f.customs_code for f in o.firm], [_doc_text(f.name) for f in o.firm]
    line_currency = [currency[i] for i in o.line_order.tolist()]
    d.emit_many("CEB303Message", _T303.render_columns(
        [guids[0::3], "1", d.stamps(o.app_time), "2", np.where(o.mode == _MODES.index("9710"), "B", "E").tolist(),
         o.order_no, ebp_code, ebp_name, ebc_code, ebc_name, goods, "0", currency],
        [o.line_gnum, o.line_item_no, o.line_gname, o.line_unit, line_currency, o.line_qty, o.line_price,
         o.line_total], o.lines_per_order))

    # The payment institution and the currency the buyer pays in, from their own stream (the order
    # stream's draws stay where they are).
    # Who pays through which institution, in which currency: their own stream, so the order stream's
    # draws stay where they are.
    institutions, pay_currency = payments.draw_payers(_generator(cfg.seed, "payers", d.iso), n)
    d.emit_many("CEB403Message", _T403.render_columns(
        [guids[1::3], "1", d.stamps(pay_time + 120), "2", ebp_code, ebp_name, ebc_code, ebc_name, o.order_no,
         [i.pay_code for i in institutions], [_doc_text(i.name) for i in institutions], pay_no, goods, currency,
         d.stamps(pay_time)]))
    # The payer may pay in another currency than the declaration's: convert at the day's parity,
    # rounding half up to the fen (the rates in millionths, so exactly).
    rates_e6 = {iso: _rate_e6(d, iso) for iso in payments.CURRENCIES}
    declared_rate = np.where(_MODE_USD[o.mode], rates_e6["USD"], rates_e6["CNY"])
    pay_rate = np.array([rates_e6[c] for c in pay_currency], dtype=np.int64)
    amount = np.maximum(1, (2 * goods_fen * declared_rate + pay_rate) // (2 * pay_rate))
    for i, (order_no, inst, iso, fen, at) in enumerate(zip(o.order_no, institutions, pay_currency,
                                                         amount.tolist(), pay_time.tolist())):
        d.payments.append({
            "order_no": order_no, "pay_no": pay_no[i], "ebp_code": ebp_code[i], "ebc_code": ebc_code[i],
            "pay_code": inst.pay_code, "currency": iso, "amount": _fen(fen),
            "paid_at": d.midnight_cst + timedelta(seconds=at)})

    # A B2C parcel's waybill carries the overseas buyer's telephone; the others' do not (two shapes).
    b2c = _MODE_B2C[o.mode]
    telephone = texts(_numbers(cfg.seed, "telephone", d.iso, index[b2c], 7))
    stamps, first_gname = d.stamps(o.app_time + 600), [o.line_gname[k] for k in o.first_line.tolist()]
    waybills: list[str] = [""] * n
    for rows, template, extra in ((np.flatnonzero(b2c), _T505_B2C, [[f"+65 9{t}" for t in telephone]]),
                                  (np.flatnonzero(~b2c), _T505, [])):
        rows = rows.tolist()
        pick = lambda column: [column[i] for i in rows]  # noqa: E731
        for i, text in zip(rows, template.render_columns(
                [pick(guids[2::3]), "1", pick(stamps), "2", _LOGISTICS[0], _LOGISTICS[1],
                 pick(o.logistics_no), "0", "0", "142", pick(o.weight_texts), 1, pick(first_gname), *extra])):
            waybills[i] = text
    d.emit_many("CEB505Message", waybills)
    d.truth["orders"] += n


@dataclass
class _Declarations:
    """CEB603 inventory lists, one row each: an order's first declaration, or its re-declaration
    after customs returned the first (right after it)."""

    order: np.ndarray  # the order's row in _Orders
    redeclared: np.ndarray
    declared_at: np.ndarray  # seconds after midnight
    guid: np.ndarray  # 16 random bytes each
    release_delay: np.ndarray  # seconds from the 120 (stored) reply to the 800 (released) one
    bad_hs_code: np.ndarray  # the defects that make customs reject it...
    nonpositive_amount: np.ndarray
    currency_variant: np.ndarray
    version: np.ndarray  # ...and the version defects: index into _VERSIONS, -1 for none
    late: np.ndarray  # days the inventory file is late (0: on time)
    resend_days: np.ndarray  # days after the first copy a resent copy arrives
    variant_u: np.ndarray  # which form a defect takes
    rejected: np.ndarray
    redeclare: np.ndarray
    reply_out_of_order: np.ndarray

    def then(self, again: "_Declarations") -> "_Declarations":
        """Both sets in one, each re-declaration right after its order's first declaration."""
        row = np.lexsort((np.concatenate([self.redeclared, again.redeclared]),
                          np.concatenate([self.order, again.order])))
        return _Declarations(*(np.concatenate([getattr(self, f.name), getattr(again, f.name)])[row]
                               for f in fields(self)))


def _draw_declarations(d: _Day, o: _Orders, order: np.ndarray, redeclared: bool) -> _Declarations:
    g, m = d.gen, len(order)
    guid = uuid_bytes(g.bytes(16 * m), m)
    declared_at = o.app_time[order] + (7200 if redeclared else 0) + 1200
    release_delay = 60 * (5 + g.integers(0, 86, m))
    reject_u, redeclare_u, variant_u = g.random(m), g.random(m), g.random(m)
    late_days, resend_days = g.integers(1, 4, m), g.integers(0, 2, m)
    bad_hs = d.chances("bad_hs_code", m) & (not redeclared)
    nonpositive = d.chances("nonpositive_amount", m) & (not redeclared) & ~bad_hs
    customs_rejects = bad_hs | nonpositive
    currency_variant = d.chances("currency_variant", m) & ~_MODE_USD[o.mode[order]]
    versions = np.stack([d.chances(name, m) for name in _VERSIONS])
    version = np.where(versions.any(axis=0), versions.argmax(axis=0), -1)
    version[customs_rejects] = -1
    late = np.where(d.chances("late_file", m), late_days, 0)
    deleted = version == _VERSIONS.index("deletion")
    rejected = ~deleted & (customs_rejects | (reject_u < REJECT_RATE))
    redeclare = rejected & ~customs_rejects & (redeclare_u < REDECLARE_RATE) & (not redeclared)
    reply_out_of_order = d.chances("reply_out_of_order", m) & ~deleted & ~rejected
    return _Declarations(order, np.full(m, redeclared), declared_at, guid, release_delay, bad_hs, nonpositive,
                         currency_variant, version, late, resend_days, variant_u, rejected, redeclare,
                         reply_out_of_order)


def _declare_all(d: _Day, o: _Orders) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """Every order's CEB603 inventory list, its defects and its CEB604 reply history, the
    re-declarations of those customs returned, and what the released ones add to the truth."""
    first = _draw_declarations(d, o, np.arange(o.n), redeclared=False)
    decl = first.then(_draw_declarations(d, o, first.order[first.redeclare], redeclared=True))
    day, cfg, ymd, m, order = d.day, d.cfg, d.ymd, len(decl.order), decl.order
    rows, orders = range(m), order.tolist()
    guid = texts(uuid_texts(decl.guid, upper=True))
    serial = 2 * order + decl.redeclared
    cop_no = _prefixed(f"C{ymd}", _numbers(cfg.seed, "cop", d.iso, serial, 11))
    pre_no = _prefixed(f"E{ymd}", _numbers(cfg.seed, "pre", d.iso, serial, 9))
    invt_no = _prefixed(f"8000{ymd[:4]}E", _numbers(cfg.seed, "invt", str(day.year),
                                                    (day.timetuple().tm_yday - 1) * _SERIALS_PER_DAY + serial, 9))
    mode = o.mode[order]
    per_order = lambda column: [column[i] for i in orders]  # noqa: E731
    firm, platform_code, order_no = per_order(o.firm), per_order(o.platform_codes), per_order(o.order_no)
    ebc_code, ebc_name = [f.customs_code for f in firm], [_doc_text(f.name) for f in firm]
    dest = [world.DESTINATIONS[x] for x in o.dest[order].tolist()]
    currency = np.where(_MODE_USD[mode], "502", "142").tolist()
    statistics_flag = np.where(_MODE_B2C[mode], "A", "B").tolist()
    app_time = d.stamps(decl.declared_at)
    version = decl.version.tolist()
    for r in np.flatnonzero(decl.version == _VERSIONS.index("wrong_timezone")).tolist():
        app_time[r] = d.stamp(int(decl.declared_at[r]) - 8 * 3600)
        d.defect("wrong_timezone", guid=guid[r], message="CEB603", field="appTime", value=app_time[r],
                 expect="loaded")
    delivery = d.days(decl.late)
    for r in np.flatnonzero(decl.late).tolist():  # most files arrive the same day; some 1-3 days late
        d.defect("late_file", guid=guid[r], message="CEB603", delivery_day=delivery[r].isoformat(), expect="loaded")

    # The lines, one after another: each declaration's order's lines.
    lines_per_declaration = o.lines_per_order[order]
    line_rows = np.repeat(np.arange(m), lines_per_declaration)
    starts = np.concatenate([[0], np.cumsum(lines_per_declaration)])
    order_lines = (o.first_line[order][line_rows] + np.arange(len(line_rows)) - starts[line_rows]).tolist()
    pick = lambda column: [column[k] for k in order_lines]  # noqa: E731
    gcode, line_total = pick(o.line_gcode), pick(o.line_total)
    line_currency = [currency[r] for r in line_rows.tolist()]
    # Defects that make customs reject the declaration (and our loader quarantine the document).
    for r in np.flatnonzero(decl.bad_hs_code).tolist():
        k = int(starts[r])
        gcode[k] = gcode[k][:4] if decl.variant_u[r] < 0.5 else None
        d.defect("bad_hs_code", guid=guid[r], message="CEB603", field="gcode", value=gcode[k], expect="quarantined")
    for r in np.flatnonzero(decl.nonpositive_amount).tolist():
        k = int(starts[r + 1]) - 1
        line_total[k] = "0.00" if decl.variant_u[r] < 0.5 else f"-{line_total[k]}"
        d.defect("nonpositive_amount", guid=guid[r], message="CEB603", field="totalPrice", value=line_total[k],
                 expect="quarantined")
    for r in np.flatnonzero(decl.currency_variant).tolist():
        variant = "CNY" if decl.variant_u[r] < 0.5 else "156"
        line_currency[starts[r]:starts[r + 1]] = [variant] * int(lines_per_declaration[r])
        d.defect("currency_variant", guid=guid[r], message="CEB603", field="currency", value=variant, expect="loaded")
    line_qty, line_unit, line_gname = pick(o.line_qty), pick(o.line_unit), pick(o.line_gname)
    line_country = [dest[r].country for r in line_rows.tolist()]
    head = [guid, "1", app_time, "2", world.CUSTOMS_CODE, platform_code, per_order(o.platform_names), order_no,
            _LOGISTICS[0], _LOGISTICS[1], per_order(o.logistics_no), cop_no, "E",
            [world.PORT_BY_ROUTE[x.route] for x in dest], ymd, statistics_flag, _AGENT[0], _AGENT[1],
            ebc_code, ebc_name, ebc_code, ebc_name, [_MODES[x] for x in mode.tolist()], [x.traf_mode for x in dest],
            [x.country for x in dest], [x.pod[2:] for x in dest], "0", currency, "3", "0", currency, "3", "2", 1,
            per_order(o.weight_texts), per_order(o.net_weight_texts)]
    lines = [pick(o.line_gnum), pick(o.line_item_no), line_gname, gcode, line_gname, _doc_text("标准"), _doc_text("无"),
             line_country, line_currency, line_qty, line_qty, line_unit, line_unit, pick(o.line_price), line_total]
    count = lines_per_declaration.tolist()
    inventories = _T603.render_columns(head, lines, count)

    # Versions: resends, corrections (appType=2) and deletions (appType=3), rendered one at a time.
    final_qty0 = o.line_qty_array[o.first_line[order]].copy()  # the first line's quantity customs releases
    def version_of(r: int, app_type: str, seconds: int, first_qty: int | None = None) -> str:
        row = [c[r] if isinstance(c, list) else c for c in head]
        row[_603_APP_TYPE], row[_603_APP_TIME] = app_type, d.stamp(seconds)
        row_lines = [[c[k] if isinstance(c, list) else c for c in lines] for k in range(starts[r], starts[r + 1])]
        if first_qty is not None:
            row_lines[0][_603_LINE_QTY] = row_lines[0][_603_LINE_QTY1] = first_qty
            row_lines[0][_603_LINE_TOTAL] = _fen_text(first_qty * o.line_price_array[order_lines[starts[r]]])
        return _T603.render(row, row_lines)

    d.emit_many("CEB603Message", inventories, delivery)
    available = list(delivery)
    for r in np.flatnonzero(decl.version >= 0).tolist():
        name = _VERSIONS[version[r]]
        if name == "resend":
            # The partner sends the same document again, with or after the first copy (which completes it).
            resend_day = delivery[r] + timedelta(days=int(decl.resend_days[r]))
            d.emit("CEB603Message", inventories[r], resend_day)
            d.defect("resend", guid=guid[r], message="CEB603", delivery_day=resend_day.isoformat(), expect="loaded")
        elif name == "correction":
            # The correction is a whole document with the final lines: it alone completes the list,
            # whether the original arrives before it or (a late file) after it.
            final_qty0[r] += 1
            d.emit("CEB603Message", version_of(r, "2", int(decl.declared_at[r]) + 180, int(final_qty0[r])), day)
            available[r] = day
            d.defect("correction", guid=guid[r], message="CEB603", field="qty", expect="loaded")
        elif name == "deletion":
            d.emit("CEB603Message", version_of(r, "3", int(decl.declared_at[r]) + 240), day)
            d.defect("deletion", guid=guid[r], message="CEB603", expect="loaded")

    # Replies: 120 (stored) for all; then 100 (returned), or 800 (released) for those neither deleted nor returned.
    deleted = decl.version == _VERSIONS.index("deletion")
    released = ~deleted & ~decl.rejected
    stored_at = decl.declared_at + 300
    released_at = stored_at + decl.release_delay

    def reply(rows: list[int] | range, status: str, at: np.ndarray, info: str) -> list[str]:
        take = (lambda column: column) if isinstance(rows, range) else (lambda column: [column[r] for r in rows])
        return _T604.render_columns([take(guid), _AGENT[0], take(cop_no), take(pre_no), take(invt_no),
                                     take(ebc_code), take(platform_code), take(order_no), take(statistics_flag),
                                     status, [f"{s}000" for s in d.stamps(at[rows])], info])

    released_rows = np.flatnonzero(released).tolist()
    # Late-evening releases (from 23:00) reach the exchange the next day.
    release_offset = (released_at + 3600) // _DAY
    release_day = d.days(release_offset)
    d.emit_many("CEB604Message", reply(released_rows, RELEASED, released_at, _doc_text("放行")),
                [release_day[r] for r in released_rows])
    out_of_order = decl.reply_out_of_order
    d.emit_many("CEB604Message", reply(rows, "120", stored_at, _doc_text("海关入库")),
                d.days(np.where(out_of_order, release_offset + 1, 0)))
    for r in np.flatnonzero(out_of_order).tolist():
        d.defect("reply_out_of_order", guid=guid[r], message="CEB604", expect="loaded")
    returned_rows = np.flatnonzero(decl.rejected).tolist()
    d.emit_many("CEB604Message", reply(returned_rows, "100", stored_at + 1800, _doc_text("退单：申报信息有误")))

    # The truth: each line valued at the day's rate, rounded half up to the fen.
    truth = d.truth
    truth["inventories"] += m
    truth["inventory_lines"] += len(line_rows)
    truth["deleted_inventories"] += int(deleted.sum())
    truth["rejected_inventories"] += int(decl.rejected.sum())
    rate_e4 = np.where(_MODE_USD[mode], _rate_e6(d, "USD") // 100, 10_000)
    line_fen = o.line_qty_array[order_lines] * o.line_price_array[order_lines]
    first_lines = starts[:-1]
    line_fen[first_lines] = final_qty0 * o.line_price_array[o.first_line[order]]
    value = np.add.reduceat((line_fen * rate_e4[line_rows] + 5_000) // 10_000, first_lines)
    consignments: dict[str, list[dict]] = {}
    summaries: dict[str, list[dict]] = {}
    by_mode, by_day = truth["released_value_cny_by_trade_mode"], truth["released_value_cny_by_available_day"]
    lines_by_day = truth["released_lines_by_available_day"]
    for r in released_rows:
        i, x, value_cny = orders[r], dest[r], _fen(int(value[r]))
        ready = max(available[r], release_day[r]).isoformat()
        truth["released_inventories"] += 1
        truth["released_lines"] += count[r]
        truth["released_value_cny"] += value_cny
        mode_code = _MODES[o.mode[i]]
        by_mode[mode_code] = by_mode.get(mode_code, Decimal(0)) + value_cny
        by_day[ready] = by_day.get(ready, Decimal(0)) + value_cny
        lines_by_day[ready] = lines_by_day.get(ready, 0) + count[r]
        d.parcels.append({"logistics_no": o.logistics_no[i], "route": x.route, "country": x.country, "pod": x.pod,
                          "released_at": d.midnight_cst + timedelta(seconds=int(released_at[r])),
                          "trade_mode": mode_code})
        consignments.setdefault(x.route, []).append({"logisticsNo": o.logistics_no[i], "invtNo": invt_no[r],
                                                     "grams": o.grams_list[i], "dest": x})
        if statistics_flag[r] == "B":
            summaries.setdefault(ebc_code[r], []).append(
                {"firm": firm[r], "invtNo": invt_no[r], "logisticsNo": o.logistics_no[i], "grams": o.grams_list[i],
                 "lines": [(o.line_gnum[k], o.line_gcode[k]) for k in order_lines[starts[r]:starts[r + 1]]]})
    return consignments, summaries


VEHICLES = {"rail_sea": ("3", "西部陆海新通道班列", "X8"), "china_europe_rail": ("3", "中欧班列(渝新欧)", "X9"),
            "air": ("5", "CA", "CA")}


def _bill_lists(d: _Day, consignments: dict[str, list[dict]]) -> None:
    """CEB607: one master bill per corridor and day, linking its parcels to a train or flight."""
    rng, day = d.rng, d.day
    for route, parcels in sorted(consignments.items()):
        traf_mode, traf_name, prefix = VEHICLES[route]
        traf_name = _doc_text(traf_name)
        bill_no = f"{prefix}{day:%y%m%d}{rng.getrandbits(20):07d}"
        for n, start in enumerate(range(0, len(parcels), BATCH)):
            chunk = parcels[start:start + BATCH]
            d.emit("CEB607Message", render_document("CEB607Message", {
                "head": {"guid": _guid(rng), "appType": "1", "appTime": _ts(d.midnight + timedelta(hours=23, minutes=30)),
                         "appStatus": "2", "customsCode": world.CUSTOMS_CODE, "copNo": f"W{day:%Y%m%d}{route[:3]}{n}",
                         "agentCode": _AGENT[0], "agentName": _AGENT[1], "trafMode": traf_mode,
                         "trafName": traf_name, "voyageNo": f"{prefix}{day:%m%d}", "billNo": bill_no,
                         "grossWeight": _gram_texts(np.array([sum(p["grams"] for p in chunk)]))[0],
                         "logisticsCode": _LOGISTICS[0],
                         "logisticsName": _LOGISTICS[1], "msgCount": math.ceil(len(parcels) / BATCH),
                         "msgSeqNo": n + 1},
                "lines": [{"gnum": i + 1, "logisticsNo": p["logisticsNo"], "invtNo": p["invtNo"]}
                          for i, p in enumerate(chunk)],
            }))


def _summaries(d: _Day, summaries: dict[str, list[dict]]) -> None:
    """CEB701 summary applications and CEB792 results for 'B' (summary declaration) inventories."""
    rng, day = d.rng, d.day
    for ebc_code, items in sorted(summaries.items()):
        firm = items[0]["firm"]
        sum_no = f"8000{day:%Y%m%d}S{rng.randrange(100_000):05d}"
        d.emit("CEB701Message", render_document("CEB701Message", {
            "head": {"guid": _guid(rng), "appType": "1", "appTime": _ts(d.midnight + timedelta(hours=23)),
                     "appStatus": "2", "customsCode": world.CUSTOMS_CODE, "copNo": f"S{day:%Y%m%d}{ebc_code}",
                     "agentCode": _AGENT[0], "agentName": _AGENT[1], "ebcCode": ebc_code,
                     "ebcName": _doc_text(firm.name), "declAgentCode": _AGENT[0], "declAgentName": _AGENT[1],
                     "summaryFlag": "1", "itemNameFlag": "1", "msgCount": 1, "msgSeqNo": 1},
            "lines": [{"invtNo": i["invtNo"]} for i in items],
        }))
        result_lines = []
        for i in items:
            for gnum, gcode in i["lines"]:
                result_lines.append({"invtNo": i["invtNo"], "logisticsNo": i["logisticsNo"],
                                     "gseqno": len(result_lines) + 1, "gnum": gnum, "gcode": gcode})
        grams = sum(i["grams"] for i in items)
        weight, net_weight = _gram_texts(np.array([grams, grams * 9 // 10]))
        d.emit("CEB792Message", render_document("CEB792Message", {
            "head": {"guid": _guid(rng), "customsCode": world.CUSTOMS_CODE, "sumNo": sum_no,
                     "opDate": f"{day + timedelta(days=1):%Y%m%d}090000000", "declSeqNo": f"D{sum_no[1:]}",
                     "decState": "10", "agentCode": _AGENT[0], "agentName": _AGENT[1], "ebcCode": ebc_code,
                     "ebcName": _doc_text(firm.name), "declAgentCode": _AGENT[0], "declAgentName": _AGENT[1],
                     "grossWeight": weight, "netWeight": net_weight,
                     "msgCount": 1, "msgSeqNo": 1},
            "lines": result_lines,
        }), day + timedelta(days=1))


def _orphans(d: _Day) -> None:
    """Receipts and waybills whose order or parcel does not exist (partners' stray messages)."""
    rng, day = d.rng, d.day
    platform = world.PLATFORMS[0]
    if d.chances("orphan_receipt", 1)[0]:
        order_no = f"ZZ{day:%Y%m%d}{rng.getrandbits(30):010d}"
        d.emit("CEB403Message", render_document("CEB403Message", {
            "guid": _guid(rng), "appType": "1", "appTime": f"{day:%Y%m%d}120000", "appStatus": "2",
            "ebpCode": platform[0], "ebpName": _doc_text(platform[1]), "ebcCode": "5001999999",
            "ebcName": _doc_text("未知企业"),
            "orderNo": order_no, "payCode": payments.PAYMENT_INSTITUTIONS[0].pay_code,
            "payName": _doc_text(payments.PAYMENT_INSTITUTIONS[0].name),
            "payNo": f"PZ{rng.getrandbits(40):012d}", "charge": "88.00", "currency": "142",
            "accountingDate": f"{day:%Y%m%d}115800"}))
        d.defect("orphan_receipt", message="CEB403", order_no=order_no, expect="loaded")
    if d.chances("orphan_waybill", 1)[0]:
        logistics_no = f"YZ{rng.getrandbits(40):013d}"
        d.emit("CEB505Message", render_document("CEB505Message", {
            "guid": _guid(rng), "appType": "1", "appTime": f"{day:%Y%m%d}130000", "appStatus": "2",
            "logisticsCode": _LOGISTICS[0], "logisticsName": _LOGISTICS[1], "logisticsNo": logistics_no,
            "freight": "0", "insuredFee": "0", "currency": "142", "grossWeight": "0.5", "packNo": 1,
            "goodsInfo": _doc_text("样品")}))
        d.defect("orphan_waybill", message="CEB505", logistics_no=logistics_no, expect="loaded")


def _write_message_file(d: _Day, key: tuple[date, str], docs: list[str]) -> None:
    """Write one message file of up to 100 documents, with its file-level defects."""
    delivery, message_type = key
    n = d.files[key] = d.files.get(key, 0) + 1
    delivery_iso = delivery.isoformat()
    rng = world._rng(d.cfg.seed, "file", d.iso, message_type, delivery_iso, n)
    rates = d.cfg.defects

    def chance(rate: float) -> bool:
        return rate > 0 and rng.random() < rate

    # Paths as text and each folder made once a day: pathlib's joins and mkdir per file cost more than the write.
    folder = f"customs/{delivery_iso}"
    if folder not in d.folders:
        (d.out / folder).mkdir(parents=True, exist_ok=True)
        d.folders.add(folder)
    xml = assemble_message(message_type, _guid(rng), docs, TRANSFER)
    name = f"{folder}/{message_type[:6]}_{d.ymd}_{delivery_iso[5:7]}{delivery_iso[8:]}_{n:04d}"
    rel = f"{name}.xml"
    path = f"{d.out}/{rel}"
    data = xml.encode("latin-1")  # the UTF-8 bytes (see _doc_text)
    if chance(rates.malformed_file):
        if rng.random() < 0.5:
            bad = data[: len(data) // 2]
            kind = "truncated"
        else:
            bad = data.replace(b"http://www.chinaport.gov.cn/ceb", b"http://www.chinaport.gov.cn/cebx", 1)
            kind = "wrong_namespace"
        _write(path, bad)
        resend = f"{name}_resend.xml"
        _write(f"{d.out}/{resend}", data)  # the partner resends after the exchange reports the error
        d.defect("malformed_file", file=rel, kind=kind, resent_as=resend, documents=len(docs),
                 expect="quarantined_file")
        return
    if chance(rates.gbk_file):
        text = data.decode("utf-8").replace('encoding="UTF-8"', 'encoding="GBK"')
        if rng.random() < 0.3:
            text = text.split("\n", 1)[1]  # no declaration at all: the reader must detect GBK
        data = text.encode("gbk")
        d.defect("gbk_file", file=rel, expect="loaded")
    elif chance(rates.bom_file):
        data = b"\xef\xbb\xbf" + data
        d.defect("bom_file", file=rel, expect="loaded")
    _write(path, data)


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _write_registry(day: date, cfg: SimulationConfig, out: Path) -> None:
    folder = out / "reference" / "registry" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "park_enterprises.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["credit_code", "customs_code", "enterprise_name", "enterprise_type", "entry_date", "status", "status_date"])
        for e in world.enterprises(cfg.seed):
            if e.entry_date <= day:
                status, since = world.status_on(e, day)
                w.writerow([e.credit_code, e.customs_code, e.name, e.enterprise_type, e.entry_date.isoformat(),
                            status, since.isoformat()])


def _write_fx(day: date, out: Path) -> None:
    folder = out / "reference" / "fx" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "cny_central_parity.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["rate_date", "currency_pair", "rate"])
        for pair, rate in fx_rates(day).items():
            w.writerow([day.isoformat(), f"{pair}/CNY", str(rate)])


def simulate(cfg: SimulationConfig, out: Path, progress=None, workers: int = 1) -> dict:
    """Generate every day in [start, end]; FX starts a week early (further back to a business day)
    so that lookups on days without a parity resolve, even after a long holiday.

    With workers > 1 the days are generated in that many processes: a day depends only on the
    seed and the day, so the files are the same as from one process; truth and progress still
    come in day order.
    """
    out.mkdir(parents=True, exist_ok=True)
    day = cfg.start - timedelta(days=7)
    while not is_business_day(day):
        day -= timedelta(days=1)
    while day < cfg.start:
        if is_business_day(day):
            _write_fx(day, out)
        day += timedelta(days=1)
    totals = {"days": 0, "orders": 0, "released_inventories": 0, "released_value_cny": Decimal(0), "defects": 0}
    truth_dir = out / "_truth"
    truth_dir.mkdir(exist_ok=True)
    days = [cfg.start + timedelta(days=n) for n in range((cfg.end - cfg.start).days + 1)]
    one_day = partial(simulate_day, cfg=cfg, out=out)
    with ExitStack() as stack:
        if workers > 1 and len(days) > 1:
            # spawn, not fork: the caller may hold threads or connections (Airflow, psycopg).
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(min(workers, len(days))))
            truths = pool.imap(one_day, days)
        else:
            truths = map(one_day, days)
        for day, truth in zip(days, truths):
            (truth_dir / f"{day.isoformat()}.json").write_text(json.dumps(truth, default=str, indent=1, sort_keys=True))
            totals["days"] += 1
            for k in ("orders", "released_inventories", "released_value_cny", "defects"):
                totals[k] += truth[k]
            if progress:
                progress(day, truth)
    return totals


def expected_progress(cfg: SimulationConfig, landing: Path) -> dict:
    """Ground truth for the progress figures after loading the files delivered in [start, end]."""
    firms = [e for e in world.enterprises(cfg.seed) if e.entry_date <= cfg.end]
    value, lines = Decimal(0), 0
    for path in sorted((landing / "_truth").glob("*.json")):
        if cfg.start <= date.fromisoformat(path.stem) <= cfg.end:
            truth = json.loads(path.read_text())
            value += sum((Decimal(v) for k, v in truth["released_value_cny_by_available_day"].items()
                          if date.fromisoformat(k) <= cfg.end), Decimal(0))
            lines += sum(v for k, v in truth["released_lines_by_available_day"].items()
                         if date.fromisoformat(k) <= cfg.end)
    return {
        "enterprises_introduced": sum(1 for e in firms if e.enterprise_type in ("export", "service")),
        "startups_incubated": sum(1 for e in firms if e.enterprise_type == "startup"),
        "export_volume_cny": value,
        "released_lines": lines,
    }


def load_defects(landing: Path) -> list[dict]:
    """Every defect the sandbox injected into a landing folder (the manifest)."""
    items = []
    for path in sorted((landing / "_manifest").glob("defects_*.jsonl")):
        items += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return items
