"""The carrier's tracking events for the parcels the park exports (seeded, like the rest of the sandbox).

Journeys from Chongqing by corridor:
  rail_sea           block train Chongqing -> Qinzhou port (ILSTC), then a feeder vessel to ASEAN
  china_europe_rail  train Chongqing (Tuanjiecun) -> Malaszewicze (gauge change) -> Duisburg
  air                flight CKG -> the destination airport (with a transit for long haul)
Every waybill gets UPU-style item events (EMA ... EMI); the parcels of one day, corridor and port
of destination travel as one consignment (one container, or one master air waybill), which gets
DCSA-style transport events (ARRI/DEPA) and, for containers, equipment events (GTIN/LOAD/DISC/GTOT).

A parcel's events depend only on the seed, its logistics number, its own fields and its export day's
consignment schedule (itself a function of seed, day, corridor and port), so any sub-range of days
comes out the same as inside a longer range.

Layout: _sandbox/tracking/YYYY-MM-DD.jsonl, the events of the parcels exported that day (they run for
the weeks the journeys take), one JSON object per line in (updated_at, event_id) order.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_string
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from string import ascii_uppercase
from zoneinfo import ZoneInfo

from parkdw.sandbox import world

TRACKING_DIR = Path("_sandbox") / "tracking"
ORIGIN = "CNCKG"  # Chongqing: Tuanjiecun rail hub, Guoyuan port and Jiangbei airport share the LOCODE
QINZHOU = "CNQZH"
MALASZEWICZE = "PLMAL"
DUISBURG = "DEDUI"
PARCEL_TRADE_MODES = ("9610", "1210")  # retail parcels; 9710/9810 are B2B cargo waybills

# UN/LOCODE -> IANA time zone, for event times in local time with their offset.
TIME_ZONES = {
    "CNCKG": "Asia/Shanghai", "CNQZH": "Asia/Shanghai",
    "SGSIN": "Asia/Singapore", "MYPKG": "Asia/Kuala_Lumpur", "THLCH": "Asia/Bangkok",
    "VNHPH": "Asia/Ho_Chi_Minh", "IDJKT": "Asia/Jakarta", "PHMNL": "Asia/Manila",
    "PLMAL": "Europe/Warsaw", "DEDUI": "Europe/Berlin", "NLRTM": "Europe/Amsterdam",
    "FRPAR": "Europe/Paris", "GBLHR": "Europe/London", "USLAX": "America/Los_Angeles",
    "JPNRT": "Asia/Tokyo", "KRICN": "Asia/Seoul", "AUSYD": "Australia/Sydney",
}
# Qinzhou -> port of destination, hours at sea.
SEA_HOURS = {"SGSIN": (96, 110), "MYPKG": (104, 118), "THLCH": (92, 106), "VNHPH": (28, 40),
             "IDJKT": (124, 140), "PHMNL": (70, 84)}
# CKG -> destination airport, hours including a transit for long haul.
AIR_HOURS = {"JPNRT": (4, 6), "KRICN": (3.5, 5), "AUSYD": (11, 16), "FRPAR": (12, 20),
             "GBLHR": (13, 22), "USLAX": (14, 24)}
FEEDER_VESSELS = ("BEIBU GULF EXPRESS", "QINZHOU PIONEER", "LION CITY BRIDGE", "LANCANG TRADER",
                  "NANNING STAR", "STRAITS HARMONY")
CONTAINER_OWNERS = ("YXO", "CQL", "LHT")  # fictional BIC owner codes of the corridor operators
ROUTE_CODES = {"rail_sea": "RS", "china_europe_rail": "CR", "air": "AF"}

# ISO 6346 letter values: A=10 upwards, skipping multiples of 11.
_LETTER_VALUES = dict(zip(ascii_uppercase, (v for v in range(10, 39) if v % 11)))


def iso6346_check_digit(code: str) -> int:
    """The check digit of an ISO 6346 container number's first ten characters (e.g. 'CSQU305438')."""
    if len(code) != 10 or not code[:4].isalpha() or not code[:4].isupper() or not code[4:].isdigit():
        raise ValueError(f"not an ISO 6346 owner code, category and serial: {code!r}")
    total = sum((_LETTER_VALUES[ch] if ch.isalpha() else int(ch)) << i for i, ch in enumerate(code))
    return total % 11 % 10


def is_valid_container_no(container_no: str) -> bool:
    if len(container_no) != 11 or not container_no[-1].isdigit():
        return False
    try:
        return iso6346_check_digit(container_no[:10]) == int(container_no[-1])
    except ValueError:
        return False


# --- the events ---------------------------------------------------------------------------------

def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=round(rng.uniform(low, high) * 3600))


