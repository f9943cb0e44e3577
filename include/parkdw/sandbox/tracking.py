"""The carrier's tracking events for the parcels the park exports (seeded, like the rest of the sandbox).

Journeys from Chongqing by corridor:
  rail_sea           block train Chongqing -> Qinzhou port (ILSTC), then a feeder vessel to ASEAN
  china_europe_rail  train Chongqing (Tuanjiecun) -> Malaszewicze (gauge change) -> Duisburg
  air                flight CKG -> the destination airport (with a transit for long haul)
Every waybill gets UPU-style item events (EMA ... EMI); the parcels of one day, corridor and port
of destination travel as one consignment (one container, or one master air waybill), which gets
DCSA-style transport events (ARRI/DEPA) and, for containers, equipment events (GTIN/LOAD/DISC/GTOT).

A parcel's events depend only on the seed, its own fields and its export day's consignment schedule
(itself a function of seed, day, corridor and port), so any sub-range of days comes out the same as
inside a longer range. Its random draws and event ids come from a stream keyed by its logistics
number, release instant, route, port and trade mode: a logistics number used again (months later, or
twice in a day) gets event ids of its own.

Layout: _sandbox/tracking/YYYY-MM-DD.jsonl, the events of the parcels exported that day (they run for
the weeks the journeys take), one JSON object per line in (updated_at, event_id) order.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_string
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from string import ascii_uppercase
from zoneinfo import ZoneInfo

from parkdw.sandbox import world

TRACKING_DIR = Path("_sandbox") / "tracking"
_WRITE_BATCH = 1_000  # lines a write: the joined batch (about 400 kB) stays in the CPU cache
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


# --- times, ids and JSON pieces, formatted fast ---------------------------------------------------
# About 250,000 events a day at scale 1: times are whole seconds since the epoch (ints) throughout,
# and an event's text is put together from cached pieces instead of datetime objects and json.dumps.

_HOUR = 3600
_MINUTE = 60
_MMSS = tuple(f"{m:02d}:{s:02d}" for m in range(60) for s in range(60))  # by second of the hour
_CACHE_LIMIT = 100_000  # entries per cache; a cache that reaches it starts again (only for very long runs)
_ZONES = {code: ZoneInfo(name) for code, name in TIME_ZONES.items()}
_utc_hours: dict[int, str] = {}
_local_hours: dict[str, dict[int, tuple[str, str] | tuple[None, None]]] = {code: {} for code in TIME_ZONES}


def _utc_hour(hour: int) -> str:
    """'YYYY-MM-DDTHH:' of an hour counted from the epoch (cached)."""
    if len(_utc_hours) >= _CACHE_LIMIT:
        _utc_hours.clear()
    text = _utc_hours[hour] = datetime.fromtimestamp(hour * _HOUR, timezone.utc).isoformat()[:14]
    return text


def _utc_text(t: int) -> str:
    """'YYYY-MM-DDTHH:MM:SSZ', as datetime.isoformat()[:19] + 'Z' spells a UTC time of whole seconds."""
    hour = t // _HOUR
    return f"{_utc_hours.get(hour) or _utc_hour(hour)}{_MMSS[t % _HOUR]}Z"


def _local_hour(location: str, hour: int) -> tuple[str, str] | tuple[None, None]:
    """For a UTC hour, the local 'YYYY-MM-DDTHH:' in the location's zone and the offset as isoformat()
    spells it ('+08:00'), so that a time in the hour is prefix + MM:SS + offset (cached).

    (None, None) if the offset changes within the hour or is not whole hours: then each time in the
    hour is converted with zoneinfo on its own."""
    zone = _ZONES[location]
    start = datetime.fromtimestamp(hour * _HOUR, zone)
    offset = start.utcoffset()
    known: tuple[str, str] | tuple[None, None] = (None, None)
    if offset == datetime.fromtimestamp(hour * _HOUR + _HOUR - 1, zone).utcoffset() and not offset % timedelta(hours=1):
        text = start.isoformat()
        known = text[:14], text[19:]
    by_hour = _local_hours[location]
    if len(by_hour) >= _CACHE_LIMIT:
        by_hour.clear()
    by_hour[hour] = known
    return known


def _local_text(t: int, location: str) -> str:
    """The time in the location's zone with its offset, as datetime.astimezone(zone).isoformat() spells it."""
    hour = t // _HOUR
    prefix, suffix = _local_hours[location].get(hour) or _local_hour(location, hour)
    if prefix is None:
        return datetime.fromtimestamp(t, _ZONES[location]).isoformat()
    return f"{prefix}{_MMSS[t % _HOUR]}{suffix}"


