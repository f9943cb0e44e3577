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
from bisect import bisect
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache, partial
from itertools import accumulate
from pathlib import Path

from parkdw.ceb.writer import assemble_message, render_document
from parkdw.sandbox import countries, payments, tracking, world
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
TRANSFER = {"copCode": world.AGENT[0], "copName": world.AGENT[1], "dxpMode": "DXP", "dxpId": "DXPENT0000000001"}


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


class _Weighted:
    """rng.choices(items, weights)[0] with the cumulative weights built once (the same draws)."""

    def __init__(self, items, weights) -> None:
        self.items, self.cum = tuple(items), list(accumulate(weights))
        self.total, self.hi = self.cum[-1] + 0.0, len(self.cum) - 1

    def pick(self, rng):
        return self.items[bisect(self.cum, rng.random() * self.total, 0, self.hi)]


_UNITS_PER_LINE = {"9610": 1, "1210": 1, "9710": 3, "9810": 4}
_TRADE_MODE = _Weighted([m for m, _ in TRADE_MODES], [w for _, w in TRADE_MODES])
_DESTINATION = _Weighted(world.DESTINATIONS, [x.weight for x in world.DESTINATIONS])


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


class _Day:
    """One origin day's documents by message type and delivery day, and its truth.

    Documents are rendered when emitted and a message file is written as soon as it holds 100,
    so memory holds at most one unfinished message per (type, delivery day), not the day's
    documents. Each file draws its guid and file-level defects from its own stream, so what a
    file holds does not depend on when it is written.
    """

    def __init__(self, day: date, cfg: SimulationConfig, out: Path) -> None:
        self.day, self.cfg, self.out = day, cfg, out
        self.iso, self.ymd = day.isoformat(), f"{day:%Y%m%d}"  # formatted once: used in every document
        self.midnight = datetime.combine(day, datetime.min.time())
        self.midnight_cst = datetime.combine(day, datetime.min.time(), payments.CST)
        self.fx: dict[str, Decimal] = {}  # rate_for(day, currency), asked three times per order
        self.rng = world._rng(cfg.seed, "day", day.isoformat())
        self.defect_rng = world._rng(cfg.seed, "defects", day.isoformat())
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

    def chance(self, name: str) -> bool:
        rate = self.rates[name]
        return rate > 0 and self.defect_rng.random() < rate

    def emit(self, message_type: str, doc: dict, delivery: date | None = None) -> date:
        """Queue a document for its message file (rendered now: later changes to `doc` are not seen)."""
        delivery = delivery or self.day
        key = (delivery, message_type)
        docs = self.pending.setdefault(key, [])
        docs.append(render_document(message_type, doc))
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
    rng = d.rng
    firms = [e for e in world.enterprises(cfg.seed) if e.entry_date <= day]
    exporters = [e for e in firms if e.weight > 0]
    _write_registry(day, cfg, out)
    countries.write_countries(out, day)
    if is_business_day(day):
        _write_fx(day, out)
    if exporters:
        firm_of = _Weighted(exporters, [e.weight for e in exporters])
        previous_order_nos: list[tuple[str, str]] = []
        consignments: dict[str, list[dict]] = {}
        summaries: dict[str, list[dict]] = {}
        for index in range(orders_on(day, cfg)):
            _one_order(d, index, firm_of.pick(rng), previous_order_nos, consignments, summaries)
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


