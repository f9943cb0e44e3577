"""The payment institutions' settlement files: deterministic, balanced, and true to their truth."""

import csv
import hashlib
import io
import random
import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from parkdw.sandbox import payments as pm
from parkdw.sandbox import world
from parkdw.sandbox.generate import fx_rates, is_business_day, rate_for

SEED = 7
FRIDAY = date(2024, 6, 14)  # the Chinese institution's T+1 lands on Monday
SATURDAY = date(2024, 6, 15)
MONEY = re.compile(r"^-?\d+\.\d{2}$")
RATE = re.compile(r"^\d+\.\d{4,6}$")


def make_payments(day: date, n: int, seed: int = SEED) -> list[dict]:
    rng = random.Random(f"{seed}|{day}")
    exporters = [e.customs_code for e in world.enterprises(seed) if e.weight > 0]
    result = []
    payers = pm.draw_payers(np.random.default_rng([seed, day.toordinal()]), n)
    for i, (inst, currency) in enumerate(zip(*payers)):
        platform = rng.choice(world.PLATFORMS)[0]
        order_no = f"{platform[-3:]}{day:%Y%m%d}{i:012d}"
        paid_at = datetime.combine(day, time(), pm.CST) + timedelta(seconds=rng.randint(0, 86399))
        if i % 3 == 0:
            paid_at = paid_at.astimezone(timezone.utc)  # the same instant, told in UTC
        result.append({
            "order_no": order_no, "pay_no": f"PAY{day:%Y%m%d}{i:08d}", "ebp_code": platform,
            "ebc_code": rng.choice(exporters), "pay_code": inst.pay_code, "currency": currency,
            "amount": Decimal(rng.randint(1, 300_000)) / 100, "paid_at": paid_at,
        })
    return result


def digest(root) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.csv"))}