def _epoch(at: datetime) -> int:
    """Whole seconds since the epoch of a timezone-aware time (a fraction of a second is dropped)."""
    return int(at.replace(microsecond=0).timestamp()) if at.microsecond else int(at.timestamp())


# Version-4 UUIDs: in each 128 bits the version nibble (bits 76-79) is 4 and the variant bits (62-63) 10.
_UUID_CLEAR = ((1 << 128) - 1) ^ ((0xF << 76) | (0xC << 60))
_UUID_SET = (0x4 << 76) | (0x8 << 60)


@lru_cache(maxsize=None)
def _uuid_masks(n: int) -> tuple[int, int]:
    return sum(_UUID_CLEAR << 128 * i for i in range(n)), sum(_UUID_SET << 128 * i for i in range(n))


def _uuid_hex(bits: int, n: int) -> str:
    """n version-4 UUIDs from n*128 random bits, spelt by bytes.hex("-", 2): four hex digits a group,
    g0-g1-g2-g3-g4-g5-g6-g7- (40 characters an id). A UUID is g0g1-g2-g3-g4-g5g6g7: see _uuid_at."""
    clear, set_ = _uuid_masks(n)
    return (bits & clear | set_).to_bytes(16 * n, "big").hex("-", 2)


def _uuid_at(text: str, k: int) -> str:
    """The k-th UUID of a _uuid_hex text, as str(uuid.UUID(...)) spells it (lower-case hex)."""
    i = 40 * k
    return f"{text[i:i + 4]}{text[i + 5:i + 29]}{text[i + 30:i + 34]}{text[i + 35:i + 39]}"


_quoted: dict[str, str] = {}


def _json_once(value: str | None) -> str:
    """The value as a JSON string (ASCII, as json.dumps spells it), or null: for a number of its own."""
    return "null" if value is None else _json_string(value)


def _json(value: str | None) -> str:
    """As _json_once, memoised: for the texts that repeat (descriptions, codes, places, vehicles)."""
    if value is None:
        return "null"
    text = _quoted.get(value)
    if text is None:
        if len(_quoted) >= _CACHE_LIMIT:
            _quoted.clear()
        text = _quoted[value] = _json_string(value)
    return text


# An event's JSON line, keys sorted (as json.dumps(event, sort_keys=True, separators=(",", ":")) spells it):
#   {head}{what[0]}{event_id}{what[1]}{event_time}{where}{logistics_no}{how}{updated_at}{by}
# head: consignment and container, up to "description": (one per consignment, see _head)
_what: dict[tuple[str, str, str], tuple[str, str]] = {}  # around event_id: description, code and kind
_where: dict[str, str] = {}  # after event_time: location
_how: dict[str, str] = {}  # after logistics_no: transport mode
_by: dict[tuple[str, str] | None, str] = {}  # after updated_at: vehicle and voyage


def _head(consignment_no: str, container_no: str | None) -> str:
    return f'{{"consignment_no":{_json_once(consignment_no)},"container_no":{_json_once(container_no)},"description":'


def _what_text(description: str, code: str, kind: str) -> tuple[str, str]:
    text = _what[description, code, kind] = (f'{_json(description)},"event_code":{_json(code)},"event_id":"',
                                             f'","event_kind":{_json(kind)},"event_time":"')
    return text


def _where_text(location: str) -> str:
    text = _where[location] = f'","location":{_json(location)},"logistics_no":'
    return text


