"""The minimal sandbox generator: deterministic, valid against the XSD, consistent truth."""

import hashlib
import json
from datetime import date
from decimal import Decimal

from lxml import etree

from parkdw.ceb import spec
from parkdw.codes import is_valid_credit_code
from parkdw.sandbox import world
from parkdw.ceb.reader import read_ceb_file
from parkdw.ingest.records import Rejected, SourceRejected
from parkdw.sandbox.generate import DefectRates, SimulationConfig, load_defects, rate_for, simulate
from parkdw.sandbox.holidays import is_business_day


def tree_digest(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_and_subranges_match(tmp_path):
    cfg = SimulationConfig(date(2024, 6, 17), date(2024, 6, 18), seed=3, scale=0.002)
    simulate(cfg, tmp_path / "a")
    simulate(cfg, tmp_path / "b")
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    simulate(SimulationConfig(date(2024, 6, 18), date(2024, 6, 18), seed=3, scale=0.002), tmp_path / "c")
    a, c = tree_digest(tmp_path / "a"), tree_digest(tmp_path / "c")
    # Files originating on 06-18 (customs and settlement files name their origin day: they may be
    # delivered or settled later).
    def from_0618(k: str) -> bool:
        if k.startswith("customs/"):
            return "_20240618_" in k
        if k.startswith("payments/"):
            return k.endswith("_20240618.csv")
        return "2024-06-18" in k

    day_files = {k: v for k, v in a.items() if from_0618(k)}
    assert day_files and all(c[k] == v for k, v in day_files.items())
    other_seed = SimulationConfig(date(2024, 6, 18), date(2024, 6, 18), seed=4, scale=0.002)
    simulate(other_seed, tmp_path / "d")
    assert tree_digest(tmp_path / "d") != c


def test_days_generated_in_parallel_processes_give_the_same_bytes(tmp_path):
    cfg = SimulationConfig(date(2024, 11, 10), date(2024, 11, 12), seed=9, scale=0.002)
    simulate(cfg, tmp_path / "one")
    simulate(cfg, tmp_path / "two", workers=2)
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "two")


def test_without_defects_every_customs_file_validates_against_the_official_xsd(tmp_path):
    simulate(SimulationConfig(date(2024, 11, 11), date(2024, 11, 11), seed=5, scale=0.003,
                              defects=DefectRates.none()), tmp_path)
    files = sorted((tmp_path / "customs").rglob("*.xml"))
    kinds = {f.name[:6] for f in files}
    assert kinds == {"CEB303", "CEB403", "CEB505", "CEB603", "CEB604", "CEB607", "CEB701", "CEB792"}
    xsd = spec.schema()
    invalid = [f.name for f in files if not xsd.validate(etree.parse(str(f)))]
    assert invalid == []
    assert load_defects(tmp_path) == []


def test_injected_defects_are_exactly_what_the_manifest_lists(tmp_path):
    rates = DefectRates(malformed_file=0.2, bad_hs_code=0.05, nonpositive_amount=0.05, gbk_file=0.2, bom_file=0.2)
    simulate(SimulationConfig(date(2024, 11, 11), date(2024, 11, 11), seed=5, scale=0.005, defects=rates), tmp_path)
    defects = load_defects(tmp_path)
    bad_files = {d["file"] for d in defects if d["defect"] == "malformed_file"}
    bad_docs = {d["guid"] for d in defects if d["defect"] in ("bad_hs_code", "nonpositive_amount")}
    assert bad_files and bad_docs and any(d["defect"] == "gbk_file" for d in defects)
    refused_files, rejected_docs = set(), set()
    for path in sorted((tmp_path / "customs").rglob("*.xml")):
        try:
            rejected_docs |= {r.record_key for r in read_ceb_file(path) if isinstance(r, Rejected)}
        except SourceRejected:
            refused_files.add(str(path.relative_to(tmp_path)))
    assert refused_files == bad_files  # truncated or wrong namespace, nothing else
    assert rejected_docs == bad_docs  # XSD or amount rule, nothing else
    for d in defects:
        if d["defect"] == "malformed_file":
            assert (tmp_path / d["resent_as"]).exists()  # the partner resends the intact file


