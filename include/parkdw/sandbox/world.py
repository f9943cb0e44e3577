"""The simulated park: its enterprises, platforms, products and destinations (seeded).

Everything is a pure function of the seed, so any sub-range of days can be generated alone
and comes out the same as when generated inside a longer range.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from parkdw.codes import CREDIT_CODE_ALPHABET, credit_code_check_char

PARK_OPENED = date(2022, 9, 23)
PARK_TARGET_END = date(2027, 9, 22)
PERIOD_DAYS = (PARK_TARGET_END - PARK_OPENED).days + 1

EXPORT_ENTERPRISES = 70  # introduced cross-border e-commerce export enterprises
SERVICE_ENTERPRISES = 30  # introduced service enterprises (logistics, payment, agency...)
STARTUPS = 400  # incubated startups


@dataclass(frozen=True)
class Enterprise:
    credit_code: str
    customs_code: str
    name: str
    enterprise_type: str  # export | service | startup
    entry_date: date  # introduced (export/service) or incubated (startup)
    weight: float  # relative share of export activity (heavy-tailed)


@dataclass(frozen=True)
class Destination:
    country: str  # 3-digit customs country code
    pod: str  # port of destination code
    route: str  # rail_sea | china_europe_rail | air
    traf_mode: str  # customs transport mode code
    weight: float


# Destinations and the corridor that reaches them from Chongqing.
DESTINATIONS = (
    Destination("132", "SGSIN", "rail_sea", "2", 18),
    Destination("122", "MYPKG", "rail_sea", "2", 9),
    Destination("136", "THLCH", "rail_sea", "2", 8),
    Destination("141", "VNHPH", "rail_sea", "2", 7),
    Destination("112", "IDJKT", "rail_sea", "2", 6),
    Destination("129", "PHMNL", "rail_sea", "2", 4),
    Destination("304", "DEDUI", "china_europe_rail", "3", 12),
    Destination("327", "PLMAL", "china_europe_rail", "3", 5),
    Destination("309", "NLRTM", "china_europe_rail", "3", 4),
    Destination("305", "FRPAR", "air", "5", 3),
    Destination("303", "GBLHR", "air", "5", 4),
    Destination("502", "USLAX", "air", "5", 12),
    Destination("116", "JPNRT", "air", "5", 4),
    Destination("133", "KRICN", "air", "5", 3),
    Destination("601", "AUSYD", "air", "5", 3),
)

# A small product catalogue: 10-digit HS code, name, declared unit, typical unit price (CNY).
PRODUCTS = (
    ("8517629900", "蓝牙耳机", "007", Decimal("89.00")),
    ("8504401400", "手机充电器", "007", Decimal("35.00")),
    ("6204430090", "女式连衣裙", "011", Decimal("120.00")),
    ("6402999000", "运动鞋", "025", Decimal("160.00")),
    ("9503008900", "益智玩具", "006", Decimal("58.00")),
    ("8509400090", "家用榨汁机", "001", Decimal("210.00")),
    ("3304990099", "护肤套装", "006", Decimal("95.00")),
    ("9405409000", "LED台灯", "007", Decimal("76.00")),
    ("8471300000", "平板电脑", "001", Decimal("980.00")),
    ("4202221000", "手提包", "007", Decimal("145.00")),
)

PLATFORMS = (
    ("5001960AB1", "渝新跨境电商平台"),
    ("5001960AB2", "陆海通出口平台"),
    ("5001960AB3", "星渝全球购平台"),
)
LOGISTICS = ("5001980LG1", "渝新欧国际物流有限公司")

AGENT = ("5001990DA1", "重庆两江报关服务有限公司")
CUSTOMS_CODE = "8000"  # Chongqing customs district
PORT_BY_ROUTE = {"rail_sea": "8006", "china_europe_rail": "8006", "air": "8011"}


def _rng(seed: int, *parts: object) -> random.Random:
    """An independent random stream per (seed, purpose, day...), stable across Python runs."""
    key = "|".join(str(p) for p in (seed, *parts)).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


@lru_cache(maxsize=256)
def _prefix_hash(prefix: tuple) -> "hashlib._Hash":
    return hashlib.sha256(("|".join(str(p) for p in prefix) + "|").encode())


def keyed_digest(prefix: tuple, last: str) -> bytes:
    """sha256 of "|".join((*prefix, last)), the key _rng hashes, continued from a cached hash of
    the prefix: for a value per document (the prefix is formatted and hashed once a day)."""
    h = _prefix_hash(prefix).copy()
    h.update(last.encode())
    return h.digest()


def _credit_code(rng: random.Random) -> str:
    # 9 = registered with market regulation, 1 = enterprise; then the 6-digit Chongqing district
    # code (5001xx), a 9-character organisation code, and the GB 32100 check character.
    body = "915001" + f"{rng.randint(1, 56):02d}" + "".join(rng.choice(CREDIT_CODE_ALPHABET) for _ in range(9))
    return body + credit_code_check_char(body)


def _entry_date(rng: random.Random, index: int, count: int) -> date:
    """Spread entries over the period with a front-loaded curve (faster introduction early)."""
    position = ((index + rng.random()) / count) ** 1.15
    return PARK_OPENED + timedelta(days=min(PERIOD_DAYS - 1, int(position * PERIOD_DAYS)))


@lru_cache(maxsize=8)
def enterprises(seed: int) -> tuple[Enterprise, ...]:
    rng = _rng(seed, "registry")
    result = []
    plan = (("export", EXPORT_ENTERPRISES), ("service", SERVICE_ENTERPRISES), ("startup", STARTUPS))
    serial = 0
    for enterprise_type, count in plan:
        for i in range(count):
            serial += 1
            # Pareto-distributed sizes: a few enterprises carry most of the value.
            weight = rng.paretovariate(1.2) if enterprise_type != "service" else 0.0
            if enterprise_type == "startup":
                weight *= 0.15
            result.append(
                Enterprise(
                    credit_code=_credit_code(rng),
                    customs_code=f"50019{serial:05d}",
                    name=f"重庆{enterprise_type}企业{serial:03d}有限公司",
                    enterprise_type=enterprise_type,
                    entry_date=_entry_date(rng, i, count),
                    weight=weight,
                )
            )
    return tuple(result)


def status_on(enterprise: Enterprise, day: date) -> tuple[str, date]:
    """The registry status of an enterprise on a day, and since when: active, graduated or exited.

    Startups graduate from incubation after two to three years; a few enterprises of every
    type exit. Derived from the enterprise alone, so every snapshot agrees with every other.
    """
    rng = _rng(0, "status", enterprise.credit_code)
    events = []
    if enterprise.enterprise_type == "startup" and rng.random() < 0.6:
        events.append(("graduated", enterprise.entry_date + timedelta(days=rng.randint(730, 1095))))
    elif rng.random() < 0.08:
        events.append(("exited", enterprise.entry_date + timedelta(days=rng.randint(180, 1200))))
    status, since = "active", enterprise.entry_date
    for name, when in events:
        if when <= day:
            status, since = name, when
    return status, since
