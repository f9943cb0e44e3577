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
twice in a day) gets event ids of its own. The parcels of a consignment are walked together, one
event kind at a time, with their times, ids and JSON lines as numpy arrays (about 2x less CPU than
parcel by parcel, and the same bytes).

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
from functools import lru_cache
from pathlib import Path
from string import ascii_uppercase
from zoneinfo import ZoneInfo

import numpy as np

from parkdw.sandbox import world
from parkdw.sandbox.columns import uuid_bytes, uuid_texts

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


_MMSS_TEXT = np.frombuffer("".join(_MMSS).encode(), np.uint8).reshape(3600, 5)  # by second of the hour


def _by_hour(t: np.ndarray, hour_text) -> tuple[np.ndarray, list]:
    """The distinct hours of the times, each as hour_text(hour) gives it, and each time's index in them:
    a day's events fall in a few hundred hours, so the texts are made once per hour."""
    hours, index = np.unique(t // _HOUR, return_inverse=True)
    return index, [hour_text(hour) for hour in hours.tolist()]


def _utc_texts(t: np.ndarray) -> np.ndarray:
    """_utc_text of each time (epoch seconds): an (n, 20) array of characters."""
    index, prefixes = _by_hour(t, lambda hour: _utc_hours.get(hour) or _utc_hour(hour))
    text = np.empty((len(t), 20), np.uint8)
    text[:, :14] = np.frombuffer("".join(prefixes).encode(), np.uint8).reshape(-1, 14)[index]
    text[:, 14:19] = _MMSS_TEXT[t % _HOUR]
    text[:, 19] = ord("Z")
    return text


def _local_texts(t: np.ndarray, location: str) -> np.ndarray:
    """_local_text of each time (epoch seconds) at a location: an (n, 25) array of characters."""
    known = _local_hours[location]
    index, pieces = _by_hour(t, lambda hour: known.get(hour) or _local_hour(location, hour))
    hour_text = np.frombuffer("".join(f"{p}{s}" if p else "?" * 20 for p, s in pieces).encode(), np.uint8)
    hour_text = hour_text.reshape(-1, 20)[index]
    text = np.empty((len(t), 25), np.uint8)
    text[:, :14] = hour_text[:, :14]
    text[:, 14:19] = _MMSS_TEXT[t % _HOUR]
    text[:, 19:] = hour_text[:, 14:]
    mixed = [i for i, (prefix, _) in enumerate(pieces) if prefix is None]
    for row in np.flatnonzero(np.isin(index, mixed)).tolist() if mixed else ():
        local = _local_text(int(t[row]), location)  # an hour whose offset changes, or not whole hours
        if len(local) != 25:
            raise ValueError(f"{location}: local time {local!r} is not 25 characters long")
        text[row] = np.frombuffer(local.encode(), np.uint8)
    return text


def _json_once(value: str | None) -> str:
    """The value as a JSON string (ASCII, as json.dumps spells it), or null."""
    return "null" if value is None else _json_string(value)


# An event's JSON line, keys sorted (as json.dumps(event, sort_keys=True, separators=(",", ":")) spells it):
#   {head}{event_id}{what}{event_time}{where}{logistics_no}{how}{updated_at}{by}
# head: consignment and container, description, code (see _pieces). The five constant pieces of an
# event kind are made once; the four variable fields have fixed widths (36, 25, the logistics number,
# 20), so the events of one kind are rows of one width, filled a column range at a time.

def _head(consignment_no: str, container_no: str | None) -> str:
    return f'{{"consignment_no":{_json_once(consignment_no)},"container_no":{_json_once(container_no)},"description":'


@lru_cache(maxsize=4096)
def _pieces(head: str, description: str, code: str, kind: str, location: str, mode: str,
            vehicle: tuple[str, str] | None) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    name, voyage = vehicle if vehicle else (None, None)
    return (f'{head}{_json_once(description)},"event_code":{_json_once(code)},"event_id":"'.encode(),
            f'","event_kind":{_json_once(kind)},"event_time":"'.encode(),
            f'","location":{_json_once(location)},"logistics_no":'.encode(),
            f',"transport_mode":{_json_once(mode)},"updated_at":"'.encode(),
            f'","vehicle_name":{_json_once(name)},"voyage_no":{_json_once(voyage)}}}\n'.encode())


@dataclass(frozen=True)
class _Block:
    """Events of one kind as JSON lines of one width (each with its newline), with their sort keys."""

    rows: np.ndarray  # (n, width) characters
    recorded: np.ndarray  # (n,) when the carrier recorded each event (updated_at), epoch seconds
    ids: np.ndarray  # (n, 16) event ids as bytes


def _block(pieces: tuple[bytes, ...], ids: np.ndarray, at: np.ndarray, location: str, logistics: np.ndarray,
           recorded: np.ndarray) -> _Block:
    """The events' lines; logistics: the logistics numbers as JSON, an (n, width) array of characters."""
    head, what, where, how, by = pieces
    parts = (head, uuid_texts(ids), what, _local_texts(at, location), where, logistics, how, _utc_texts(recorded), by)
    widths = [len(p) if isinstance(p, bytes) else p.shape[1] for p in parts]
    rows = np.empty((len(at), sum(widths)), np.uint8)
    column = 0
    for part, width in zip(parts, widths):
        rows[:, column:column + width] = np.frombuffer(part, np.uint8) if isinstance(part, bytes) else part
        column += width
    return _Block(rows, recorded, ids)


# --- random draws ---------------------------------------------------------------------------------

_LAG_MINUTES = 1741 / 0.85


def _recording_lags(draws: np.ndarray) -> np.ndarray:
    """How long the carrier's system takes to record each event, in seconds, from uniform draws in [0, 1):
    85% take 1-30 minutes, 12% 1-12 hours and 3% 12-48 hours (uniform within each: the inverse CDF).
    Rounded as round() does (half to even)."""
    return np.where(draws < 0.85, 60 + np.floor(draws * _LAG_MINUTES),  # 60 .. 1800
                    np.rint(np.where(draws < 0.97, 1 + (draws - 0.85) / 0.12 * 11,
                                     12 + (draws - 0.97) / 0.03 * 36) * _HOUR)).astype(np.int64)


def _hours(rng: random.Random, low: float, high: float) -> int:
    """A uniform draw between two numbers of hours, in whole seconds."""
    return round((low + (high - low) * rng.random()) * _HOUR)


_UNIT = 2.0 ** -32
_STREAM_DRAWS = 20  # what a parcel draws at most: a recording lag for each of at most 10 events, 10 others
_STREAM_EVENTS = 10  # the most events a parcel has (a failed delivery attempt), an id each


def _streams(keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each parcel's random stream, from SHAKE-128 of its key: _STREAM_DRAWS uniform numbers in [0, 1)
    (32 bits each) and _STREAM_EVENTS event ids, as (n, _STREAM_DRAWS) and (n, _STREAM_EVENTS, 16)
    arrays. A digest costs about 1 µs, where seeding a random.Random costs about 5."""
    draws, ids = 4 * _STREAM_DRAWS, 16 * _STREAM_EVENTS
    digests = np.frombuffer(b"".join([hashlib.shake_128(key.encode()).digest(draws + ids) for key in keys]),
                            np.uint8).reshape(len(keys), draws + ids)
    uniform = np.ascontiguousarray(digests[:, :draws]).view("<u4") * _UNIT
    return uniform, uuid_bytes(digests[:, draws:].tobytes(), len(keys) * _STREAM_EVENTS).reshape(
        len(keys), _STREAM_EVENTS, 16)


class _Events:
    """Collects the events of a consignment (its times in epoch seconds) and draws their recording lags
    and, when done, their ids from its random.Random."""

    def __init__(self, rng: random.Random, head: str):
        self.rng, self.head = rng, head
        self.items: list[tuple] = []  # (description, code, kind, at, lag draw, location, mode, vehicle)

    def add(self, kind: str, code: str, at: int, location: str, mode: str, description: str,
            vehicle: tuple[str, str] | None = None) -> int:
        self.items.append((description, code, kind, at, self.rng.random(), location, mode, vehicle))
        return at

    def blocks(self) -> tuple[_Block, ...]:
        n = len(self.items)
        ids = uuid_bytes(self.rng.getrandbits(128 * n).to_bytes(16 * n, "big"), n)
        lags = _recording_lags(np.array([item[4] for item in self.items]))
        none = np.frombuffer(b"null", np.uint8).reshape(1, 4)
        return tuple(
            _block(_pieces(self.head, description, code, kind, location, mode, vehicle), ids[k:k + 1],
                   np.array([at]), location, none, np.array([at]) + lags[k:k + 1])
            for k, (description, code, kind, at, _, location, mode, vehicle) in enumerate(self.items))


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
    events: tuple[_Block, ...]  # its own events, one block each


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
        return _Consignment(consignment_no, None, head, "air", "air", depart, arrive + _hours(rng, 1, 2), ev.blocks())

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
        return _Consignment(consignment_no, container, head, "rail", "sea", depart, out, ev.blocks())

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
        return _Consignment(consignment_no, container, head, "rail", "rail", depart, out, ev.blocks())
    leaves = border + _hours(plan, 12, 15)
    ev.add("equipment", "LOAD", leaves - _hours(rng, 1, 3), MALASZEWICZE, "rail", "Loaded on standard-gauge train", train)
    ev.add("transport", "DEPA", leaves, MALASZEWICZE, "rail", "Train departed Malaszewicze", train)
    arrives = ev.add("transport", "ARRI", leaves + _hours(plan, 22, 25), DUISBURG, "rail",
                     "Train arrived at Duisburg", train)
    disc = ev.add("equipment", "DISC", arrives + _hours(rng, 2, 4), DUISBURG, "rail", "Discharged from train", train)
    out = ev.add("equipment", "GTOT", disc + _hours(rng, 1, 3), DUISBURG, "road", "Gate out from terminal")
    if pod == DUISBURG:
        return _Consignment(consignment_no, container, head, "rail", "rail", depart, out, ev.blocks())
    truck = ev.add("transport", "ARRI", out + _hours(rng, 4, 6), pod, "road", "Truck arrived at Rotterdam hub")
    return _Consignment(consignment_no, container, head, "rail", "road", depart, truck, ev.blocks())


def _parcel_key(seed: int, parcel: dict, released: int) -> str:
    """What a parcel's stream is drawn from. Logistics numbers get reused (the same number months later,
    or more than once on one day), so the key holds the release instant, route, port and trade mode as
    well as the number: else a reused number's events would repeat the first parcel's event ids."""
    return (f"{seed}|tracking|parcel|{parcel['logistics_no']}|{released}|{parcel['route']}|{parcel['pod']}|"
            f"{parcel['trade_mode']}")


class _Journeys:
    """The parcels of one consignment that take the same steps, walked together: each step is one
    event of every parcel, its times as arrays (what one parcel's walk does, parcel by parcel)."""

    def __init__(self, consignment: _Consignment, released: np.ndarray, trade_modes: np.ndarray,
                 logistics: np.ndarray, draws: np.ndarray, ids: np.ndarray, out: list[_Block]):
        self.consignment, self.trade_modes = consignment, trade_modes
        self.logistics, self.draws, self.ids, self.out = logistics, draws, ids, out
        self.last = released  # the time of each parcel's latest event
        self.drawn = self.events = 0

    def subset(self, mask: np.ndarray) -> "_Journeys":
        """The parcels where mask is true, going on from where these are."""
        part = _Journeys(self.consignment, self.last[mask], self.trade_modes[mask], self.logistics[mask],
                         self.draws[mask], self.ids[mask], self.out)
        part.drawn, part.events = self.drawn, self.events
        return part

    def draw(self) -> np.ndarray:
        """The next uniform number of each parcel's stream."""
        if self.drawn == self.draws.shape[1]:
            raise RuntimeError(f"parcel {self._first()}: drew more than _STREAM_DRAWS ({self.draws.shape[1]}) "
                               "random numbers")
        self.drawn += 1
        return self.draws[:, self.drawn - 1]

    def _first(self) -> str:
        """The first parcel's logistics number (for a message)."""
        return json.loads(self.logistics[0].tobytes())

    def step(self, code: str, after, low: float, high: float, location: str, mode: str, description: str) -> np.ndarray:
        """The event `low` to `high` hours after `after` (exactly at `after` if high is 0), and at least
        a minute after the previous one."""
        at = after + np.rint((low + (high - low) * self.draw()) * _HOUR).astype(np.int64) if high else after
        self.last = at = np.maximum(at, self.last + _MINUTE)
        recorded = at + _recording_lags(self.draw())
        if self.events == self.ids.shape[1]:
            raise RuntimeError(f"parcel {self._first()}: more than _STREAM_EVENTS ({self.events}) events")
        self.out.append(_block(_pieces(self.consignment.head, description, code, "parcel", location, mode, None),
                               self.ids[:, self.events], at, location, self.logistics, recorded))
        self.events += 1
        return at


def _walk(journeys: _Journeys, pod: str, parcels: bool) -> None:
    """The waybills' item events: retail parcels (9610, 1210) or B2B cargo (9710, 9810)."""
    consignment = journeys.consignment
    journeys.step("EMA", journeys.last, 0.5, 3, ORIGIN, "road",
                  "Posted: collected from the supervised warehouse" if parcels
                  else "Cargo received at the Chongqing consolidation warehouse")
    if parcels:
        journeys.step("EMB", journeys.last, 1, 3, ORIGIN, "road", "Arrived at outward office of exchange")
    journeys.step("EMC", consignment.depart, 0, 0, ORIGIN, consignment.main_mode, "Departed from outward office of exchange")
    arrived = journeys.step("EMD", consignment.available, 1, 3, pod, consignment.arrival_mode,
                            "Arrived at inward office of exchange")
    if parcels:
        journeys.step("EDB", arrived, 0.5, 1.5, pod, "road", "Presented to import customs")
    cleared = journeys.step("EDC", arrived, 4, 7, pod, "road", "Released from import customs")
    if not parcels:
        warehouse = journeys.trade_modes == "9810"
        for mask, description in ((warehouse, "Received into the overseas warehouse"), (~warehouse, "Delivered to consignee")):
            if mask.any():
                journeys.subset(mask).step("EMI", cleared[mask], 8, 14, pod, "road", description)
        return
    journeys.step("EMG", cleared, 2, 4, pod, "road", "Arrived at delivery office")
    failed = journeys.draw() < 0.08
    if failed.any():
        again = journeys.subset(failed)
        again.step("EMH", cleared[failed], 5, 7, pod, "road", "Delivery attempt failed: addressee absent")
        again.step("EDH", again.last, 1, 2, pod, "road", "Arrived at collection point for pick-up")
        again.step("EMI", again.last, 2, 5, pod, "road", "Collected by addressee")
    if not failed.all():
        journeys.subset(~failed).step("EMI", cleared[~failed], 8, 14, pod, "road", "Delivered")


def _parcel_blocks(seed: int, members: list[dict], consignment: _Consignment, pod: str) -> list[_Block]:
    """The item events of a consignment's waybills, a block per event kind."""
    by_width: dict[int, list[tuple[dict, int, str]]] = {}  # parcels by the width of their number as JSON
    for p in members:
        released_at = p["released_at"]
        if released_at.tzinfo is None:
            raise ValueError(f"parcel {p['logistics_no']}: released_at must be timezone-aware, got {released_at!r}")
        number = _json_once(p["logistics_no"])
        by_width.setdefault(len(number), []).append((p, _epoch(released_at), number))
    out: list[_Block] = []
    for width, group in sorted(by_width.items()):
        draws, ids = _streams([_parcel_key(seed, p, released) for p, released, _ in group])
        trade_modes = np.array([p["trade_mode"] for p, _, _ in group])
        journeys = _Journeys(consignment, np.array([released for _, released, _ in group], np.int64), trade_modes,
                             np.frombuffer("".join(n for _, _, n in group).encode(), np.uint8).reshape(-1, width),
                             draws, ids, out)
        retail = np.isin(trade_modes, PARCEL_TRADE_MODES)
        for mask, parcels in ((retail, True), (~retail, False)):
            if mask.any():
                _walk(journeys.subset(mask), pod, parcels)
    return out


def _sort_key(event: dict) -> tuple[str, str]:
    return event["updated_at"], event["event_id"]


def _day_blocks(day: date, seed: int, parcels: list[dict]) -> list[_Block]:
    """The events of the parcels exported on a day, with their consignments', in blocks of one kind."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for p in parcels:
        if p["route"] not in ROUTE_CODES:
            raise ValueError(f"parcel {p['logistics_no']}: unknown route {p['route']!r}")
        if p["pod"] not in TIME_ZONES:
            raise ValueError(f"parcel {p['logistics_no']}: unknown port of destination {p['pod']!r}")
        groups.setdefault((p["route"], p["pod"]), []).append(p)
    blocks: list[_Block] = []
    for (route, pod), members in sorted(groups.items()):
        consignment = _consignment(seed, day, route, pod)
        blocks += consignment.events
        blocks += _parcel_blocks(seed, members, consignment, pod)
    return blocks


def write_day_events(out: Path, day: date, seed: int, parcels: list[dict]) -> int:
    """Write _sandbox/tracking/<day>.jsonl under `out` for the parcels exported on `day`, in (updated_at,
    event_id) order; return the count."""
    blocks = _day_blocks(day, seed, parcels)
    folder = out / TRACKING_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{day.isoformat()}.jsonl", "wb") as f:
        if not blocks:
            return 0
        # Sort by (updated_at, event_id): the UTC text sorts as its epoch seconds, the lower-case hex of
        # an id as its bytes (two big-endian 64-bit halves). The lines stay where their block made them.
        ids = np.concatenate([b.ids for b in blocks])
        order = np.lexsort((ids[:, 8:].copy().view(">u8")[:, 0], ids[:, :8].copy().view(">u8")[:, 0],
                            np.concatenate([b.recorded for b in blocks])))
        block_of = np.repeat(np.arange(len(blocks)), [len(b.recorded) for b in blocks])[order]
        row_of = np.concatenate([np.arange(len(b.recorded)) for b in blocks])[order]
        views = [memoryview(b.rows.reshape(-1)) for b in blocks]
        widths = [b.rows.shape[1] for b in blocks]
        for i in range(0, len(order), _WRITE_BATCH):  # a batch at a time, not one string of the whole day
            f.write(b"".join([views[b][r * widths[b]:(r + 1) * widths[b]]
                              for b, r in zip(block_of[i:i + _WRITE_BATCH].tolist(), row_of[i:i + _WRITE_BATCH].tolist())]))
    return len(order)


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
