"""The country reference feed: customs country codes with ISO codes, region, ASEAN, RCEP and Belt and Road.

Layout: reference/countries/YYYY-MM-DD/countries.csv, one snapshot a day (like the registry),
stamped with its day (as_of) and holding what was known on that day: a membership that starts later is not there yet, an exit
appears from its date on. Every country of the customs table is listed, members or not.

Sources: the project's dbt seeds customs_country and belt_and_road (copies of the shared code
tables) and trade_bloc_membership (ASEAN accession and RCEP entry-into-force dates).
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

# Signing dates the Belt and Road table lacks: Colombia signed in Beijing on 2025-05-14 (the table
# has it as "reported 2025", low confidence, no date).
BRI_SIGNED = {"CO": date(2025, 5, 14)}
# The customs code's first digit is its continent in the customs country table (labels as in dim_country).
REGION_BY_DIGIT = {"1": "Asia", "2": "Africa", "3": "Europe", "4": "Latin America",
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
def _blocs() -> dict[tuple[str, str], tuple[date, date | None]]:
    """(bloc, ISO alpha-2) -> (valid_from, valid_to or None)."""
    blocs = {}
    for n, r in enumerate(_seed("trade_bloc_membership"), start=1):
        try:
            blocs[r["bloc"], r["iso_alpha2"]] = (date.fromisoformat(r["valid_from"]),
                                                 date.fromisoformat(r["valid_to"]) if r["valid_to"] else None)
        except ValueError as exc:
            raise ValueError(f"seeds/trade_bloc_membership.csv: record {n} ({r['bloc']} {r['iso_alpha2']}): "
                             f"field valid_from/valid_to: {exc}") from None
    return blocs


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


def _bloc_on(bloc: str, iso2: str, day: date) -> tuple[str, str]:
    """(member Y/N, since) for a trade bloc on a day; nothing is known of a membership before it starts."""
    start, end = _blocs().get((bloc, iso2), (None, None))
    if start is None or start > day:
        return "N", ""
    return ("Y" if end is None or day < end else "N"), start.isoformat()


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
                     REGION_BY_DIGIT.get(c["customs_code"][0], "Other"), *_bloc_on("ASEAN", iso2, day),
                     *_bloc_on("RCEP", iso2, day), member, valid_from, valid_to, confidence, day.isoformat()))
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