def _one_order(d: _Day, index: int, firm, previous_order_nos, consignments, summaries) -> None:
    rng, day, cfg = d.rng, d.day, d.cfg
    # rng.choice(seq) is seq[below(len(seq))] and rng.randint(a, b) is a + below(b - a + 1), the same
    # draws without randrange's argument checks (a microsecond per randint, several per order).
    below = rng._randbelow
    trade_mode = _TRADE_MODE.pick(rng)
    dest = _DESTINATION.pick(rng)
    platform = world.PLATFORMS[below(len(world.PLATFORMS))]
    currency, iso = ("502", "USD") if trade_mode in ("9710", "9810") else ("142", "CNY")
    size = _UNITS_PER_LINE[trade_mode]
    order_no = f"{platform[0][-3:]}{d.ymd}{_number(cfg.seed, 'order', d.iso, index, 10)}"
    if previous_order_nos and d.chance("order_no_reuse"):
        reused_no, other_platform = rng.choice(previous_order_nos)
        candidates = [p for p in world.PLATFORMS if p[0] != other_platform]
        platform, order_no = rng.choice(candidates), reused_no
        d.defect("order_no_reuse", order_no=order_no, platforms=[other_platform, platform[0]], expect="loaded")
    previous_order_nos.append((order_no, platform[0]))
    logistics_no = f"YX{_parcel_number(cfg.seed, day, index)}"
    if d.chance("logistics_no_reuse"):
        earlier = day - timedelta(days=183)
        # Any parcel of that day (not a handful), so a number comes back about once, as carriers recycle.
        logistics_no = f"YX{_parcel_number(cfg.seed, earlier, rng.randrange(orders_on(earlier, cfg)))}"
        d.defect("logistics_no_reuse", logistics_no=logistics_no, first_used=earlier.isoformat(), expect="loaded")

    lines = []
    products = world.PRODUCTS
    for gnum in range(1, (1, 1, 1, 2)[below(4)] + 1):
        gcode, gname, unit, base_price = products[below(len(products))]
        qty = Decimal((1, 1, 1, 2)[below(4)] * size)
        price = (base_price * PRICE_LEVEL * Decimal(str(0.7 + (1.3 - 0.7) * rng.random()))).quantize(FEN)  # rng.uniform
        if iso != "CNY":
            price = (price / d.rate(iso)).quantize(FEN)
        lines.append({"gnum": gnum, "gcode": gcode, "gname": gname, "unit": unit, "qty": qty, "price": price,
                      "total": (qty * price).quantize(FEN), "item_no": f"SKU{gcode[:6]}{gnum}", "currency": currency})
    app_time = 8 * 3600 + below(14 * 3600 + 1)  # seconds after midnight (see _Day.stamp)
    goods_value = sum(l["total"] for l in lines)

    order = {
        "head": {"guid": _guid(rng), "appType": "1", "appTime": d.stamp(app_time), "appStatus": "2",
                 "orderType": "B" if trade_mode == "9710" else "E", "orderNo": order_no,
                 "ebpCode": platform[0], "ebpName": platform[1], "ebcCode": firm.customs_code,
                 "ebcName": firm.name, "goodsValue": goods_value, "freight": "0", "currency": currency},
        "lines": [{"gnum": l["gnum"], "itemNo": l["item_no"], "itemName": l["gname"], "unit": l["unit"],
                   "currency": currency, "qty": l["qty"], "price": l["price"], "totalPrice": l["total"]}
                  for l in lines],
    }
    d.emit("CEB303Message", order)
    d.truth["orders"] += 1
    pay_time = app_time + 60 * (1 + below(15))
    institution = payments.institution_for(cfg.seed, order_no)
    pay_no = f"P{d.ymd}{_number(cfg.seed, 'pay', d.iso, index, 12)}"
    d.emit("CEB403Message", {
        "guid": _guid(rng), "appType": "1", "appTime": d.stamp(pay_time + 120), "appStatus": "2",
        "ebpCode": platform[0], "ebpName": platform[1], "ebcCode": firm.customs_code, "ebcName": firm.name,
        "orderNo": order_no, "payCode": institution.pay_code, "payName": institution.name,
        "payNo": pay_no, "charge": goods_value, "currency": currency, "accountingDate": d.stamp(pay_time)})
    # The payer may pay in another currency than the declaration's: convert at the day's parity.
    pay_currency = payments.currency_for(cfg.seed, order_no, institution)
    goods_cny = goods_value * d.rate(iso)
    d.payments.append({
        "order_no": order_no, "pay_no": pay_no, "ebp_code": platform[0], "ebc_code": firm.customs_code,
        "pay_code": institution.pay_code, "currency": pay_currency,
        "amount": max(FEN, (goods_cny / d.rate(pay_currency)).quantize(FEN, ROUND_HALF_UP)),
        "paid_at": d.midnight_cst + timedelta(seconds=pay_time)})
    weight = (sum(l["qty"] for l in lines) * Decimal("0.45")).quantize(Decimal("0.001"))
    d.emit("CEB505Message", {
        "guid": _guid(rng), "appType": "1", "appTime": d.stamp(app_time + 600), "appStatus": "2",
        "logisticsCode": world.LOGISTICS[0], "logisticsName": world.LOGISTICS[1], "logisticsNo": logistics_no,
        "freight": "0", "insuredFee": "0", "currency": "142", "grossWeight": weight, "packNo": 1,
        "goodsInfo": lines[0]["gname"],
        # A B2C parcel's waybill carries the overseas buyer's telephone (收发货人电话): personal data
        # the warehouse must never pass on in clear. From a hash, so no random draw shifts.
        **({"ebcTelephone": f"+65 9{_number(cfg.seed, 'telephone', d.iso, index, 7)}"} if trade_mode == "9610" else {})})

    _declare(d, index, firm, platform, trade_mode, dest, iso, order_no, logistics_no, lines, app_time, weight,
             consignments, summaries, redeclared=False)


