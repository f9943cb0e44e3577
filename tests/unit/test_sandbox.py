"""The minimal sandbox generator: deterministic, valid against the XSD, consistent truth."""

import hashlib
import json
from datetime import date
from decimal import Decimal

from lxml import etree

from parkdw.ceb import spec
from parkdw.codes import is_valid_credit_code
from parkdw.sandbox import world
from parkdw.sandbox.generate import SimulationConfig, rate_for, simulate


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
    day_files = {k: v for k, v in a.items() if "2024-06-18" in k}
    assert day_files and all(c[k] == v for k, v in day_files.items())
    other_seed = SimulationConfig(date(2024, 6, 18), date(2024, 6, 18), seed=4, scale=0.002)
    simulate(other_seed, tmp_path / "d")
    assert tree_digest(tmp_path / "d") != c


def test_every_customs_file_validates_against_the_official_xsd(tmp_path):
    simulate(SimulationConfig(date(2024, 11, 11), date(2024, 11, 11), seed=5, scale=0.003), tmp_path)
    files = sorted((tmp_path / "customs").rglob("*.xml"))
    assert {f.name[:6] for f in files} == {"CEB303", "CEB603", "CEB604"}
    xsd = spec.schema()
    invalid = [f.name for f in files if not xsd.validate(etree.parse(str(f)))]
    assert invalid == []


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
    simulate(SimulationConfig(date(2024, 11, 10), date(2024, 11, 10), seed=5, scale=0.003), tmp_path)
    truth = json.loads((tmp_path / "_truth" / "2024-11-10.json").read_text())
    # Recompute from the files: released (800) inventories' lines, USD at the Friday parity (Sunday).
    ns = {"c": spec.CEB_NS}
    released = set()
    for f in (tmp_path / "customs" / "2024-11-10").glob("CEB604_*.xml"):
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