def test_registry_codes_are_valid_and_targets_shape_the_world():
    firms = world.enterprises(42)
    assert all(is_valid_credit_code(f.credit_code) for f in firms)
    assert len({f.credit_code for f in firms}) == len({f.customs_code for f in firms}) == 500
    introduced = [f for f in firms if f.enterprise_type in ("export", "service")]
    assert len(introduced) == 100 and sum(f.enterprise_type == "startup" for f in firms) == 400
    assert min(f.entry_date for f in firms) >= world.PARK_OPENED
    assert max(f.entry_date for f in firms) <= world.PARK_TARGET_END
    midway = sum(f.entry_date <= date(2025, 3, 23) for f in introduced)
    assert 30 < midway < 80  # a real curve, neither all at once nor all at the end


def test_truth_value_is_the_released_lines_at_the_fx_of_the_export_date(tmp_path):
    simulate(SimulationConfig(date(2024, 11, 10), date(2024, 11, 10), seed=5, scale=0.003,
                              defects=DefectRates.none()), tmp_path)
    truth = json.loads((tmp_path / "_truth" / "2024-11-10.json").read_text())
    # Recompute from the files: released (800) inventories' lines, USD at the Friday parity (Sunday).
    ns = {"c": spec.CEB_NS}
    released = set()
    for f in (tmp_path / "customs").rglob("CEB604_*.xml"):
        released |= {r.findtext("c:guid", namespaces=ns) for r in etree.parse(str(f)).getroot()
                     if r.findtext("c:returnStatus", namespaces=ns) == "800"}
    total = Decimal(0)
    for f in (tmp_path / "customs" / "2024-11-10").glob("CEB603_*.xml"):
        for inv in etree.parse(str(f)).getroot().iterfind("c:Inventory", ns):
            if inv.findtext("c:InventoryHead/c:guid", namespaces=ns) not in released:
                continue
            for line in inv.iterfind("c:InventoryList", ns):
                iso = {"142": "CNY", "502": "USD"}[line.findtext("c:currency", namespaces=ns)]
                total += (Decimal(line.findtext("c:totalPrice", namespaces=ns)) * rate_for(date(2024, 11, 10), iso)).quantize(Decimal("0.01"))
    assert total == Decimal(truth["released_value_cny"]) and total > 0
    assert rate_for(date(2024, 11, 10), "USD") == rate_for(date(2024, 11, 8), "USD")


def test_country_snapshots_show_memberships_as_known_on_their_day(tmp_path):
    from parkdw.ingest.feeds import COUNTRIES
    from parkdw.sandbox.countries import snapshot, write_countries

    def by_iso(day):
        return {r[1]: dict(zip(COUNTRIES.columns, r)) for r in snapshot(day)}

    before, after = by_iso(date(2025, 1, 31)), by_iso(date(2025, 10, 26))
    assert (before["PA"]["bri_member"], before["PA"]["bri_valid_to"]) == ("Y", "")
    assert (after["PA"]["bri_member"], after["PA"]["bri_valid_to"]) == ("N", "2025-02-01")
    assert (before["CO"]["bri_member"], after["CO"]["bri_valid_from"]) == ("N", "2025-05-14")
    assert (before["ID"]["rcep_member"], before["ID"]["rcep_in_force_since"]) == ("Y", "2023-01-02")
    assert by_iso(date(2022, 12, 31))["ID"]["rcep_member"] == "N"  # in force for Indonesia from 2023-01-02
    assert after["SG"]["region"] == "Asia" and after["SG"]["rcep_in_force_since"] == "2022-01-01"
    # Timor-Leste became ASEAN's eleventh member on 2025-10-26, the day of `after`.
    assert (before["TL"]["asean_member"], after["TL"]["asean_member"], after["TL"]["asean_since"]) == (
        "N", "Y", "2025-10-26")
    assert write_countries(tmp_path, date(2025, 1, 31)) == len(snapshot(date(2025, 1, 31))) == 243
    written = (tmp_path / "reference" / "countries" / "2025-01-31" / "countries.csv").read_text(encoding="utf-8")
    assert written.splitlines()[0] == ",".join(COUNTRIES.columns)


