"""The payment institutions' daily settlement files (seeded), plus ground truth.

Layout (one file per institution, settlement date and transaction date):
  payments/<settlement YYYY-MM-DD>/settlement_<pay_code>_<settlement YYYYMMDD>_<transaction YYYYMMDD>.csv

Every row of a file stems from payments captured on its transaction date, so the files of one
capture day depend only on the seed, that day and its payments (drawn in pay_no order from one
stream per day, whatever order they are passed in): any day generated alone comes out
byte-identical. Refunds, disputes, dispute reversals and FX adjustments settle in the folder of
their own settlement date but stay keyed by the original transaction date.

Amounts are Decimal in and out (payments, truth), exact integer fen in between, and written with
exactly two decimals. An FX_ADJUSTMENT row is
denominated in CNY (fx_rate 1): it carries the difference between the CNY amount booked at a
provisional rate and the amount at the final NEXT_DAY parity, so PAYMENT + FX_ADJUSTMENT settle at
round_half_up(net × final rate).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from itertools import chain, repeat
from operator import floordiv, itemgetter, sub
from pathlib import Path

import numpy as np

# generate is referenced at call time, so it may itself import this module to write the payments feed.
from parkdw.sandbox import generate, holidays, world

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
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
_FIELDS = ("pay_no", "order_no", "ebp_code", "ebc_code", "pay_code", "currency", "amount", "paid_at")
_TWO = [f"{i:02d}" for i in range(100)]  # cents as text
# Exactly the characters for which csv.writer (excel dialect) quotes a field (tried on every code point).
_QUOTED = re.compile('[,"\r\n]').search


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


def draw_payers(rng: np.random.Generator, n: int) -> tuple[list[PaymentInstitution], list[str]]:
    """n payments' institutions (by their weights) and the currencies their buyers pay in (by each
    institution's mix), drawn as columns."""
    def pick(weights: list[float], draws: np.ndarray) -> np.ndarray:
        cuts = np.cumsum(weights)
        return np.minimum(np.searchsorted(cuts, draws * cuts[-1], side="right"), len(cuts) - 1)

    which = pick([i.weight for i in PAYMENT_INSTITUTIONS], rng.random(n))
    draws, currency = rng.random(n), np.empty(n, dtype=object)
    for k, inst in enumerate(PAYMENT_INSTITUTIONS):
        rows = which == k
        currency[rows] = np.array([c for c, _ in inst.currency_mix], dtype=object)[
            pick([w for _, w in inst.currency_mix], draws[rows])]
    return [PAYMENT_INSTITUTIONS[k] for k in which.tolist()], currency.tolist()


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


def _money(fen: int) -> str:
    """Fen as yuan with two decimals, never "-0.00" (a table, not a format spec: this runs per field)."""
    return f"{fen // 100}.{_TWO[fen % 100]}" if fen >= 0 else f"-{-fen // 100}.{_TWO[-fen % 100]}"


def _half_up(x: int, den: int) -> int:
    """x / den to an integer, halves away from zero: Decimal's ROUND_HALF_UP, in exact integers."""
    q = (2 * abs(x) + den) // (2 * den)
    return q if x >= 0 else -q


def _field(text: str) -> str:
    """A field as csv.writer writes it."""
    return '"' + text.replace('"', '""') + '"' if _QUOTED(text) else text


def _empty_summary(zero=ZERO) -> dict:
    return {"rows": dict.fromkeys(TRANSACTION_TYPES, 0),
            "gross": dict.fromkeys(CURRENCIES, zero), "fee": dict.fromkeys(CURRENCIES, zero),
            "net": dict.fromkeys(CURRENCIES, zero), "net_cny": zero}


def _in_yuan(fen: dict) -> dict:
    """A summary summed in fen, in Decimal yuan with two decimals."""
    yuan = {key: {cur: Decimal(v).scaleb(-2) for cur, v in fen[key].items()} for key in ("gross", "fee", "net")}
    return {"rows": fen["rows"], **yuan, "net_cny": Decimal(fen["net_cny"]).scaleb(-2)}


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