def _inventory_doc(d: _Day, serial, guid, firm, platform, trade_mode, dest, currency, order_no, logistics_no,
                   lines, app_time, weight) -> dict:
    return {
        "head": {"guid": guid, "appType": "1", "appTime": d.stamp(app_time), "appStatus": "2",
                 "customsCode": world.CUSTOMS_CODE, "ebpCode": platform[0], "ebpName": platform[1],
                 "orderNo": order_no, "logisticsCode": world.LOGISTICS[0], "logisticsName": world.LOGISTICS[1],
                 "logisticsNo": logistics_no, "copNo": f"C{d.ymd}{_number(d.cfg.seed, 'cop', d.iso, serial, 11)}", "ieFlag": "E",
                 "portCode": world.PORT_BY_ROUTE[dest.route], "ieDate": d.ymd,
                 "statisticsFlag": "A" if trade_mode == "9610" else "B", "agentCode": world.AGENT[0],
                 "agentName": world.AGENT[1], "ebcCode": firm.customs_code, "ebcName": firm.name,
                 "ownerCode": firm.customs_code, "ownerName": firm.name, "tradeMode": trade_mode,
                 "trafMode": dest.traf_mode, "country": dest.country, "POD": dest.pod[2:],
                 "freight": "0", "fCurrency": currency, "fFlag": "3", "insuredFee": "0",
                 "iCurrency": currency, "iFlag": "3", "wrapType": "2", "packNo": 1,
                 "grossWeight": weight, "netWeight": (weight * Decimal("0.9")).quantize(Decimal("0.001"))},
        "lines": [{"gnum": l["gnum"], "itemNo": l["item_no"], "itemName": l["gname"], "gcode": l["gcode"],
                   "gname": l["gname"], "gmodel": "标准", "barCode": "无", "country": dest.country,
                   "currency": l["currency"], "qty": l["qty"], "qty1": l["qty"], "unit": l["unit"],
                   "unit1": l["unit"], "price": l["price"], "totalPrice": l["total"]} for l in lines],
    }


