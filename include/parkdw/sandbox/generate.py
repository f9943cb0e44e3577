"""Write the park's partner feeds for a date range into a landing folder, plus ground truth.

Layout (one folder per partner and day, as the partners deliver):
  customs/YYYY-MM-DD/CEB303_*.xml, CEB603_*.xml, CEB604_*.xml
  reference/registry/YYYY-MM-DD/park_enterprises.csv     (the registry snapshot of that day)
  reference/fx/YYYY-MM-DD/cny_central_parity.csv          (business days only)
  _truth/YYYY-MM-DD.json                                  (what the day's files imply)
"""

from __future__ import annotations

import csv
import json
import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from parkdw.ceb.writer import render_message
from parkdw.sandbox import world

FEN = Decimal("0.01")
BATCH = 100  # documents per CEB message (the spec's maximum)
BASE_ORDERS_PER_DAY = 33_000  # at scale 1, mid-period (about 1 million orders a month)
SCENARIO_FACTOR = {"on-track": 1.0, "ahead": 1.35, "behind": 0.6}
TRADE_MODES = (("9610", 0.88), ("9710", 0.03), ("9810", 0.08), ("1210", 0.01))
FX_PAIRS = {"USD": Decimal("7.1000"), "EUR": Decimal("7.7500"), "SGD": Decimal("5.3000"), "100JPY": Decimal("4.9000")}
HOLIDAYS = {date(2024, 10, 1), date(2024, 10, 2), date(2024, 10, 3), date(2025, 1, 1)}
RELEASED = "800"
# Calibrates the on-track scenario to about 16 billion yuan over the five years at scale 1.
PRICE_LEVEL = Decimal("0.43")


@dataclass(frozen=True)
class SimulationConfig:
    start: date
    end: date  # inclusive
    seed: int = 42
    scale: float = 0.01
    scenario: str = "on-track"


def _guid(rng) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def fx_rates(day: date) -> dict[str, Decimal]:
    """CNY central parity for a business day: a smooth drift plus a small daily wobble."""
    rng = world._rng(0, "fx", day.isoformat())
    t = (day - world.PARK_OPENED).days
    return {
        pair: (base * Decimal(str(1 + 0.02 * math.sin(t / 90 + i) + rng.uniform(-0.002, 0.002)))).quantize(Decimal("0.0001"))
        for i, (pair, base) in enumerate(FX_PAIRS.items())
    }


def rate_for(day: date, iso_currency: str) -> Decimal:
    """The rate in force on a day: that day's parity or the previous business day's."""
    if iso_currency == "CNY":
        return Decimal(1)
    while not is_business_day(day):
        day -= timedelta(days=1)
    return fx_rates(day)[iso_currency]


def orders_on(day: date, cfg: SimulationConfig) -> int:
    """Daily demand: a ramp over the years, a weekly pattern, and the e-commerce peaks."""
    years = (day - world.PARK_OPENED).days / 365.25
    ramp = 0.35 + 0.45 * years  # grows from a third to about 2.6x the base over five years
    weekly = (0.9, 0.95, 1.0, 1.0, 1.05, 1.1, 0.95)[day.weekday()]
    peak = 1.0
    if (day.month, day.day) == (11, 11):
        peak = 3.0
    elif day.month == 11 and 1 <= day.day <= 12:
        peak = 1.4
    elif (day.month, day.day) in ((6, 18), (12, 12), (9, 9), (10, 10)):
        peak = 1.8
    n = BASE_ORDERS_PER_DAY * cfg.scale * ramp * weekly * peak * SCENARIO_FACTOR[cfg.scenario]
    rng = world._rng(cfg.seed, "volume", day.isoformat())
    return max(1, int(n * rng.uniform(0.92, 1.08)))


def _pick(rng, items, weights):
    return rng.choices(items, weights=weights, k=1)[0]