def test_fx_follows_the_official_holiday_calendar_with_make_up_working_days(tmp_path):
    # Spring Festival 2024: off 02-10..02-17; Sunday 02-18 was a working day.
    simulate(SimulationConfig(date(2024, 2, 18), date(2024, 2, 19), seed=1, scale=0.0005,
                              defects=DefectRates.none()), tmp_path)
    published = sorted(p.name for p in (tmp_path / "reference" / "fx").iterdir())
    # The week's lookback falls in the holiday, so it reaches back to its last business day (Friday 02-09).
    assert published == ["2024-02-09", "2024-02-18", "2024-02-19"]
    assert rate_for(date(2024, 2, 17), "USD") == rate_for(date(2024, 2, 9), "USD")
    assert rate_for(date(2024, 2, 18), "USD") != rate_for(date(2024, 2, 9), "USD")
    assert not is_business_day(date(2025, 10, 8)) and is_business_day(date(2025, 10, 11))  # Saturday, make-up


def test_document_numbers_never_collide_by_chance():
    """Numbers are one-to-one in their index (they were hashes: at scale 1 two payments of
    2023-11-03 drew one pay_no). Exhaustive on a small modulus, sampled on the real ones."""
    from datetime import timedelta

    from parkdw.sandbox.generate import _SERIALS_PER_DAY, _invt_number, _number, _parcel_number

    assert sorted(_number(5, "pay", "2024-01-01", x, 4) for x in range(10_000)) == [f"{x:04d}" for x in range(10_000)]
    pay = [_number(5, "pay", "2023-11-03", i, 12) for i in range(200_000)]
    assert len(set(pay)) == len(pay) and all(len(n) == 12 for n in pay)
    assert pay[:3] == [_number(5, "pay", "2023-11-03", i, 12) for i in range(3)]  # reproducible
    assert pay[:100] != [_number(5, "pay", "2023-11-04", i, 12) for i in range(100)]  # another day, others
    # A logisticsNo carries no date: unique over days, and an old one is found again from its day and index.
    days = [date(2024, 1, 1) + timedelta(days=k) for k in range(0, 1800, 45)]
    parcels = [_parcel_number(5, day, i) for day in days for i in range(5_000)]
    assert len(set(parcels)) == len(parcels) and all(len(n) == 13 for n in parcels)
    assert _parcel_number(5, days[3], 1234) == parcels[3 * 5_000 + 1234]
    # invtNo names the year only: unique over the year's days, re-declarations (odd serials) included.
    invt = {_invt_number(5, date(2024, 1, 1) + timedelta(days=k), s) for k in range(0, 366, 5) for s in range(4_000)}
    assert len(invt) == 74 * 4_000
    assert _invt_number(5, date(2024, 12, 31), _SERIALS_PER_DAY - 1).isdigit()


def test_a_days_numbers_drawn_as_columns_are_the_same_numbers():
    """The order model makes a day's numbers as numpy columns (_numbers): the same numbers as the
    scalar _number, up to the largest indexes of each kind, where a product needs more than 64 bits."""
    import numpy as np

    from parkdw.sandbox.columns import mulmod, texts
    from parkdw.sandbox.generate import _PARCEL_EPOCH, _PARCELS_PER_DAY, _number, _numbers, _parcel_number

    rng = np.random.default_rng(1)
    for kind, scope, digits in (("order", "2024-03-04", 10), ("pay", "2024-03-04", 12), ("telephone", "2024-03-04", 7),
                                ("cop", "2024-03-04", 11), ("pre", "2024-03-04", 9), ("invt", "2024", 9)):
        top = 10 ** digits
        indexes = np.concatenate([np.arange(50), rng.integers(0, top, 2_000), np.arange(top - 50, top)])
        assert texts(_numbers(7, kind, scope, indexes, digits)) == [
            _number(7, kind, scope, int(i), digits) for i in indexes.tolist()]
    day = date(2027, 9, 22)  # the park's last day: the largest slot of logisticsNo
    slot = day.toordinal() - _PARCEL_EPOCH
    indexes = np.array([0, 1, 31_157, _PARCELS_PER_DAY - 1])
    assert texts(_numbers(7, "parcel", "all days", slot * _PARCELS_PER_DAY + indexes, 13)) == [
        _parcel_number(7, day, int(i)) for i in indexes.tolist()]
    big = 10 ** 13 - 1
    assert mulmod(big, np.array([big, 2 ** 44 - 1 - big, 12345]), 10 ** 13).tolist() == [
        big * big % 10 ** 13, big * (2 ** 44 - 1 - big) % 10 ** 13, big * 12345 % 10 ** 13]