def _next_day_at(day: date, rng: random.Random, first_hour: float, last_hour: float) -> datetime:
    """A departure on the day after export, between two local Chongqing hours (may pass midnight)."""
    midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(TIME_ZONES[ORIGIN]))
    return (midnight + _hours(rng, first_hour, last_hour)).astimezone(timezone.utc)


def _recording_lag(rng: random.Random) -> timedelta:
    """How long the carrier's system takes to record an event: mostly minutes, sometimes hours."""
    draw = rng.random()
    if draw < 0.85:
        return timedelta(seconds=rng.randint(60, 1800))
    if draw < 0.97:
        return _hours(rng, 1, 12)
    return _hours(rng, 12, 48)


def _event_id(seed: int, key: str) -> str:
    """A version-4 UUID string from the key's digest (as uuid.UUID(bytes=..., version=4) spells it)."""
    b = bytearray(hashlib.sha256(f"{seed}|tracking-event|{key}".encode()).digest()[:16])
    b[6] = b[6] & 0x0F | 0x40
    b[8] = b[8] & 0x3F | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_ZONES = {code: ZoneInfo(name) for code, name in TIME_ZONES.items()}
_MINUTE = timedelta(minutes=1)


def _json(value: str | None) -> str:
    return "null" if value is None else _json_string(value)


class _Events:
    """Collects the events of one parcel or consignment, each stamped in its location's local time.

    An event is kept as (updated_at, event_id, JSON line): the line is what the feed file holds,
    spelt as json.dumps(event, sort_keys=True, separators=(",", ":")) would, but formatted once.
    """

    def __init__(self, seed: int, rng: random.Random, consignment_no: str, logistics_no: str | None,
                 container_no: str | None):
        self.seed, self.rng = seed, rng
        self.logistics_no = logistics_no
        self.owner = logistics_no or consignment_no
        self.ids = (f'{{"consignment_no":{_json(consignment_no)},"container_no":{_json(container_no)},'
                    '"description":')
        self.logistics_json = _json(logistics_no)
        self.items: list[tuple[str, str, str]] = []

    def add(self, kind: str, code: str, at: datetime, location: str, mode: str, description: str,
            vehicle: tuple[str, str] | None = None) -> datetime:
        at = at.astimezone(timezone.utc)
        event_id = _event_id(self.seed, f"{self.owner}|{len(self.items)}|{code}")
        # Times are whole seconds throughout, so isoformat() has no fraction and its first 19
        # characters are the UTC time.
        updated_at = (at + _recording_lag(self.rng)).isoformat()[:19] + "Z"
        local = at.astimezone(_ZONES[location]).isoformat()
        vehicle_name, voyage_no = vehicle if vehicle else (None, None)
        line = (f'{self.ids}{_json_string(description)},"event_code":{_json_string(code)},'
                f'"event_id":"{event_id}","event_kind":{_json_string(kind)},"event_time":"{local}",'
                f'"location":{_json_string(location)},"logistics_no":{self.logistics_json},'
                f'"transport_mode":{_json_string(mode)},"updated_at":"{updated_at}",'
                f'"vehicle_name":{_json(vehicle_name)},"voyage_no":{_json(voyage_no)}}}')
        self.items.append((updated_at, event_id, line))
        return at


@dataclass(frozen=True)
class _Consignment:
    consignment_no: str
    container_no: str | None
    main_mode: str  # how the parcels leave Chongqing: rail or air
    arrival_mode: str  # how they reach the port of destination: sea, rail, road or air
    depart: datetime  # leaves Chongqing
    available: datetime  # out of the terminal or aircraft at the destination, ready for customs
    events: tuple[tuple[str, str, str], ...]  # (updated_at, event_id, JSON line)


def _container_no(rng: random.Random) -> str:
    body = rng.choice(CONTAINER_OWNERS) + "U" + f"{rng.randint(0, 999_999):06d}"
    return body + str(iso6346_check_digit(body))