def simulate_day(day: date, cfg: SimulationConfig, out: Path) -> dict:
    """Write one day's feeds and return its ground truth."""
    rng = world._rng(cfg.seed, "day", day.isoformat())
    firms = [e for e in world.enterprises(cfg.seed) if e.entry_date <= day]
    exporters = [e for e in firms if e.weight > 0]
    truth = {
        "day": day.isoformat(), "orders": 0, "inventories": 0, "inventory_lines": 0,
        "released_inventories": 0, "released_lines": 0, "rejected_inventories": 0,
        "released_value_cny": Decimal(0), "released_value_cny_by_trade_mode": {},
    }
    _write_registry(day, cfg, out)
    if is_business_day(day):
        _write_fx(day, out)
    if not exporters:
        return truth
    orders, inventories, replies = [], [], []
    weights = [e.weight for e in exporters]
    for _ in range(orders_on(day, cfg)):
        firm = _pick(rng, exporters, weights)
        trade_mode = _pick(rng, [m for m, _ in TRADE_MODES], [w for _, w in TRADE_MODES])
        dest = _pick(rng, world.DESTINATIONS, [d.weight for d in world.DESTINATIONS])
        platform = rng.choice(world.PLATFORMS)
        currency, iso = ("502", "USD") if trade_mode in ("9710", "9810") else ("142", "CNY")
        size = {"9610": 1, "1210": 1, "9710": 3, "9810": 4}[trade_mode]
        order_no = f"{platform[0][-3:]}{day:%Y%m%d}{rng.getrandbits(40):012d}"
        logistics_no = f"YX{rng.getrandbits(44):013d}"
        lines = []
        for gnum in range(1, rng.choice((1, 1, 1, 2)) + 1):
            gcode, gname, unit, base_price = rng.choice(world.PRODUCTS)
            qty = Decimal(rng.choice((1, 1, 1, 2)) * size)
            price = (base_price * PRICE_LEVEL * Decimal(str(rng.uniform(0.7, 1.3)))).quantize(FEN)
            if iso != "CNY":
                price = (price / rate_for(day, iso)).quantize(FEN)
            lines.append({"gnum": gnum, "gcode": gcode, "gname": gname, "unit": unit, "qty": qty,
                          "price": price, "total": (qty * price).quantize(FEN), "item_no": f"SKU{gcode[:6]}{gnum}"})
        goods_value = sum(l["total"] for l in lines)
        app_time = datetime.combine(day, datetime.min.time()) + timedelta(seconds=rng.randint(8 * 3600, 22 * 3600))
        orders.append({
            "head": {"guid": _guid(rng), "appType": "1", "appTime": f"{app_time:%Y%m%d%H%M%S}", "appStatus": "2",
                     "orderType": "B" if trade_mode == "9710" else "E", "orderNo": order_no,
                     "ebpCode": platform[0], "ebpName": platform[1], "ebcCode": firm.customs_code,
                     "ebcName": firm.name, "goodsValue": goods_value, "freight": "0", "currency": currency},
            "lines": [{"gnum": l["gnum"], "itemNo": l["item_no"], "itemName": l["gname"], "unit": l["unit"],
                       "currency": currency, "qty": l["qty"], "price": l["price"], "totalPrice": l["total"]}
                      for l in lines],
        })
        invt_guid = _guid(rng)
        weight = (sum(l["qty"] for l in lines) * Decimal("0.45")).quantize(Decimal("0.001"))
        inventories.append({
            "head": {"guid": invt_guid, "appType": "1", "appTime": f"{app_time + timedelta(minutes=20):%Y%m%d%H%M%S}",
                     "appStatus": "2", "customsCode": world.CUSTOMS_CODE, "ebpCode": platform[0],
                     "ebpName": platform[1], "orderNo": order_no, "logisticsCode": world.LOGISTICS[0],
                     "logisticsName": world.LOGISTICS[1], "logisticsNo": logistics_no,
                     "copNo": f"C{day:%Y%m%d}{rng.getrandbits(36):011d}", "ieFlag": "E",
                     "portCode": world.PORT_BY_ROUTE[dest.route], "ieDate": f"{day:%Y%m%d}",
                     "statisticsFlag": "A" if trade_mode == "9610" else "B", "agentCode": world.AGENT[0],
                     "agentName": world.AGENT[1], "ebcCode": firm.customs_code, "ebcName": firm.name,
                     "ownerCode": firm.customs_code, "ownerName": firm.name, "tradeMode": trade_mode,
                     "trafMode": dest.traf_mode, "country": dest.country, "POD": dest.pod[2:],
                     "freight": "0", "fCurrency": currency, "fFlag": "3", "insuredFee": "0",
                     "iCurrency": currency, "iFlag": "3", "wrapType": "2", "packNo": 1,
                     "grossWeight": weight, "netWeight": (weight * Decimal("0.9")).quantize(Decimal("0.001"))},
            "lines": [{"gnum": l["gnum"], "itemNo": l["item_no"], "itemName": l["gname"], "gcode": l["gcode"],
                       "gname": l["gname"], "gmodel": "标准", "barCode": "无", "country": dest.country,
                       "currency": currency, "qty": l["qty"], "qty1": l["qty"], "unit": l["unit"],
                       "unit1": l["unit"], "price": l["price"], "totalPrice": l["total"]} for l in lines],
        })
        truth["orders"] += 1
        truth["inventories"] += 1
        truth["inventory_lines"] += len(lines)
        reply_base = {"guid": invt_guid, "agentCode": world.AGENT[0],
                      "copNo": inventories[-1]["head"]["copNo"], "preNo": f"E{day:%Y%m%d}{rng.getrandbits(28):09d}",
                      "invtNo": f"8000{day:%Y}E{rng.getrandbits(28):09d}", "ebcCode": firm.customs_code,
                      "ebpCode": platform[0], "orderNo": order_no,
                      "statisticsFlag": inventories[-1]["head"]["statisticsFlag"]}
        t = app_time + timedelta(minutes=25)
        replies.append({**reply_base, "returnStatus": "120", "returnTime": f"{t:%Y%m%d%H%M%S}000", "returnInfo": "海关入库"})
        if rng.random() < 0.04:
            truth["rejected_inventories"] += 1
            t += timedelta(minutes=30)
            replies.append({**reply_base, "returnStatus": "100", "returnTime": f"{t:%Y%m%d%H%M%S}000",
                            "returnInfo": "退单：商品信息与订单不符"})
            continue
        t += timedelta(minutes=rng.randint(5, 90))
        replies.append({**reply_base, "returnStatus": RELEASED, "returnTime": f"{t:%Y%m%d%H%M%S}000", "returnInfo": "放行"})
        rate = rate_for(day, iso)
        value = sum((l["total"] * rate).quantize(FEN, ROUND_HALF_UP) for l in lines)
        truth["released_inventories"] += 1
        truth["released_lines"] += len(lines)
        truth["released_value_cny"] += value
        by_mode = truth["released_value_cny_by_trade_mode"]
        by_mode[trade_mode] = by_mode.get(trade_mode, Decimal(0)) + value

    folder = out / "customs" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    transfer = {"copCode": world.AGENT[0], "copName": world.AGENT[1], "dxpMode": "DXP", "dxpId": "DXPENT0000000001"}
    for message_type, docs in (("CEB303Message", orders), ("CEB603Message", inventories), ("CEB604Message", replies)):
        for n, start in enumerate(range(0, len(docs), BATCH), start=1):
            xml = render_message(message_type, _guid(rng), docs[start:start + BATCH], transfer)
            (folder / f"{message_type[:6]}_{day:%Y%m%d}_{n:04d}.xml").write_text(xml, encoding="utf-8")
    return truth