def _how_text(mode: str) -> str:
    text = _how[mode] = f',"transport_mode":{_json(mode)},"updated_at":"'
    return text


def _by_text(vehicle: tuple[str, str] | None) -> str:
    name, voyage = vehicle if vehicle else (None, None)
    text = _by[vehicle] = f'","vehicle_name":{_json(name)},"voyage_no":{_json(voyage)}}}'
    return text


# An event before formatting: (description, code, kind, time, recorded, location, mode, vehicle or None),
# its time and the time the carrier recorded it in seconds since the epoch.
_Event = tuple


def _event_line(head: str, description: str, code: str, kind: str, event_id: str, at: int, recorded: int,
                location: str, logistics: str, mode: str, vehicle: tuple[str, str] | None) -> tuple[str, str, str]:
    """One event as (updated_at, event_id, JSON line); logistics is the number already as JSON."""
    updated_at = _utc_text(recorded)
    what = _what.get((description, code, kind)) or _what_text(description, code, kind)
    return (updated_at, event_id,
            f'{head}{what[0]}{event_id}{what[1]}{_local_text(at, location)}'
            f'{_where.get(location) or _where_text(location)}{logistics}{_how.get(mode) or _how_text(mode)}'
            f'{updated_at}{_by.get(vehicle) or _by_text(vehicle)}')


def _lines(events: list[_Event], ids: str, head: str, logistics_no: str | None) -> list[tuple[str, str, str]]:
    """The events as (updated_at, event_id, JSON line); ids: a _uuid_hex text of as many ids."""
    logistics = _json_once(logistics_no)
    return [_event_line(head, description, code, kind, _uuid_at(ids, k), at, recorded, location, logistics, mode,
                        vehicle)
            for k, (description, code, kind, at, recorded, location, mode, vehicle) in enumerate(events)]


# --- random draws ---------------------------------------------------------------------------------

_LAG_MINUTES = 1741 / 0.85


def _recording_lag(draw: float) -> int:
    """How long the carrier's system takes to record an event, in seconds, from a uniform draw in [0, 1):
    85% take 1-30 minutes, 12% 1-12 hours and 3% 12-48 hours (uniform within each: the inverse CDF)."""
    if draw < 0.85:
        return 60 + int(draw * _LAG_MINUTES)  # 60 .. 1800
    if draw < 0.97:
        return round((1 + (draw - 0.85) / 0.12 * 11) * _HOUR)
    return round((12 + (draw - 0.97) / 0.03 * 36) * _HOUR)


def _hours(rng: random.Random, low: float, high: float) -> int:
    """A uniform draw between two numbers of hours, in whole seconds."""
    return round((low + (high - low) * rng.random()) * _HOUR)


_UNIT = 2.0 ** -32
_STREAM_DRAWS = 20  # what a parcel draws at most: a recording lag for each of at most 10 events, 10 others
_STREAM_EVENTS = 10  # the most events a parcel has (a failed delivery attempt), an id each
_unpack_draws = struct.Struct(f"<{_STREAM_DRAWS}I").unpack_from


def _stream(key: str) -> tuple[Callable[[], float], str]:
    """A parcel's random stream, from SHAKE-128 of its key: a draw() of uniform numbers in [0, 1) (32 bits
    each, at most _STREAM_DRAWS), and a _uuid_hex text of _STREAM_EVENTS event ids. Starting one costs about 2 µs, where seeding a random.Random costs
    about 5, and there is one per parcel. draw() is the C-level next() of an iterator over the draws:
    one draw too many raises StopIteration, which _parcel_events turns into a RuntimeError, and an
    event past _STREAM_EVENTS would get an empty id (test_sandbox_api checks that the longest journey
    fits)."""
    digest = hashlib.shake_128(key.encode()).digest(4 * _STREAM_DRAWS + 16 * _STREAM_EVENTS)
    return (map(_UNIT.__mul__, _unpack_draws(digest)).__next__,
            _uuid_hex(int.from_bytes(digest[4 * _STREAM_DRAWS:], "big"), _STREAM_EVENTS))


