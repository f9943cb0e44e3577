"""The payment institutions' daily settlement files (seeded), plus ground truth.

Layout (one file per institution, settlement date and transaction date):
  payments/<settlement YYYY-MM-DD>/settlement_<pay_code>_<settlement YYYYMMDD>_<transaction YYYYMMDD>.csv

Every row of a file stems from payments captured on its transaction date, so the files of one
capture day depend only on the seed, that day and its payments (drawn in pay_no order from one
stream per day, whatever order they are passed in): any day generated alone comes out
byte-identical. Refunds, disputes, dispute reversals and FX adjustments settle in the folder of
their own settlement date but stay keyed by the original transaction date.

Amounts are Decimal throughout and written with exactly two decimals. An FX_ADJUSTMENT row is
denominated in CNY (fx_rate 1): it carries the difference between the CNY amount booked at a
provisional rate and the amount at the final NEXT_DAY parity, so PAYMENT + FX_ADJUSTMENT settle at
round_half_up(net × final rate).
"""

from __future__ import annotations

import csv
from bisect import bisect
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

# generate is referenced at call time, so it may itself import this module to write the payments feed.
from parkdw.sandbox import generate, holidays, world

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
ONE = Decimal(1)
CST = timezone(timedelta(hours=8))
CURRENCIES = ("CNY", "USD", "SGD")
TRANSACTION_TYPES = ("PAYMENT", "REFUND", "DISPUTE", "DISPUTE_REVERSAL", "FX_ADJUSTMENT")
COLUMNS = (
    "record_id", "settlement_date", "transaction_type", "pay_no", "original_pay_no", "order_no",
    "ebp_code", "ebc_code", "transaction_time", "currency", "gross_amount", "fee_amount", "net_amount",
    "fx_rate", "rate_type", "settlement_currency", "settlement_amount_cny",
)
REFUND_SHARE = 0.03
DISPUTE_SHARE = 0.003
REVERSAL_SHARE = 0.4  # of disputes, won back by the merchant
PROVISIONAL_SHARE = 0.3  # of NEXT_DAY payments booked at a provisional rate, revised later
PARITY_PUBLISHED = time(9, 15)  # the central parity is announced at 09:15 Beijing time
# Own pay_no of the follow-up rows: a prefix on the original keeps them unique and traceable.
PREFIX = {"REFUND": "RF", "DISPUTE": "CB", "DISPUTE_REVERSAL": "CR", "FX_ADJUSTMENT": "FX"}


@dataclass(frozen=True)
class PaymentInstitution:
    pay_code: str  # 10-character customs registration code
    name: str
    lag_days: tuple[int, int]  # settles T+min to T+max
    business_days: bool  # lag counted in business days (weekends and holidays skipped)
    fee_rate: Decimal  # share of the gross amount, rounded half-up to the fen, at least 0.01
    currency_mix: tuple[tuple[str, float], ...]  # the currencies its payers pay in, with weights
    next_day_share: float  # share of foreign-currency payments converted at the next day's parity
    weight: float  # share of the park's orders paid through it


PAYMENT_INSTITUTIONS = (
    PaymentInstitution("5001966PY1", "渝汇通跨境支付有限公司", (1, 2), True, Decimal("0.006"),
                       (("CNY", 85), ("USD", 15)), 0.0, 55),
    PaymentInstitution("5001966PY2", "狮城环球支付（重庆）有限公司", (1, 3), False, Decimal("0.008"),
                       (("SGD", 55), ("USD", 30), ("CNY", 15)), 0.4, 25),
    PaymentInstitution("5001966PY3", "亚太银行卡收单服务有限公司", (2, 5), False, Decimal("0.012"),
                       (("USD", 60), ("CNY", 25), ("SGD", 15)), 1.0, 20),
)
_BY_CODE = {i.pay_code: i for i in PAYMENT_INSTITUTIONS}


def institution(pay_code: str) -> PaymentInstitution:
    return _BY_CODE[pay_code]


def _unit(seed: int, purpose: str, key: str) -> float:
    """A uniform draw in [0, 1) keyed like world._rng(seed, "payments", purpose, key), without
    building a stream (per-order speed)."""
    return int.from_bytes(world.keyed_digest((seed, "payments", purpose), key)[:8], "big") / 2**64


_INSTITUTION_CUTS = tuple(accumulate(i.weight for i in PAYMENT_INSTITUTIONS))
_CURRENCY_CUTS = {i.pay_code: tuple(accumulate(w for _, w in i.currency_mix)) for i in PAYMENT_INSTITUTIONS}