def _declare(d: _Day, index, firm, platform, trade_mode, dest, iso, order_no, logistics_no, lines, app_time,
             weight, consignments, summaries, redeclared: bool) -> None:
    """A CEB603 inventory list, its defects, and its CEB604 reply history."""
    rng, day = d.rng, d.day
    currency = lines[0]["currency"]
    guid = _guid(rng)
    declared_at = app_time + 1200  # times in seconds after midnight, as in _one_order
    serial = 2 * index + redeclared  # a re-declaration gets its own numbers
    doc = _inventory_doc(d, serial, guid, firm, platform, trade_mode, dest, currency, order_no, logistics_no,
                         lines, declared_at, weight)
    d.truth["inventories"] += 1
    d.truth["inventory_lines"] += len(lines)

    # Defects that make customs reject the declaration (and our loader quarantine the document).
    customs_rejects = False
    if not redeclared and d.chance("bad_hs_code"):
        line = doc["lines"][0]
        if rng.random() < 0.5:
            line["gcode"] = line["gcode"][:4]
            d.defect("bad_hs_code", guid=guid, message="CEB603", field="gcode", value=line["gcode"], expect="quarantined")
        else:
            line["gcode"] = None
            d.defect("bad_hs_code", guid=guid, message="CEB603", field="gcode", value=None, expect="quarantined")
        customs_rejects = True
    elif not redeclared and d.chance("nonpositive_amount"):
        line = doc["lines"][-1]
        line["totalPrice"] = rng.choice((Decimal("0.00"), -line["totalPrice"]))
        d.defect("nonpositive_amount", guid=guid, message="CEB603", field="totalPrice",
                 value=str(line["totalPrice"]), expect="quarantined")
        customs_rejects = True
    if iso == "CNY" and d.chance("currency_variant"):
        variant = rng.choice(("CNY", "156"))
        for line in doc["lines"]:
            line["currency"] = variant
        d.defect("currency_variant", guid=guid, message="CEB603", field="currency", value=variant, expect="loaded")

    # Versions: resends, corrections (appType=2) and deletions (appType=3).
    final_lines = lines
    deleted = False
    inventory_delivery = _delivery(d, "CEB603", guid)
    available = inventory_delivery
    # At most one version defect per declaration, drawn in this order.
    version = None if customs_rejects else next(
        (name for name in ("wrong_timezone", "resend", "correction", "deletion") if d.chance(name)), None)
    if version == "wrong_timezone":  # before emitting: the document is rendered then
        doc["head"]["appTime"] = d.stamp(declared_at - 8 * 3600)
        d.defect("wrong_timezone", guid=guid, message="CEB603", field="appTime", value=doc["head"]["appTime"],
                 expect="loaded")
    d.emit("CEB603Message", doc, inventory_delivery)
    if version == "resend":
        resend_day = day + timedelta(days=rng.randint(0, 1))
        d.emit("CEB603Message", doc, resend_day)
        available = min(available, resend_day)  # whichever copy arrives first completes it
        d.defect("resend", guid=guid, message="CEB603", delivery_day=resend_day.isoformat(), expect="loaded")
    elif version == "correction":
        corrected = json.loads(json.dumps(doc, default=str))
        corrected["head"]["appType"] = "2"
        corrected["head"]["appTime"] = d.stamp(declared_at + 180)
        final_lines = [dict(l) for l in lines]
        final_lines[0]["qty"] = lines[0]["qty"] + 1
        final_lines[0]["total"] = (final_lines[0]["qty"] * final_lines[0]["price"]).quantize(FEN)
        corrected["lines"][0]["qty"] = str(final_lines[0]["qty"])
        corrected["lines"][0]["qty1"] = str(final_lines[0]["qty"])
        corrected["lines"][0]["totalPrice"] = str(final_lines[0]["total"])
        # The correction is a whole document with the final lines: it alone completes the list,
        # whether the original arrives before it or (a late file) after it.
        available = d.emit("CEB603Message", corrected, day)
        d.defect("correction", guid=guid, message="CEB603", field="qty", expect="loaded")
    elif version == "deletion":
        removed = json.loads(json.dumps(doc, default=str))
        removed["head"]["appType"] = "3"
        removed["head"]["appTime"] = d.stamp(declared_at + 240)
        d.emit("CEB603Message", removed, day)
        deleted = True
        d.truth["deleted_inventories"] += 1
        d.defect("deletion", guid=guid, message="CEB603", expect="loaded")

    reply = {"guid": guid, "agentCode": world.AGENT[0], "copNo": doc["head"]["copNo"],
             "preNo": f"E{d.ymd}{_number(d.cfg.seed, 'pre', d.iso, serial, 9)}",
             "invtNo": f"8000{d.ymd[:4]}E{_invt_number(d.cfg.seed, day, serial)}",
             "ebcCode": firm.customs_code, "ebpCode": platform[0], "orderNo": order_no,
             "statisticsFlag": doc["head"]["statisticsFlag"]}
    t = declared_at + 300
    stored = {**reply, "returnStatus": "120", "returnTime": f"{d.stamp(t)}000", "returnInfo": "海关入库"}
    if deleted:
        d.emit("CEB604Message", stored)
        return
    rejected = customs_rejects or rng.random() < REJECT_RATE
    if rejected:
        d.emit("CEB604Message", stored)
        t += 1800
        d.emit("CEB604Message", {**reply, "returnStatus": "100", "returnTime": f"{d.stamp(t)}000",
                                 "returnInfo": "退单：申报信息有误"})
        d.truth["rejected_inventories"] += 1
        if not redeclared and not customs_rejects and rng.random() < REDECLARE_RATE:
            _declare(d, index, firm, platform, trade_mode, dest, iso, order_no, logistics_no, lines,
                     app_time + 7200, weight, consignments, summaries, redeclared=True)
        return
    t += 60 * (5 + rng._randbelow(86))  # rng.randint(5, 90) minutes, see _one_order
    released = {**reply, "returnStatus": RELEASED, "returnTime": f"{d.stamp(t)}000", "returnInfo": "放行"}
    # Late-evening releases reach the exchange the next day.
    release_day = day + timedelta(days=1) if t % _DAY >= 23 * 3600 else day
    release_day = d.emit("CEB604Message", released, release_day)
    if d.chance("reply_out_of_order"):
        d.emit("CEB604Message", stored, release_day + timedelta(days=1))
        d.defect("reply_out_of_order", guid=guid, message="CEB604", expect="loaded")
    else:
        d.emit("CEB604Message", stored)
    available = max(available, release_day)

    rate = d.rate(iso)
    value = sum((l["total"] * rate).quantize(FEN, ROUND_HALF_UP) for l in final_lines)
    truth = d.truth
    truth["released_inventories"] += 1
    truth["released_lines"] += len(final_lines)
    truth["released_value_cny"] += value
    by_mode = truth["released_value_cny_by_trade_mode"]
    by_mode[trade_mode] = by_mode.get(trade_mode, Decimal(0)) + value
    by_day = truth["released_value_cny_by_available_day"]
    by_day[available.isoformat()] = by_day.get(available.isoformat(), Decimal(0)) + value
    lines_by_day = truth["released_lines_by_available_day"]
    lines_by_day[available.isoformat()] = lines_by_day.get(available.isoformat(), 0) + len(final_lines)
    d.parcels.append({"logistics_no": logistics_no, "route": dest.route, "country": dest.country, "pod": dest.pod,
                      "released_at": d.midnight_cst + timedelta(seconds=t), "trade_mode": trade_mode})
    consignments.setdefault(dest.route, []).append({"logisticsNo": logistics_no, "invtNo": reply["invtNo"],
                                                    "weight": weight, "dest": dest})
    if doc["head"]["statisticsFlag"] == "B":
        summaries.setdefault(firm.customs_code, []).append(
            {"firm": firm, "invtNo": reply["invtNo"], "logisticsNo": logistics_no, "lines": final_lines,
             "weight": weight})