class _Events:
    """Collects the events of a consignment (its times in epoch seconds) and draws their recording lags
    and, when done, their ids from its random.Random."""

    def __init__(self, rng: random.Random, head: str):
        self.rng, self.head = rng, head
        self.items: list[_Event] = []

    def add(self, kind: str, code: str, at: int, location: str, mode: str, description: str,
            vehicle: tuple[str, str] | None = None) -> int:
        self.items.append((description, code, kind, at, at + _recording_lag(self.rng.random()), location, mode,
                           vehicle))
        return at

    def lines(self) -> tuple[tuple[str, str, str], ...]:
        n = len(self.items)
        return tuple(_lines(self.items, _uuid_hex(self.rng.getrandbits(128 * n), n), self.head, None))


# --- the events ---------------------------------------------------------------------------------

def _next_day_at(day: date, rng: random.Random, first_hour: float, last_hour: float) -> int:
    """A departure on the day after export, between two local Chongqing hours (may pass midnight)."""
    midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=_ZONES[ORIGIN])
    return _epoch(midnight) + _hours(rng, first_hour, last_hour)


@dataclass(frozen=True)
class _Consignment:
    consignment_no: str
    container_no: str | None
    head: str  # the start of its events' JSON lines, up to the description (see _head)
    main_mode: str  # how the parcels leave Chongqing: rail or air
    arrival_mode: str  # how they reach the port of destination: sea, rail, road or air
    depart: int  # leaves Chongqing (seconds since the epoch)
    available: int  # out of the terminal or aircraft at the destination, ready for customs
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
        head = _head(consignment_no, None)
        ev = _Events(rng, head)
        depart = ev.add("transport", "DEPA", _next_day_at(day, plan, 22, 28), ORIGIN, "air",
                        "Flight departed Chongqing Jiangbei", flight)
        arrive = ev.add("transport", "ARRI", depart + _hours(rng, *AIR_HOURS[pod]), pod, "air",
                        "Flight arrived at destination airport", flight)
        return _Consignment(consignment_no, None, head, "air", "air", depart, arrive + _hours(rng, 1, 2), ev.lines())

    container = _container_no(rng)
    head = _head(consignment_no, container)
    ev = _Events(rng, head)
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
        return _Consignment(consignment_no, container, head, "rail", "sea", depart, out, ev.lines())

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
        return _Consignment(consignment_no, container, head, "rail", "rail", depart, out, ev.lines())
    leaves = border + _hours(plan, 12, 15)
    ev.add("equipment", "LOAD", leaves - _hours(rng, 1, 3), MALASZEWICZE, "rail", "Loaded on standard-gauge train", train)
    ev.add("transport", "DEPA", leaves, MALASZEWICZE, "rail", "Train departed Malaszewicze", train)
    arrives = ev.add("transport", "ARRI", leaves + _hours(plan, 22, 25), DUISBURG, "rail",
                     "Train arrived at Duisburg", train)
    disc = ev.add("equipment", "DISC", arrives + _hours(rng, 2, 4), DUISBURG, "rail", "Discharged from train", train)
    out = ev.add("equipment", "GTOT", disc + _hours(rng, 1, 3), DUISBURG, "road", "Gate out from terminal")
    if pod == DUISBURG:
        return _Consignment(consignment_no, container, head, "rail", "rail", depart, out, ev.lines())
    truck = ev.add("transport", "ARRI", out + _hours(rng, 4, 6), pod, "road", "Truck arrived at Rotterdam hub")
    return _Consignment(consignment_no, container, head, "rail", "road", depart, truck, ev.lines())


def _parcel_key(seed: int, parcel: dict, released: int) -> str:
    """What a parcel's stream is drawn from. Logistics numbers get reused (the same number months later,
    or more than once on one day), so the key holds the release instant, route, port and trade mode as
    well as the number: else a reused number's events would repeat the first parcel's event ids."""
    return (f"{seed}|tracking|parcel|{parcel['logistics_no']}|{released}|{parcel['route']}|{parcel['pod']}|"
            f"{parcel['trade_mode']}")