def _columns(payments: list[dict], day: date) -> tuple:
    """The payments' fields a column each, in the order given, amounts in fen and capture times in
    whole seconds after Beijing midnight. Checked a column at a time (C speed); on any doubt, _check
    refuses the first bad record in pay_no order, as when every record went through it."""
    try:
        # A field at a time, in the order given (memory order): several times faster than by pay_no.
        pay_no, order_no, ebp, ebc, code, iso, amount, paid_at = ([p[key] for p in payments] for key in _FIELDS)
        scaled = list(map(Decimal.scaleb, amount, repeat(2)))
        fen = list(map(int, scaled))
        midnight = datetime.combine(day, time(), CST)
        seconds = list(map(floordiv, map(sub, paid_at, repeat(midnight)), repeat(timedelta(seconds=1))))
        texts = (pay_no, order_no, ebp, ebc)
        if (all(map(isinstance, chain(*texts), repeat(str))) and all(map(all, texts))
                and set(code) <= _BY_CODE.keys() and set(iso) <= set(CURRENCIES)
                and fen == scaled and min(fen, default=1) > 0  # (scaleb takes nothing but a Decimal)
                and all(map(isinstance, paid_at, repeat(datetime)))
                and 0 <= min(seconds, default=0) and max(seconds, default=0) < 86400
                and len(set(pay_no)) == len(pay_no)):
            return pay_no, order_no, ebp, ebc, code, iso, fen, seconds
    except Exception:  # a missing field or a value of another type: named by _check below
        pass
    seen: set[str] = set()
    for p in sorted(payments, key=lambda p: str(p.get("pay_no"))):
        _check(p, day)
        if p["pay_no"] in seen:
            raise ValueError(f"payment {p['pay_no']!r}: pay_no is not unique on {day}")
        seen.add(p["pay_no"])
    raise AssertionError("the column checks refused payments that _check accepts")