def _delivery(d: _Day, message: str, guid: str) -> date:
    """Most files arrive the same day; some arrive 1-3 days late (a defect the manifest lists)."""
    if d.chance("late_file"):
        late = d.day + timedelta(days=d.rng.randint(1, 3))
        d.defect("late_file", guid=guid, message=message, delivery_day=late.isoformat(), expect="loaded")
        return late
    return d.day


VEHICLES = {"rail_sea": ("3", "西部陆海新通道班列", "X8"), "china_europe_rail": ("3", "中欧班列(渝新欧)", "X9"),
            "air": ("5", "CA", "CA")}


def _bill_lists(d: _Day, consignments: dict[str, list[dict]]) -> None:
    """CEB607: one master bill per corridor and day, linking its parcels to a train or flight."""
    rng, day = d.rng, d.day
    for route, parcels in sorted(consignments.items()):
        traf_mode, traf_name, prefix = VEHICLES[route]
        bill_no = f"{prefix}{day:%y%m%d}{rng.getrandbits(20):07d}"
        for n, start in enumerate(range(0, len(parcels), BATCH)):
            chunk = parcels[start:start + BATCH]
            d.emit("CEB607Message", {
                "head": {"guid": _guid(rng), "appType": "1", "appTime": _ts(d.midnight + timedelta(hours=23, minutes=30)),
                         "appStatus": "2", "customsCode": world.CUSTOMS_CODE, "copNo": f"W{day:%Y%m%d}{route[:3]}{n}",
                         "agentCode": world.AGENT[0], "agentName": world.AGENT[1], "trafMode": traf_mode,
                         "trafName": traf_name, "voyageNo": f"{prefix}{day:%m%d}", "billNo": bill_no,
                         "grossWeight": sum(p["weight"] for p in chunk), "logisticsCode": world.LOGISTICS[0],
                         "logisticsName": world.LOGISTICS[1], "msgCount": math.ceil(len(parcels) / BATCH),
                         "msgSeqNo": n + 1},
                "lines": [{"gnum": i + 1, "logisticsNo": p["logisticsNo"], "invtNo": p["invtNo"]}
                          for i, p in enumerate(chunk)],
            })