def institution_for(seed: int, order_no: str) -> PaymentInstitution:
    """The institution an order is paid through: a pure function of the seed and the order."""
    cut = _unit(seed, "institution", order_no) * _INSTITUTION_CUTS[-1]
    return PAYMENT_INSTITUTIONS[bisect(_INSTITUTION_CUTS, cut)]


def currency_for(seed: int, order_no: str, inst: PaymentInstitution) -> str:
    """The currency the buyer pays an order in, from the institution's mix."""
    cuts = _CURRENCY_CUTS[inst.pay_code]
    return inst.currency_mix[bisect(cuts, _unit(seed, "currency", order_no) * cuts[-1])][0]


@lru_cache(maxsize=4096)
def next_business_day(day: date) -> date:
    day += timedelta(days=1)
    while not holidays.is_business_day(day):
        day += timedelta(days=1)
    return day


def settlement_date(inst: PaymentInstitution, day: date, lag: int) -> date:
    """Transaction date + lag: business days for institutions that only settle on them."""
    if not inst.business_days:
        return day + timedelta(days=lag)
    for _ in range(lag):
        day = next_business_day(day)
    return day


def _settling_on_or_after(inst: PaymentInstitution, day: date) -> date:
    if inst.business_days:
        while not holidays.is_business_day(day):
            day += timedelta(days=1)
    return day


def _fen(x: Decimal) -> Decimal:
    return x.quantize(FEN, ROUND_HALF_UP)


def _money(x: Decimal) -> str:
    return f"{x:.2f}" if x else "0.00"  # never "-0.00"


def _empty_summary() -> dict:
    return {"rows": dict.fromkeys(TRANSACTION_TYPES, 0),
            "gross": dict.fromkeys(CURRENCIES, ZERO), "fee": dict.fromkeys(CURRENCIES, ZERO),
            "net": dict.fromkeys(CURRENCIES, ZERO), "net_cny": ZERO}


def _check(p: dict, day: date) -> tuple[PaymentInstitution, datetime]:
    """The payment's institution and its capture time in Beijing time; ValueError naming the field."""
    def refuse(field: str, problem: str) -> ValueError:
        return ValueError(f"payment {p.get('pay_no')!r}: {field} {p.get(field)!r} {problem}")

    for field in ("pay_no", "order_no", "ebp_code", "ebc_code"):
        value = p.get(field)
        if not value or not isinstance(value, str):
            raise refuse(field, "must be a non-empty string")
    inst = _BY_CODE.get(p.get("pay_code"))
    if inst is None:
        raise refuse("pay_code", "is not a known payment institution")
    if p.get("currency") not in CURRENCIES:
        raise refuse("currency", f"is not one of {CURRENCIES}")
    amount = p.get("amount")
    if not isinstance(amount, Decimal) or amount <= 0 or amount != amount.quantize(FEN):
        raise refuse("amount", "must be a positive Decimal with 2 decimals")
    paid_at = p.get("paid_at")
    if not isinstance(paid_at, datetime) or paid_at.utcoffset() is None:
        raise refuse("paid_at", "must be an aware datetime")
    paid_at = paid_at.astimezone(CST).replace(microsecond=0)
    if paid_at.date() != day:
        raise refuse("paid_at", f"is not on the capture day {day}")
    return inst, paid_at