def read_rows(root) -> list[dict]:
    rows = []
    for path in sorted((root / "payments").rglob("*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            assert tuple(reader.fieldnames) == pm.COLUMNS, path
            rows += [{**r, "_file": path.relative_to(root).as_posix()} for r in reader]
    return rows


def half_up(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), ROUND_HALF_UP)


def local_date(row: dict) -> date:
    return datetime.fromisoformat(row["transaction_time"]).date()


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("payments")
    friday, saturday = make_payments(FRIDAY, 6000), make_payments(SATURDAY, 3000)
    truth = {"a": pm.write_settlements(root / "a", FRIDAY, SEED, friday)}
    truth["ab"] = pm.write_settlements(root / "ab", FRIDAY, SEED, friday)
    truth["ab_saturday"] = pm.write_settlements(root / "ab", SATURDAY, SEED, saturday)
    return {"root": root, "truth": truth, "inputs": friday + saturday, "rows": read_rows(root / "ab")}


def test_same_inputs_same_bytes_and_a_day_alone_matches(landing, tmp_path):
    root = landing["root"]
    friday = make_payments(FRIDAY, 6000)
    random.Random(1).shuffle(friday)  # the input order does not matter
    again = pm.write_settlements(tmp_path / "again", FRIDAY, SEED, friday)
    alone = digest(root / "a")
    assert alone and digest(tmp_path / "again") == alone and again == landing["truth"]["a"]
    both = digest(root / "ab")
    suffix = f"_{FRIDAY:%Y%m%d}.csv"
    assert {k: v for k, v in both.items() if k.endswith(suffix)} == alone
    assert any(k.endswith(f"_{SATURDAY:%Y%m%d}.csv") for k in both)
    pm.write_settlements(tmp_path / "other", FRIDAY, SEED + 1, make_payments(FRIDAY, 6000))
    assert digest(tmp_path / "other") != alone


def test_every_row_balances_and_is_written_without_floats(landing):
    rows = landing["rows"]
    assert len(rows) > 9000
    for r in rows:
        for field in ("gross_amount", "fee_amount", "net_amount", "settlement_amount_cny"):
            assert MONEY.match(r[field]), (r["_file"], r["record_id"], field, r[field])
        assert RATE.match(r["fx_rate"]), (r["_file"], r["record_id"], r["fx_rate"])
        gross, fee, net, rate = (Decimal(r[k]) for k in ("gross_amount", "fee_amount", "net_amount", "fx_rate"))
        assert net == gross - fee, r
        assert Decimal(r["settlement_amount_cny"]) == half_up(net * rate), r
        assert r["currency"] in pm.CURRENCIES and r["settlement_currency"] == "CNY"
        assert r["transaction_type"] in pm.TRANSACTION_TYPES and r["rate_type"] in ("LOCKED_SAME_DAY", "NEXT_DAY")
        if r["currency"] == "CNY":
            assert rate == 1, r
        else:
            assert rate > 1, r
        assert r["transaction_time"].endswith("+08:00")
        folder, name = r["_file"].split("/")[1:]
        prefix, pay_code, settled, transacted = name.removesuffix(".csv").split("_")
        assert folder == r["settlement_date"] and settled == folder.replace("-", "")
        assert prefix == "settlement" and pay_code in {i.pay_code for i in pm.PAYMENT_INSTITUTIONS}
        assert r["record_id"].startswith(pay_code + settled + transacted)
    assert len({r["record_id"] for r in rows}) == len(rows)
    assert len({r["pay_no"] for r in rows}) == len(rows)
    assert {r["currency"] for r in rows} == set(pm.CURRENCIES)


def test_payment_fees_follow_the_institution_rate(landing):
    by_pay_no = {p["pay_no"]: p for p in landing["inputs"]}
    for r in landing["rows"]:
        if r["transaction_type"] == "PAYMENT":
            p = by_pay_no[r["pay_no"]]
            inst = pm.institution(p["pay_code"])
            assert Decimal(r["gross_amount"]) == p["amount"] and r["currency"] == p["currency"]
            assert Decimal(r["fee_amount"]) == max(Decimal("0.01"), half_up(p["amount"] * inst.fee_rate))
            assert r["order_no"] == p["order_no"] and r["ebc_code"] == p["ebc_code"]
            assert datetime.fromisoformat(r["transaction_time"]) == p["paid_at"].replace(microsecond=0)
    assert sum(r["transaction_type"] == "PAYMENT" for r in landing["rows"]) == len(landing["inputs"])


def test_truth_equals_the_files_read_back(landing):
    root = landing["root"]
    for folder, truth in (("a", landing["truth"]["a"]),):
        rows = read_rows(root / folder)
        expected_files = {}
        for r in rows:
            s = expected_files.setdefault(r["_file"], pm._empty_summary())
            s["rows"][r["transaction_type"]] += 1
            for key, field in (("gross", "gross_amount"), ("fee", "fee_amount"), ("net", "net_amount")):
                s[key][r["currency"]] += Decimal(r[field])
            s["net_cny"] += Decimal(r["settlement_amount_cny"])
        assert truth["files"] == expected_files
        assert truth["payments"] == 6000 and truth["day"] == FRIDAY.isoformat()
        total = truth["total"]
        assert sum(total["rows"].values()) == len(rows)
        assert total["rows"]["PAYMENT"] == 6000
        assert total["net_cny"] == sum(Decimal(r["settlement_amount_cny"]) for r in rows) > 0
        for cur in pm.CURRENCIES:
            assert total["net"][cur] == sum(Decimal(r["net_amount"]) for r in rows if r["currency"] == cur)
            assert total["gross"][cur] - total["fee"][cur] == total["net"][cur]
    # Both days' truths add up to everything in the shared landing folder.
    rows = landing["rows"]
    both = landing["truth"]["ab"]["total"]["net_cny"] + landing["truth"]["ab_saturday"]["total"]["net_cny"]
    assert both == sum(Decimal(r["settlement_amount_cny"]) for r in rows)


def _business_days_between(start: date, end: date) -> int:
    return sum(is_business_day(start + timedelta(days=k)) for k in range(1, (end - start).days + 1))


def test_settlement_dates_follow_each_institutions_lag(landing):
    lags_seen = {i.pay_code: set() for i in pm.PAYMENT_INSTITUTIONS}
    for r in landing["rows"]:
        if r["transaction_type"] == "FX_ADJUSTMENT":
            continue
        inst = pm.institution(r["_file"].split("/")[-1].split("_")[1])
        start, settle = local_date(r), date.fromisoformat(r["settlement_date"])
        assert settle > start, r
        lo, hi = inst.lag_days
        if inst.business_days:
            assert is_business_day(settle), r
            lag = _business_days_between(start, settle)
        else:
            lag = (settle - start).days
        assert lo <= lag <= hi, r
        lags_seen[inst.pay_code].add(lag)
        if r["transaction_type"] == "PAYMENT":
            assert r["_file"].endswith(f"_{start:%Y%m%d}.csv")
    assert all(len(seen) == i.lag_days[1] - i.lag_days[0] + 1
               for i in pm.PAYMENT_INSTITUTIONS for seen in [lags_seen[i.pay_code]])
    chinese = [r for r in landing["rows"] if r["_file"].split("/")[-1].split("_")[1] == "5001966PY1"]
    friday_t1 = {r["settlement_date"] for r in chinese
                 if r["transaction_type"] == "PAYMENT" and local_date(r) == FRIDAY}
    assert friday_t1 == {"2024-06-17", "2024-06-18"}  # T+1 and T+2 over the weekend
    others = {r["settlement_date"] for r in landing["rows"] if r["_file"].split("/")[-1].split("_")[1] != "5001966PY1"}
    assert "2024-06-15" in others and "2024-06-16" in others  # the others settle at weekends


def test_refunds_and_disputes_reference_their_payment(landing):
    rows = landing["rows"]
    payments = {r["pay_no"]: r for r in rows if r["transaction_type"] == "PAYMENT"}
    disputes = {r["original_pay_no"]: r for r in rows if r["transaction_type"] == "DISPUTE"}
    counts = {t: sum(r["transaction_type"] == t for r in rows) for t in pm.TRANSACTION_TYPES}
    assert 0.02 <= counts["REFUND"] / len(payments) <= 0.04
    assert 0.001 <= counts["DISPUTE"] / len(payments) <= 0.006
    assert 0 < counts["DISPUTE_REVERSAL"] < counts["DISPUTE"]
    partial = 0
    for r in rows:
        kind = r["transaction_type"]
        if kind == "PAYMENT":
            assert r["original_pay_no"] == ""
            continue
        original = payments[r["original_pay_no"]]
        assert r["pay_no"] != original["pay_no"] and r["order_no"] == original["order_no"]
        assert r["transaction_time"] > original["transaction_time"]
        assert r["settlement_date"] >= original["settlement_date"]
        # Follow-ups stay keyed by the original transaction date, in their own settlement folder.
        assert r["_file"].endswith(f"_{local_date(original):%Y%m%d}.csv")
        assert r["_file"].split("/")[1] == r["settlement_date"]
        if kind in ("REFUND", "DISPUTE"):
            assert Decimal(r["net_amount"]) < 0 and r["currency"] == original["currency"]
            assert -Decimal(r["gross_amount"]) <= Decimal(original["gross_amount"])
            partial += -Decimal(r["gross_amount"]) < Decimal(original["gross_amount"])
            assert local_date(r) > local_date(original)
        elif kind == "DISPUTE_REVERSAL":
            dispute = disputes[r["original_pay_no"]]
            assert Decimal(r["net_amount"]) > 0 and r["gross_amount"] == dispute["gross_amount"].lstrip("-")
            assert r["transaction_time"] > dispute["transaction_time"]
    assert partial > 0
    refunded = [r["original_pay_no"] for r in rows if r["transaction_type"] == "REFUND"]
    assert len(set(refunded)) == len(refunded) and not set(refunded) & set(disputes)


def test_next_day_payments_are_revised_by_later_fx_adjustments(landing):
    rows = landing["rows"]
    payments = {r["pay_no"]: r for r in rows if r["transaction_type"] == "PAYMENT"}
    adjustments = {r["original_pay_no"]: r for r in rows if r["transaction_type"] == "FX_ADJUSTMENT"}
    next_day = [r for r in payments.values() if r["rate_type"] == "NEXT_DAY"]
    assert adjustments and len(adjustments) < len(next_day)
    for pay_no, adj in adjustments.items():
        pay = payments[pay_no]
        assert pay["rate_type"] == "NEXT_DAY" and pay["currency"] != "CNY"
        assert adj["currency"] == "CNY" and Decimal(adj["fx_rate"]) == 1 and Decimal(adj["net_amount"]) != 0
        assert adj["settlement_date"] > pay["settlement_date"] and adj["_file"] != pay["_file"]
        assert adj["pay_no"] != pay_no and adj["order_no"] == pay["order_no"]
    for pay in payments.values():
        day, iso = local_date(pay), pay["currency"]
        rate = Decimal(pay["fx_rate"])
        if iso == "CNY":
            continue
        if pay["rate_type"] == "LOCKED_SAME_DAY":
            assert rate == rate_for(day, iso), pay
            continue
        fixing = day + timedelta(days=1)
        while not is_business_day(fixing):
            fixing += timedelta(days=1)
        final = fx_rates(fixing)[iso]
        provisional = rate_for(day, iso)
        assert rate in (final, provisional), pay
        if date.fromisoformat(pay["settlement_date"]) < fixing:
            assert rate == provisional, pay  # settled before the final parity was published
        adjustment = adjustments.get(pay["pay_no"])
        if adjustment:
            assert rate == provisional != final
        # Whatever was booked first, the payment ends up at the final parity.
        revision = Decimal(adjustment["settlement_amount_cny"]) if adjustment else 0
        revised = Decimal(pay["settlement_amount_cny"]) + revision
        assert revised == half_up(Decimal(pay["net_amount"]) * final), pay


def test_institutions_are_registered_and_picked_deterministically():
    codes = [i.pay_code for i in pm.PAYMENT_INSTITUTIONS]
    assert 3 <= len(codes) <= 4 and len(set(codes)) == len(codes) and all(len(c) == 10 for c in codes)
    assert all(1 <= i.lag_days[0] <= i.lag_days[1] <= 5 for i in pm.PAYMENT_INSTITUTIONS)
    assert all(Decimal("0.006") <= i.fee_rate <= Decimal("0.012") for i in pm.PAYMENT_INSTITUTIONS)
    picks, currencies = pm.draw_payers(np.random.default_rng(SEED), 20_000)
    assert (picks, currencies) == pm.draw_payers(np.random.default_rng(SEED), 20_000)
    weight = sum(i.weight for i in pm.PAYMENT_INSTITUTIONS)
    for inst in pm.PAYMENT_INSTITUTIONS:  # each institution's share and its buyers' currencies follow its weights
        mine = [c for p, c in zip(picks, currencies) if p is inst]
        assert abs(len(mine) / len(picks) - inst.weight / weight) < 0.02, inst.pay_code
        mix = sum(w for _, w in inst.currency_mix)
        for currency, w in inst.currency_mix:
            assert abs(mine.count(currency) / len(mine) - w / mix) < 0.05, (inst.pay_code, currency)
        assert set(mine) <= {c for c, _ in inst.currency_mix}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("amount", 12.5, "amount"),
    ("amount", Decimal("1.234"), "amount"),
    ("currency", "EUR", "currency"),
    ("pay_code", "5001966XX9", "pay_code"),
    ("order_no", None, "order_no"),
    ("paid_at", datetime(2024, 6, 14, 12), "paid_at"),
    ("paid_at", datetime(2024, 6, 13, 23, tzinfo=pm.CST), "capture day"),
])
def test_bad_payments_are_refused_naming_the_record_and_field(tmp_path, field, value, message):
    payment = make_payments(FRIDAY, 1)[0] | {field: value}
    with pytest.raises(ValueError, match=rf"PAY2024061400000000.*{message}"):
        pm.write_settlements(tmp_path, FRIDAY, SEED, [payment])
    assert not (tmp_path / "payments").exists()


def test_a_repeated_pay_no_is_refused(tmp_path):
    first, second = make_payments(FRIDAY, 2)
    with pytest.raises(ValueError, match="PAY2024061400000000.*not unique"):
        pm.write_settlements(tmp_path, FRIDAY, SEED, [first, second | {"pay_no": first["pay_no"]}])


def test_files_are_what_csv_writer_writes_even_for_texts_it_must_quote(tmp_path):
    odd = {"pay_no": 'PAY,"1"', "order_no": "A,B", "ebc_code": "line\r\nbreak", "amount": Decimal("12.5")}
    payments = make_payments(FRIDAY, 300)
    payments[7] |= odd
    pm.write_settlements(tmp_path, FRIDAY, SEED, payments)
    for path in (tmp_path / "payments").rglob("*.csv"):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        written = io.StringIO(newline="")
        csv.writer(written).writerows(rows)
        assert path.read_bytes() == written.getvalue().encode(), path
    row = next(r for r in read_rows(tmp_path) if r["pay_no"] == odd["pay_no"])
    assert (row["order_no"], row["ebc_code"], row["gross_amount"]) == ("A,B", "line\r\nbreak", "12.50")