def _summaries(d: _Day, summaries: dict[str, list[dict]]) -> None:
    """CEB701 summary applications and CEB792 results for 'B' (summary declaration) inventories."""
    rng, day = d.rng, d.day
    for ebc_code, items in sorted(summaries.items()):
        firm = items[0]["firm"]
        sum_no = f"8000{day:%Y%m%d}S{rng.randrange(100_000):05d}"
        d.emit("CEB701Message", {
            "head": {"guid": _guid(rng), "appType": "1", "appTime": _ts(d.midnight + timedelta(hours=23)),
                     "appStatus": "2", "customsCode": world.CUSTOMS_CODE, "copNo": f"S{day:%Y%m%d}{ebc_code}",
                     "agentCode": world.AGENT[0], "agentName": world.AGENT[1], "ebcCode": ebc_code,
                     "ebcName": firm.name, "declAgentCode": world.AGENT[0], "declAgentName": world.AGENT[1],
                     "summaryFlag": "1", "itemNameFlag": "1", "msgCount": 1, "msgSeqNo": 1},
            "lines": [{"invtNo": i["invtNo"]} for i in items],
        })
        result_lines = []
        for i in items:
            for line in i["lines"]:
                result_lines.append({"invtNo": i["invtNo"], "logisticsNo": i["logisticsNo"],
                                     "gseqno": len(result_lines) + 1, "gnum": line["gnum"], "gcode": line["gcode"]})
        weight = sum(i["weight"] for i in items)
        d.emit("CEB792Message", {
            "head": {"guid": _guid(rng), "customsCode": world.CUSTOMS_CODE, "sumNo": sum_no,
                     "opDate": f"{day + timedelta(days=1):%Y%m%d}090000000", "declSeqNo": f"D{sum_no[1:]}",
                     "decState": "10", "agentCode": world.AGENT[0], "agentName": world.AGENT[1], "ebcCode": ebc_code,
                     "ebcName": firm.name, "declAgentCode": world.AGENT[0], "declAgentName": world.AGENT[1],
                     "grossWeight": weight, "netWeight": (weight * Decimal("0.9")).quantize(Decimal("0.001")),
                     "msgCount": 1, "msgSeqNo": 1},
            "lines": result_lines,
        }, day + timedelta(days=1))


def _orphans(d: _Day) -> None:
    """Receipts and waybills whose order or parcel does not exist (partners' stray messages)."""
    rng, day = d.rng, d.day
    platform = world.PLATFORMS[0]
    if d.chance("orphan_receipt"):
        order_no = f"ZZ{day:%Y%m%d}{rng.getrandbits(30):010d}"
        d.emit("CEB403Message", {
            "guid": _guid(rng), "appType": "1", "appTime": f"{day:%Y%m%d}120000", "appStatus": "2",
            "ebpCode": platform[0], "ebpName": platform[1], "ebcCode": "5001999999", "ebcName": "未知企业",
            "orderNo": order_no, "payCode": payments.PAYMENT_INSTITUTIONS[0].pay_code,
            "payName": payments.PAYMENT_INSTITUTIONS[0].name,
            "payNo": f"PZ{rng.getrandbits(40):012d}", "charge": "88.00", "currency": "142",
            "accountingDate": f"{day:%Y%m%d}115800"})
        d.defect("orphan_receipt", message="CEB403", order_no=order_no, expect="loaded")
    if d.chance("orphan_waybill"):
        logistics_no = f"YZ{rng.getrandbits(40):013d}"
        d.emit("CEB505Message", {
            "guid": _guid(rng), "appType": "1", "appTime": f"{day:%Y%m%d}130000", "appStatus": "2",
            "logisticsCode": world.LOGISTICS[0], "logisticsName": world.LOGISTICS[1], "logisticsNo": logistics_no,
            "freight": "0", "insuredFee": "0", "currency": "142", "grossWeight": "0.5", "packNo": 1,
            "goodsInfo": "样品"})
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
    data = xml.encode("utf-8")
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
        text = xml.replace('encoding="UTF-8"', 'encoding="GBK"')
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