def _write_registry(day: date, cfg: SimulationConfig, out: Path) -> None:
    folder = out / "reference" / "registry" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "park_enterprises.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["credit_code", "customs_code", "enterprise_name", "enterprise_type", "entry_date", "status", "status_date"])
        for e in world.enterprises(cfg.seed):
            if e.entry_date <= day:
                w.writerow([e.credit_code, e.customs_code, e.name, e.enterprise_type, e.entry_date.isoformat(),
                            "active", e.entry_date.isoformat()])


def _write_fx(day: date, out: Path) -> None:
    folder = out / "reference" / "fx" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "cny_central_parity.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["rate_date", "currency_pair", "rate"])
        for pair, rate in fx_rates(day).items():
            w.writerow([day.isoformat(), f"{pair}/CNY", str(rate)])


def simulate(cfg: SimulationConfig, out: Path, progress=None) -> dict:
    """Generate every day in [start, end]; FX starts a week early so weekend lookups resolve."""
    out.mkdir(parents=True, exist_ok=True)
    for back in range(7, 0, -1):
        d = cfg.start - timedelta(days=back)
        if is_business_day(d):
            _write_fx(d, out)
    totals = {"days": 0, "orders": 0, "released_inventories": 0, "released_value_cny": Decimal(0)}
    truth_dir = out / "_truth"
    truth_dir.mkdir(exist_ok=True)
    day = cfg.start
    while day <= cfg.end:
        truth = simulate_day(day, cfg, out)
        (truth_dir / f"{day.isoformat()}.json").write_text(json.dumps(truth, default=str, indent=1, sort_keys=True))
        totals["days"] += 1
        for k in ("orders", "released_inventories", "released_value_cny"):
            totals[k] += truth[k]
        if progress:
            progress(day, truth)
        day += timedelta(days=1)
    return totals


def expected_progress(cfg: SimulationConfig, landing: Path) -> dict:
    """Ground truth for the progress figures after loading [start, end]: from the truth files and world."""
    firms = [e for e in world.enterprises(cfg.seed) if e.entry_date <= cfg.end]
    value = Decimal(0)
    released = 0
    for path in sorted((landing / "_truth").glob("*.json")):
        d = date.fromisoformat(path.stem)
        if cfg.start <= d <= cfg.end:
            t = json.loads(path.read_text())
            value += Decimal(t["released_value_cny"])
            released += t["released_lines"]
    return {
        "enterprises_introduced": sum(1 for e in firms if e.enterprise_type in ("export", "service")),
        "startups_incubated": sum(1 for e in firms if e.enterprise_type == "startup"),
        "export_volume_cny": value,
        "released_lines": released,
    }