def _parcel_events(seed: int, parcel: dict, consignment: _Consignment) -> list[tuple[str, str, str]]:
    """One waybill's item events, in time order (each at least a minute after the previous), each
    formatted as it is made."""
    no = parcel["logistics_no"]
    released_at = parcel["released_at"]
    if released_at.tzinfo is None:
        raise ValueError(f"parcel {no}: released_at must be timezone-aware, got {released_at!r}")
    released = _epoch(released_at)
    pod = parcel["pod"]
    draw, ids = _stream(_parcel_key(seed, parcel, released))
    is_parcel = parcel["trade_mode"] in PARCEL_TRADE_MODES
    head, logistics = consignment.head, _json_once(no)
    events: list[tuple[str, str, str]] = []
    last = released

    def step(code: str, after: int, low: float, high: float, location: str, mode: str, description: str) -> int:
        """The event `low` to `high` hours after `after` (exactly at `after` if high is 0), and at least
        a minute after the previous one."""
        nonlocal last
        at = after + round((low + (high - low) * draw()) * _HOUR) if high else after
        last = at = max(at, last + _MINUTE)
        events.append(_event_line(head, description, code, "parcel", _uuid_at(ids, len(events)), at,
                                  at + _recording_lag(draw()), location, logistics, mode, None))
        return at

    try:
        step("EMA", released, 0.5, 3, ORIGIN, "road",
             "Posted: collected from the supervised warehouse" if is_parcel
             else "Cargo received at the Chongqing consolidation warehouse")
        if is_parcel:
            step("EMB", last, 1, 3, ORIGIN, "road", "Arrived at outward office of exchange")
        step("EMC", consignment.depart, 0, 0, ORIGIN, consignment.main_mode, "Departed from outward office of exchange")
        arrived = step("EMD", consignment.available, 1, 3, pod, consignment.arrival_mode,
                       "Arrived at inward office of exchange")
        if is_parcel:
            step("EDB", arrived, 0.5, 1.5, pod, "road", "Presented to import customs")
        cleared = step("EDC", arrived, 4, 7, pod, "road", "Released from import customs")
        if not is_parcel:
            step("EMI", cleared, 8, 14, pod, "road",
                 "Received into the overseas warehouse" if parcel["trade_mode"] == "9810" else "Delivered to consignee")
        else:
            step("EMG", cleared, 2, 4, pod, "road", "Arrived at delivery office")
            if draw() < 0.08:
                step("EMH", cleared, 5, 7, pod, "road", "Delivery attempt failed: addressee absent")
                step("EDH", last, 1, 2, pod, "road", "Arrived at collection point for pick-up")
                step("EMI", last, 2, 5, pod, "road", "Collected by addressee")
            else:
                step("EMI", cleared, 8, 14, pod, "road", "Delivered")
    except StopIteration:  # draw() past the end of the stream's draws
        raise RuntimeError(f"parcel {no}: drew more than _STREAM_DRAWS ({_STREAM_DRAWS}) random numbers") from None
    return events


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
    # Sorting by a key of updated_at + event_id would take about 1 µs a parcel less, but holds a key
    # string per event (about 100 bytes) while it sorts: the peak memory of the day goes up by a fifth.
    events.sort()
    return events


def write_day_events(out: Path, day: date, seed: int, parcels: list[dict]) -> int:
    """Write _sandbox/tracking/<day>.jsonl under `out` for the parcels exported on `day`; return the count."""
    events = day_events(day, seed, parcels)
    folder = out / TRACKING_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{day.isoformat()}.jsonl", "w", encoding="utf-8") as f:
        for i in range(0, len(events), _WRITE_BATCH):  # a batch at a time, not one string of the whole day
            f.write("\n".join([event[2] for event in events[i:i + _WRITE_BATCH]]))
            f.write("\n")
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