def _consignment(seed: int, day: date, route: str, pod: str) -> _Consignment:
    """The day's consignment for one corridor and port: its schedule and its own events."""
    rng = world._rng(seed, "tracking", "consignment", day.isoformat(), route, pod)
    # One train or flight plan per day and corridor, shared by that day's consignments.
    plan = world._rng(seed, "tracking", "departure", day.isoformat(), route)
    consignment_no = f"YX{ROUTE_CODES[route]}{day:%y%m%d}{pod}"
    if route == "air":
        if pod not in AIR_HOURS:
            raise ValueError(f"consignment {consignment_no}: no air service to {pod!r}")
        flight_no = f"CF{plan.randint(200, 299)}"
        flight = (f"{flight_no} Chongqing-{pod[2:]}", flight_no)
        ev = _Events(seed, rng, consignment_no, None, None)
        depart = ev.add("transport", "DEPA", _next_day_at(day, plan, 22, 28), ORIGIN, "air",
                        "Flight departed Chongqing Jiangbei", flight)
        arrive = ev.add("transport", "ARRI", depart + _hours(rng, *AIR_HOURS[pod]), pod, "air",
                        "Flight arrived at destination airport", flight)
        return _Consignment(consignment_no, None, "air", "air", depart, arrive + _hours(rng, 1, 2), tuple(ev.items))

    container = _container_no(rng)
    ev = _Events(seed, rng, consignment_no, None, container)
    if route == "rail_sea":
        if pod not in SEA_HOURS:
            raise ValueError(f"consignment {consignment_no}: no sea service to {pod!r}")
        train = ("ILSTC block train Chongqing-Qinzhou", f"X{plan.randint(8501, 8599)}")
        depart = _next_day_at(day, plan, 14, 20)
        ev.add("equipment", "GTIN", depart - _hours(rng, 6, 10), ORIGIN, "road", "Gate in at Tuanjiecun rail terminal")
        ev.add("equipment", "LOAD", depart - _hours(rng, 1, 3), ORIGIN, "rail", "Loaded on train", train)
        ev.add("transport", "DEPA", depart, ORIGIN, "rail", "Train departed Chongqing", train)
        at_port = ev.add("transport", "ARRI", depart + _hours(plan, 40, 50), QINZHOU, "rail",
                         "Train arrived at Qinzhou port", train)
        ev.add("equipment", "DISC", at_port + _hours(rng, 1, 3), QINZHOU, "rail", "Discharged from train", train)
        iso_year, iso_week, _ = (day + timedelta(days=2)).isocalendar()
        vessel = (rng.choice(FEEDER_VESSELS), f"{iso_year % 100:02d}{iso_week:02d}S")
        sails = at_port + _hours(rng, 18, 30)
        ev.add("equipment", "LOAD", sails - _hours(rng, 2, 4), QINZHOU, "sea", "Loaded on vessel", vessel)
        ev.add("transport", "DEPA", sails, QINZHOU, "sea", "Vessel departed Qinzhou", vessel)
        berths = ev.add("transport", "ARRI", sails + _hours(rng, *SEA_HOURS[pod]), pod, "sea",
                        "Vessel arrived at port of destination", vessel)
        disc = ev.add("equipment", "DISC", berths + _hours(rng, 2, 6), pod, "sea", "Discharged from vessel", vessel)
        out = ev.add("equipment", "GTOT", disc + _hours(rng, 1, 3), pod, "road", "Gate out from terminal")
        return _Consignment(consignment_no, container, "rail", "sea", depart, out, tuple(ev.items))

    if route != "china_europe_rail":
        raise ValueError(f"consignment {consignment_no}: unknown route {route!r}")
    if pod not in (MALASZEWICZE, DUISBURG, "NLRTM"):
        raise ValueError(f"consignment {consignment_no}: no rail service to {pod!r}")
    train = ("China-Europe Railway Express Chongqing-Duisburg", f"X{plan.randint(8001, 8099)}")
    depart = _next_day_at(day, plan, 18, 20)
    ev.add("equipment", "GTIN", depart - _hours(rng, 6, 10), ORIGIN, "road", "Gate in at Tuanjiecun rail terminal")
    ev.add("equipment", "LOAD", depart - _hours(rng, 1, 3), ORIGIN, "rail", "Loaded on train", train)
    ev.add("transport", "DEPA", depart, ORIGIN, "rail", "Train departed Chongqing Tuanjiecun", train)
    border = ev.add("transport", "ARRI", depart + _hours(plan, 270, 276), MALASZEWICZE, "rail",
                    "Train arrived at Malaszewicze (EU border, gauge change)", train)
    disc = ev.add("equipment", "DISC", border + _hours(rng, 2, 4), MALASZEWICZE, "rail",
                  "Discharged for gauge change", train)
    if pod == MALASZEWICZE:
        out = ev.add("equipment", "GTOT", disc + _hours(rng, 1, 3), pod, "road", "Gate out from terminal")
        return _Consignment(consignment_no, container, "rail", "rail", depart, out, tuple(ev.items))
    onward = plan.uniform(12, 15)
    leaves = border + timedelta(seconds=round(onward * 3600))
    ev.add("equipment", "LOAD", leaves - _hours(rng, 1, 3), MALASZEWICZE, "rail", "Loaded on standard-gauge train", train)
    ev.add("transport", "DEPA", leaves, MALASZEWICZE, "rail", "Train departed Malaszewicze", train)
    arrives = ev.add("transport", "ARRI", leaves + _hours(plan, 22, 25), DUISBURG, "rail",
                     "Train arrived at Duisburg", train)
    disc = ev.add("equipment", "DISC", arrives + _hours(rng, 2, 4), DUISBURG, "rail", "Discharged from train", train)
    out = ev.add("equipment", "GTOT", disc + _hours(rng, 1, 3), DUISBURG, "road", "Gate out from terminal")
    if pod == DUISBURG:
        return _Consignment(consignment_no, container, "rail", "rail", depart, out, tuple(ev.items))
    truck = ev.add("transport", "ARRI", out + _hours(rng, 4, 6), pod, "road", "Truck arrived at Rotterdam hub")
    return _Consignment(consignment_no, container, "rail", "road", depart, truck, tuple(ev.items))


