"""The country reference feed: customs country codes with ISO codes, region, ASEAN, RCEP and Belt and Road.

Layout: reference/countries/YYYY-MM-DD/countries.csv, one snapshot a day (like the registry),
holding what was known on that day: a membership that starts later is not there yet, an exit
appears from its date on. Every country of the customs table is listed, members or not.

Sources: the project's copies (dbt seeds) of the shared code tables customs_country.csv and
belt_and_road.csv; ASEAN accession and RCEP entry-into-force dates are small tables below.
Belt and Road dates: valid_from is the signing date the table gives (a full date where its detail
says "signed YYYY-MM-DD" or "Month D, YYYY", else 1 January of its signing year); members with no
date signed before the park opened, so they get none. An exit known only to the month (Italy
2023-12, Panama 2025-02) is taken as the first day of that month; valid_to is exclusive.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from parkdw.ingest.feeds import COUNTRIES
from parkdw.settings import get_settings

FOLDER = Path("reference") / "countries"

# ASEAN accession dates, by ISO alpha-2 (founding members: the Bangkok Declaration).
ASEAN_JOINED = {
    "ID": date(1967, 8, 8), "MY": date(1967, 8, 8), "PH": date(1967, 8, 8), "SG": date(1967, 8, 8),
    "TH": date(1967, 8, 8), "BN": date(1984, 1, 7), "VN": date(1995, 7, 28), "LA": date(1997, 7, 23),
    "MM": date(1997, 7, 23), "KH": date(1999, 4, 30), "TL": date(2025, 10, 26),
}
# RCEP entry into force for each party (signed 2020-11-15 by ASEAN and five partners).
RCEP_IN_FORCE = {
    "BN": date(2022, 1, 1), "KH": date(2022, 1, 1), "LA": date(2022, 1, 1), "SG": date(2022, 1, 1),
    "TH": date(2022, 1, 1), "VN": date(2022, 1, 1), "CN": date(2022, 1, 1), "JP": date(2022, 1, 1),
    "AU": date(2022, 1, 1), "NZ": date(2022, 1, 1), "KR": date(2022, 2, 1), "MY": date(2022, 3, 18),
    "MM": date(2022, 5, 1), "ID": date(2023, 1, 2), "PH": date(2023, 6, 2),
}
# Signing dates the Belt and Road table lacks: Colombia signed in Beijing on 2025-05-14 (the table
# has it as "reported 2025", low confidence, no date).
BRI_SIGNED = {"CO": date(2025, 5, 14)}
# The customs code's first digit is its continent in the customs country table.
REGION_BY_DIGIT = {"1": "Asia", "2": "Africa", "3": "Europe", "4": "Latin America & Caribbean",
                   "5": "North America", "6": "Oceania"}


def _seed(name: str) -> list[dict[str, str]]:
    path = get_settings().dbt_project_dir / "seeds" / f"{name}.csv"
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _bri_valid_from(row: dict[str, str], path: str) -> date | None:
    if row["iso_alpha2"] in BRI_SIGNED:
        return BRI_SIGNED[row["iso_alpha2"]]
    detail = row["signing_detail"]
    if m := re.search(r"signed (\d{4}-\d{2}-\d{2})", detail):
        return date.fromisoformat(m.group(1))
    if m := re.search(r"[A-Z][a-z]+ \d{1,2}, \d{4}", detail):
        return datetime.strptime(m.group(0), "%B %d, %Y").date()
    year = row["signing_year"]
    if year and not year.isdigit():
        raise ValueError(f"{path}: customs_code {row['customs_code']}: field signing_year {year!r} is not a year")
    return date(int(year), 1, 1) if year else None


def _bri_valid_to(row: dict[str, str], path: str) -> date | None:
    value = row["exit_date"]
    if not value:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value):
        raise ValueError(f"{path}: customs_code {row['customs_code']}: field exit_date {value!r} "
                         "is not YYYY-MM or YYYY-MM-DD")
    return date.fromisoformat(value if len(value) == 10 else f"{value}-01")


@lru_cache(maxsize=1)
def _countries() -> tuple[tuple[dict[str, str], tuple[date | None, date | None, str] | None], ...]:
    """Each customs country with its Belt and Road (valid_from, valid_to, confidence), or None."""
    bri_path = "seeds/belt_and_road.csv"
    bri = {r["customs_code"]: (_bri_valid_from(r, bri_path), _bri_valid_to(r, bri_path), r["confidence"])
           for r in _seed("belt_and_road")}
    countries = _seed("customs_country")
    unknown = sorted(set(bri) - {c["customs_code"] for c in countries})
    if unknown:
        raise ValueError(f"{bri_path}: customs_code {unknown[0]} is not in seeds/customs_country.csv")
    return tuple((c, bri.get(c["customs_code"])) for c in countries)


def _since(start: date | None, day: date) -> tuple[str, str]:
    return ("Y", start.isoformat()) if start and start <= day else ("N", "")


def snapshot(day: date) -> list[tuple[str, ...]]:
    """The rows of the country list as known on `day`, in customs-code order (COUNTRIES.columns)."""
    rows = []
    for c, bri in _countries():
        iso2 = c["iso_alpha2"]
        member, valid_from, valid_to, confidence = "N", "", "", ""
        if bri:
            signed, left, confidence = bri
            if signed is None or signed <= day:
                member, valid_from = "Y", signed.isoformat() if signed else ""
                if left and left <= day:
                    member, valid_to = "N", left.isoformat()
            else:
                confidence = ""  # not signed yet: nothing to be confident about
        rows.append((c["customs_code"], iso2, c["iso_alpha3"], c["iso_numeric"], c["name_en"], c["name_zh"],
                     REGION_BY_DIGIT.get(c["customs_code"][0], "Other"), *_since(ASEAN_JOINED.get(iso2), day),
                     *_since(RCEP_IN_FORCE.get(iso2), day), member, valid_from, valid_to, confidence))
    return sorted(rows)


def write_countries(out: Path, day: date) -> int:
    """Write the day's country snapshot under `out`; return its row count."""
    folder = out / FOLDER / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    rows = snapshot(day)
    with open(folder / "countries.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COUNTRIES.columns)
        w.writerows(rows)
    return len(rows)