def write_settlements(out: Path, day: date, seed: int, payments: list[dict]) -> dict:
    """Write the settlement rows of the payments captured on `day`; return their ground truth.

    truth = {"day", "payments", "files": {relative path: summary}, "total": summary}, where
    summary = {"rows": {transaction_type: count}, "gross"|"fee"|"net": {currency: Decimal},
    "net_cny": Decimal (the sum of settlement_amount_cny)}.
    """
    rng = world._rng(seed, "payments", day.isoformat())
    uniform = rng.random

    def draw(lo: int, hi: int) -> int:  # rng.randint, without its overhead
        return lo + int(uniform() * (hi - lo + 1))

    def event_time(d: date) -> datetime:
        return datetime.combine(d, time(), CST) + timedelta(seconds=draw(8 * 3600, 22 * 3600))

    rates: dict[tuple[date, str], Decimal] = {}

    def locked(d: date, iso: str) -> Decimal:
        if (d, iso) not in rates:
            rates[d, iso] = generate.rate_for(d, iso)
        return rates[d, iso]

    files: dict[tuple[str, date], list[tuple]] = {}

    def add(inst, settle, kind, pay_no, original, p, when, currency, gross, fee, rate, rate_type):
        net = gross - fee
        files.setdefault((inst.pay_code, settle), []).append(
            (when.isoformat(), pay_no, kind, original, p["order_no"], p["ebp_code"], p["ebc_code"],
             currency, gross, fee, net, rate, rate_type, _fen(net * rate)))

    seen: set[str] = set()
    for p in sorted(payments, key=lambda p: str(p.get("pay_no"))):
        inst, paid_at = _check(p, day)
        pay_no, iso, amount = p["pay_no"], p["currency"], p["amount"]
        if pay_no in seen:
            raise ValueError(f"payment {pay_no!r}: pay_no is not unique on {day}")
        seen.add(pay_no)
        lo, hi = inst.lag_days
        settle = settlement_date(inst, day, draw(lo, hi))
        fee = max(FEN, _fen(amount * inst.fee_rate))
        if iso == "CNY":
            add(inst, settle, "PAYMENT", pay_no, "", p, paid_at, iso, amount, fee, ONE, "LOCKED_SAME_DAY")
        elif uniform() >= inst.next_day_share:
            add(inst, settle, "PAYMENT", pay_no, "", p, paid_at, iso, amount, fee, locked(day, iso), "LOCKED_SAME_DAY")
        else:
            fixing = next_business_day(day)
            final = locked(fixing, iso)
            # Settled before the next parity is published, or booked provisionally by choice.
            if settle < fixing or uniform() < PROVISIONAL_SHARE:
                provisional = locked(day, iso)
                add(inst, settle, "PAYMENT", pay_no, "", p, paid_at, iso, amount, fee, provisional, "NEXT_DAY")
                net = amount - fee
                diff = _fen(net * final) - _fen(net * provisional)
                if diff:
                    later = _settling_on_or_after(inst, max(settle, fixing) + timedelta(days=draw(1, 2)))
                    add(inst, later, "FX_ADJUSTMENT", PREFIX["FX_ADJUSTMENT"] + pay_no, pay_no, p,
                        datetime.combine(fixing, PARITY_PUBLISHED, CST), "CNY", diff, ZERO, ONE, "NEXT_DAY")
            else:
                add(inst, settle, "PAYMENT", pay_no, "", p, paid_at, iso, amount, fee, final, "NEXT_DAY")

        u = uniform()
        if u < REFUND_SHARE:
            refund = amount if uniform() < 0.6 else max(FEN, _fen(amount * Decimal(draw(10, 90)) / 100))
            # Refunded a few days later, once the payment has settled.
            when = event_time(max(day + timedelta(days=draw(2, 10)), settle))
            add(inst, settlement_date(inst, when.date(), draw(lo, hi)), "REFUND", PREFIX["REFUND"] + pay_no,
                pay_no, p, when, iso, -refund, ZERO, locked(when.date(), iso), "LOCKED_SAME_DAY")
        elif u < REFUND_SHARE + DISPUTE_SHARE:
            when = event_time(day + timedelta(days=draw(10, 40)))
            add(inst, settlement_date(inst, when.date(), draw(lo, hi)), "DISPUTE", PREFIX["DISPUTE"] + pay_no,
                pay_no, p, when, iso, -amount, ZERO, locked(when.date(), iso), "LOCKED_SAME_DAY")
            if uniform() < REVERSAL_SHARE:
                when = event_time(when.date() + timedelta(days=draw(7, 30)))
                add(inst, settlement_date(inst, when.date(), draw(lo, hi)), "DISPUTE_REVERSAL",
                    PREFIX["DISPUTE_REVERSAL"] + pay_no, pay_no, p, when, iso, amount, ZERO,
                    locked(when.date(), iso), "LOCKED_SAME_DAY")

    truth = {"day": day.isoformat(), "payments": len(payments), "files": {}, "total": _empty_summary()}
    total = truth["total"]
    for (pay_code, settle), rows in sorted(files.items()):
        rows.sort()
        folder = out / "payments" / settle.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        name = f"settlement_{pay_code}_{settle:%Y%m%d}_{day:%Y%m%d}.csv"
        summary = _empty_summary()
        prefix = f"{pay_code}{settle:%Y%m%d}{day:%Y%m%d}"
        with open(folder / name, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for seq, (when, pay_no, kind, original, order_no, ebp, ebc, cur, gross, fee, net, rate,
                      rate_type, cny) in enumerate(rows, start=1):
                w.writerow((f"{prefix}{seq:06d}", settle.isoformat(), kind, pay_no, original, order_no, ebp, ebc,
                            when, cur, _money(gross), _money(fee), _money(net), f"{rate:.4f}", rate_type, "CNY",
                            _money(cny)))
                summary["rows"][kind] += 1
                summary["gross"][cur] += gross
                summary["fee"][cur] += fee
                summary["net"][cur] += net
                summary["net_cny"] += cny
        truth["files"][f"payments/{settle.isoformat()}/{name}"] = summary
        for key in ("rows", "gross", "fee", "net"):
            for k, v in summary[key].items():
                total[key][k] += v
        total["net_cny"] += summary["net_cny"]
    return truth