@lru_cache(maxsize=4096)
def _locked(day: date, iso: str) -> tuple[str, int, int]:
    """The rate in force (generate.rate_for) as written, with four decimals, and as an exact ratio."""
    rate = generate.rate_for(day, iso)
    return f"{rate:.4f}", *rate.as_integer_ratio()


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

    # Rows as (when + pay_no, kind, the CSV text from kind on, currency, gross, fee, cny), amounts in fen.
    # Sorted by when + pay_no (when has a fixed width): the order of the full rows, as no two rows share
    # when and pay_no (a follow-up's pay_no is its kind's prefix + the original's; it falls after `day`).
    files: dict[tuple[str, date], list[tuple]] = defaultdict(list)

    def add(inst, settle, kind, when, currency, gross, rate, rate_type="LOCKED_SAME_DAY"):
        """A follow-up row (no fee) of the payment in hand (the loop's pay_no, pay_text, order_no...)."""
        rate_text, num, den = rate
        own, when, cny = PREFIX[kind] + pay_no, when.isoformat(), _half_up(gross * num, den)
        files[inst.pay_code, settle].append((
            when + own, kind, f"{kind},{_field(own)},{pay_text},{order_no},{ebp},{ebc},{when},{currency},"
            f"{_money(gross)},0.00,{_money(gross)},{rate_text},{rate_type},CNY,{_money(cny)}\r\n",
            currency, gross, 0, cny))

    one = ("1.0000", 1, 1)
    fixing = next_business_day(day)
    minutes = [f"{day.isoformat()}T{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]
    # Per institution: its settlement date for each lag from today, and its fee rate as a ratio.
    terms = {i.pay_code: (i, [settlement_date(i, day, lag) for lag in range(i.lag_days[0], i.lag_days[1] + 1)],
                          *i.fee_rate.as_integer_ratio()) for i in PAYMENT_INSTITUTIONS}
    pay_nos, order_nos, ebps, ebcs, codes, isos, amounts, seconds = _columns(payments, day)
    texts = pay_nos, order_nos, ebps, ebcs
    if _QUOTED("".join(chain(*texts))):  # rare: then quote each field as csv.writer would
        texts = [list(map(_field, column)) for column in texts]
    # The draws follow pay_no order, whatever order the payments come in.
    for pay_no, pay_text, order_no, ebp, ebc, code, iso, amount, second in sorted(
            zip(pay_nos, *texts, codes, isos, amounts, seconds), key=itemgetter(0)):
        inst, settles, fee_num, fee_den = terms[code]
        settle = settles[int(uniform() * len(settles))]  # settlement_date(inst, day, draw(lo, hi))
        fee = max(1, (2 * amount * fee_num + fee_den) // (2 * fee_den))  # half up, as amount > 0
        net = amount - fee
        if iso == "CNY":
            rate, rate_type = one, "LOCKED_SAME_DAY"
        elif uniform() >= inst.next_day_share:
            rate, rate_type = _locked(day, iso), "LOCKED_SAME_DAY"
        else:
            rate = final = _locked(fixing, iso)
            rate_type = "NEXT_DAY"
            # Settled before the next parity is published, or booked provisionally by choice.
            if settle < fixing or uniform() < PROVISIONAL_SHARE:
                rate = _locked(day, iso)
                diff = _half_up(net * final[1], final[2]) - _half_up(net * rate[1], rate[2])
                if diff:
                    later = _settling_on_or_after(inst, max(settle, fixing) + timedelta(days=draw(1, 2)))
                    add(inst, later, "FX_ADJUSTMENT", datetime.combine(fixing, PARITY_PUBLISHED, CST), "CNY", diff,
                        one, "NEXT_DAY")
        # The payment's own row, inline: this runs for every payment.
        rate_text, num, den = rate
        cny = (2 * net * num + den) // (2 * den)  # half up, as net >= 0
        paid_at = f"{minutes[second // 60]}{_TWO[second % 60]}+08:00"
        files[inst.pay_code, settle].append((
            paid_at + pay_no, "PAYMENT", f"PAYMENT,{pay_text},,{order_no},{ebp},{ebc},{paid_at},{iso},{_money(amount)},"
            f"{_money(fee)},{_money(net)},{rate_text},{rate_type},CNY,{_money(cny)}\r\n", iso, amount, fee, cny))

        u = uniform()
        if u < REFUND_SHARE:
            refund = amount if uniform() < 0.6 else max(1, _half_up(amount * draw(10, 90), 100))
            # Refunded a few days later, once the payment has settled.
            when = event_time(max(day + timedelta(days=draw(2, 10)), settle))
            add(inst, settlement_date(inst, when.date(), draw(*inst.lag_days)), "REFUND", when, iso, -refund,
                _locked(when.date(), iso))
        elif u < REFUND_SHARE + DISPUTE_SHARE:
            when = event_time(day + timedelta(days=draw(10, 40)))
            add(inst, settlement_date(inst, when.date(), draw(*inst.lag_days)), "DISPUTE", when, iso, -amount,
                _locked(when.date(), iso))
            if uniform() < REVERSAL_SHARE:
                when = event_time(when.date() + timedelta(days=draw(7, 30)))
                add(inst, settlement_date(inst, when.date(), draw(*inst.lag_days)), "DISPUTE_REVERSAL", when, iso,
                    amount, _locked(when.date(), iso))

    truth = {"day": day.isoformat(), "payments": len(payments), "files": {}}
    total = _empty_summary(0)
    header = ",".join(COLUMNS) + "\r\n"
    for settle in {settle for _, settle in files}:  # once each: a mkdir costs about as much as a file
        (out / "payments" / settle.isoformat()).mkdir(parents=True, exist_ok=True)
    for (pay_code, settle), rows in sorted(files.items()):
        rows.sort(key=itemgetter(0))
        name = f"payments/{settle.isoformat()}/settlement_{pay_code}_{settle:%Y%m%d}_{day:%Y%m%d}.csv"
        summary = _empty_summary(0)
        counts, gross, fee, cny = summary["rows"], summary["gross"], summary["fee"], 0
        lead, prefix = f",{settle.isoformat()},", f"{pay_code}{settle:%Y%m%d}{day:%Y%m%d}"
        lines = [header]
        for seq, (_, kind, text, cur, row_gross, row_fee, row_cny) in enumerate(rows, start=1):
            lines.append(f"{prefix}{seq:06d}{lead}{text}")
            counts[kind] += 1
            gross[cur] += row_gross
            fee[cur] += row_fee
            cny += row_cny
        (out / name).write_bytes("".join(lines).encode())  # the bytes csv.writer wrote: \r\n, UTF-8
        summary["net"] = {cur: gross[cur] - fee[cur] for cur in CURRENCIES}  # as net = gross - fee by row
        summary["net_cny"] = cny
        truth["files"][name] = _in_yuan(summary)
        for key in ("rows", "gross", "fee", "net"):
            for k, v in summary[key].items():
                total[key][k] += v
        total["net_cny"] += cny
    truth["total"] = _in_yuan(total)
    return truth