def _parcel_events(seed: int, parcel: dict, consignment: _Consignment) -> list[tuple[str, str, str]]:
    """One waybill's item events, in time order (each at least a minute after the previous)."""
    no = parcel["logistics_no"]
    released = parcel["released_at"]
    if released.tzinfo is None:
        raise ValueError(f"parcel {no}: released_at must be timezone-aware, got {released!r}")
    pod = parcel["pod"]
    rng = world._rng(seed, "tracking", no)
    ev = _Events(seed, rng, consignment.consignment_no, no, consignment.container_no)
    is_parcel = parcel["trade_mode"] in PARCEL_TRADE_MODES
    last = released

    def step(code: str, at: datetime, location: str, mode: str, description: str) -> datetime:
        nonlocal last
        last = ev.add("parcel", code, max(at, last + _MINUTE), location, mode, description)
        return last

    step("EMA", released + _hours(rng, 0.5, 3), ORIGIN, "road",
         "Posted: collected from the supervised warehouse" if is_parcel
         else "Cargo received at the Chongqing consolidation warehouse")
    if is_parcel:
        step("EMB", last + _hours(rng, 1, 3), ORIGIN, "road", "Arrived at outward office of exchange")
    step("EMC", consignment.depart, ORIGIN, consignment.main_mode, "Departed from outward office of exchange")
    arrived = step("EMD", consignment.available + _hours(rng, 1, 3), pod, consignment.arrival_mode,
                   "Arrived at inward office of exchange")
    if is_parcel:
        step("EDB", arrived + _hours(rng, 0.5, 1.5), pod, "road", "Presented to import customs")
    cleared = step("EDC", arrived + _hours(rng, 4, 7), pod, "road", "Released from import customs")
    if not is_parcel:
        step("EMI", cleared + _hours(rng, 8, 14), pod, "road",
             "Received into the overseas warehouse" if parcel["trade_mode"] == "9810" else "Delivered to consignee")
        return ev.items
    step("EMG", cleared + _hours(rng, 2, 4), pod, "road", "Arrived at delivery office")
    if rng.random() < 0.08:
        step("EMH", cleared + _hours(rng, 5, 7), pod, "road", "Delivery attempt failed: addressee absent")
        step("EDH", last + _hours(rng, 1, 2), pod, "road", "Arrived at collection point for pick-up")
        step("EMI", last + _hours(rng, 2, 5), pod, "road", "Collected by addressee")
    else:
        step("EMI", cleared + _hours(rng, 8, 14), pod, "road", "Delivered")
    return ev.items


def _sort_key(event: dict) -> tuple[str, str]:
    return event["updated_at"], event["event_id"]


def day_events(day: date, seed: int, parcels: list[dict]) -> list[tuple[str, str, str]]:
    """The events of the parcels exported on a day, with their consignments', in (updated_at, event_id) order.

    Each event as (updated_at, event_id, its JSON line).
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for p in parcels:
        if p["route"] not in ROUTE_CODES:
            raise ValueError(f"parcel {p['logistics_no']}: unknown route {p['route']!r}")
        if p["pod"] not in TIME_ZONES:
            raise ValueError(f"parcel {p['logistics_no']}: unknown port of destination {p['pod']!r}")
        groups.setdefault((p["route"], p["pod"]), []).append(p)
    events: list[tuple[str, str, str]] = []
    for (route, pod), members in sorted(groups.items()):
        consignment = _consignment(seed, day, route, pod)
        events.extend(consignment.events)
        for p in members:
            events.extend(_parcel_events(seed, p, consignment))
    events.sort()
    return events


def write_day_events(out: Path, day: date, seed: int, parcels: list[dict]) -> int:
    """Write _sandbox/tracking/<day>.jsonl under `out` for the parcels exported on `day`; return the count."""
    events = day_events(day, seed, parcels)
    folder = out / TRACKING_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{day.isoformat()}.jsonl", "w", encoding="utf-8") as f:
        f.writelines(f"{line}\n" for _, _, line in events)
    return len(events)


def load_events(data_dir: Path) -> list[dict]:
    """Every event under data_dir/_sandbox/tracking, in (updated_at, event_id) order (what the API serves)."""
    events = []
    for path in sorted((data_dir / TRACKING_DIR).glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}: line {n}: not JSON ({exc.msg})") from None
    return sorted(events, key=_sort_key)
