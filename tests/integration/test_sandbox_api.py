"""The sandbox's carrier tracking: seeded events, and the HTTP API served over real sockets."""

import base64
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import requests

from parkdw.sandbox import tracking, world
from parkdw.sandbox.api import FAULT_KINDS, TrackingApiServer
from parkdw.sandbox.tracking import (
    TIME_ZONES, TRACKING_DIR, is_valid_container_no, iso6346_check_digit, load_events, write_day_events,
)

SEED = 7
DAYS = (date(2024, 11, 10), date(2024, 11, 11))
CHONGQING = ZoneInfo("Asia/Shanghai")


def make_parcels(day: date, seed: int, count: int) -> list[dict]:
    """Released parcels of a day, drawn like the customs feed draws them (weights of world.DESTINATIONS)."""
    rng = world._rng(seed, "test-parcels", day.isoformat())
    parcels = []
    for _ in range(count):
        dest = rng.choices(world.DESTINATIONS, weights=[d.weight for d in world.DESTINATIONS])[0]
        released = datetime.combine(day, datetime.min.time(), tzinfo=CHONGQING) + timedelta(
            seconds=rng.randint(8 * 3600 + 1800, 23 * 3600 + 55 * 60))
        parcels.append({"logistics_no": f"YX{rng.getrandbits(44):013d}", "route": dest.route,
                        "country": dest.country, "pod": dest.pod, "released_at": released,
                        "trade_mode": rng.choices(("9610", "9710", "9810", "1210"), weights=(88, 3, 8, 1))[0]})
    return parcels


def write_days(out: Path, days, seed: int = SEED, count: int = 150) -> dict[str, dict]:
    parcels = {}
    for day in days:
        day_parcels = make_parcels(day, seed, count)
        assert write_day_events(out, day, seed, day_parcels) > count
        parcels.update({p["logistics_no"]: p for p in day_parcels})
    return parcels


def digest(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / TRACKING_DIR).glob("*.jsonl"))}


def key(event: dict) -> tuple[datetime, str]:
    return datetime.fromisoformat(event["updated_at"]), event["event_id"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("tracking")
    return out, write_days(out, DAYS)


@pytest.fixture()
def credentials():
    return {"client_id": f"test-{secrets.token_hex(4)}", "client_secret": secrets.token_urlsafe(16)}


@pytest.fixture()
def serve(credentials):
    """Start servers on ephemeral ports; every one is stopped at teardown."""
    started = []

    def start(data_dir: Path, **options) -> TrackingApiServer:
        server = TrackingApiServer(data_dir, **credentials, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture()
def http():
    with requests.Session() as session:
        yield session


def get_token(http, server, credentials) -> str:
    r = http.post(f"{server.url}/oauth/token", data={"grant_type": "client_credentials", **credentials}, timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] >= 1
    return body["access_token"]


def events_page(http, server, token, timeout=5, **params) -> requests.Response:
    return http.get(f"{server.url}/v1/tracking-events", params=params,
                    headers={"Authorization": f"Bearer {token}"}, timeout=timeout)


def page_through(http, server, token, cursor=None, **params) -> tuple[list[dict], int]:
    """Follow next_cursor to the end; the events seen and the number of pages."""
    seen, pages = [], 0
    while True:
        r = events_page(http, server, token, **params, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["data"]) <= int(params.get("limit", 500))
        seen += body["data"]
        pages += 1
        assert body["has_more"] == (body["next_cursor"] is not None)
        if not body["has_more"]:
            return seen, pages
        cursor = body["next_cursor"]


# --- the events -------------------------------------------------------------------------------

def test_tracking_files_are_deterministic_and_subranges_match(tmp_path):
    write_days(tmp_path / "a", DAYS)
    write_days(tmp_path / "b", DAYS)
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert list(a) == ["2024-11-10.jsonl", "2024-11-11.jsonl"] and a == b
    write_days(tmp_path / "c", DAYS[1:])
    assert digest(tmp_path / "c") == {"2024-11-11.jsonl": a["2024-11-11.jsonl"]}
    write_days(tmp_path / "d", DAYS[1:], seed=SEED + 1)
    assert digest(tmp_path / "d")["2024-11-11.jsonl"] != a["2024-11-11.jsonl"]
    # A parcel's events do not depend on which other parcels were exported with it.
    parcels = make_parcels(DAYS[0], SEED, 150)
    write_day_events(tmp_path / "e", DAYS[0], SEED, parcels[:40])
    alone = {e["event_id"]: e for e in load_events(tmp_path / "e")}
    together = {e["event_id"]: e for e in load_events(tmp_path / "a")}
    assert alone and all(together[i] == e for i, e in alone.items())


def test_a_reused_logistics_number_gets_event_ids_of_its_own(tmp_path):
    """The customs feed reuses a logistics number about six months later (the logistics_no_reuse defect),
    sometimes more than once on one day: the event ids must still be unique, as the warehouse keys
    events by event_id."""
    first = make_parcels(DAYS[0], SEED, 3)[0]
    later_day = DAYS[0] + timedelta(days=183)
    later = {**first, "released_at": first["released_at"] + timedelta(days=183)}
    same_day = {**first, "released_at": first["released_at"] + timedelta(hours=1, seconds=7)}
    write_day_events(tmp_path / "a", DAYS[0], SEED, [first, same_day])
    write_day_events(tmp_path / "a", later_day, SEED, [later])
    events = [e for e in load_events(tmp_path / "a") if e["logistics_no"] == first["logistics_no"]]
    ids = Counter(e["event_id"] for e in events)
    assert len(events) >= 3 * 6 and max(ids.values()) == 1
    by_day = defaultdict(set)  # by export day (YYMMDD in the consignment number)
    for e in events:
        by_day[e["consignment_no"][4:10]].add(e["event_id"])
    assert sorted(by_day) == ["241110", "250512"] and by_day["241110"].isdisjoint(by_day["250512"])
    # The same parcel again (same fields) gives the same events: ids depend on the parcel, not on the run.
    write_day_events(tmp_path / "b", later_day, SEED, [later])
    assert digest(tmp_path / "b") == {f"{later_day}.jsonl": digest(tmp_path / "a")[f"{later_day}.jsonl"]}


def test_event_lines_are_json_dumps_spelling_with_zoneinfo_local_times(data):
    out, _ = data
    for path in sorted((out / TRACKING_DIR).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            e = json.loads(line)
            assert json.dumps(e, sort_keys=True, separators=(",", ":")) == line
            assert list(e) == ["consignment_no", "container_no", "description", "event_code", "event_id", "event_kind",
                               "event_time", "location", "logistics_no", "transport_mode", "updated_at",
                               "vehicle_name", "voyage_no"]
            assert str(uuid.UUID(e["event_id"])) == e["event_id"] and uuid.UUID(e["event_id"]).version == 4
            at = datetime.fromisoformat(e["event_time"])
            assert at.astimezone(ZoneInfo(TIME_ZONES[e["location"]])).isoformat() == e["event_time"]
            updated = datetime.fromisoformat(e["updated_at"].replace("Z", "+00:00"))
            assert updated.astimezone(timezone.utc).isoformat()[:19] + "Z" == e["updated_at"]


def utc_offset_switches(zone: ZoneInfo, start: datetime, end: datetime) -> list[int]:
    """The epoch seconds at which the zone's UTC offset changes between start and end (to the second)."""
    switches, t, step = [], int(start.timestamp()), 3600 * 6
    while t < end.timestamp():
        if datetime.fromtimestamp(t, zone).utcoffset() != datetime.fromtimestamp(t + step, zone).utcoffset():
            low, high = t, t + step  # bisect to the first second of the new offset
            while high - low > 1:
                mid = (low + high) // 2
                same = datetime.fromtimestamp(mid, zone).utcoffset() == datetime.fromtimestamp(low, zone).utcoffset()
                low, high = (mid, high) if same else (low, mid)
            switches.append(high)
        t += step
    return switches


def test_local_times_match_zoneinfo_across_dst_switches(monkeypatch):
    """Event times are formatted from a cached text per zone and UTC hour (one time, or an array of them):
    exact through DST switches (Europe, Los Angeles, Sydney), and switches off the hour (Lord Howe: 30 minutes at 15:30 UTC) or
    offsets that are not whole hours (St John's, Kathmandu) fall back to zoneinfo for each time."""
    extra = {"AULDH": "Australia/Lord_Howe", "CASJF": "America/St_Johns", "NPKTM": "Asia/Kathmandu"}
    for code, name in extra.items():
        monkeypatch.setitem(tracking._ZONES, code, ZoneInfo(name))
        monkeypatch.setitem(tracking._local_hours, code, {})
    switched = set()
    for code, zone in tracking._ZONES.items():
        switches = utc_offset_switches(zone, datetime(2023, 1, 1, tzinfo=timezone.utc),
                                       datetime(2027, 1, 1, tzinfo=timezone.utc))
        if switches:
            switched.add(code)
        times = [t for switch in switches
                 for t in list(range(switch - 7200, switch + 7200, 37)) + [switch - 1, switch, switch + 1]]
        rng = world._rng(SEED, "test-zones", code)
        times += [rng.randrange(int(datetime(1990, 1, 1).timestamp()), int(datetime(2040, 1, 1).timestamp()))
                  for _ in range(2000)]
        local = tracking._local_texts(np.array(times), code)
        utc = tracking._utc_texts(np.array(times))
        for t, local_text, utc_text in zip(times, local, utc):
            expected = datetime.fromtimestamp(t, zone).isoformat()
            assert tracking._local_text(t, code) == local_text.tobytes().decode() == expected, (code, t)
            assert utc_text.tobytes().decode() == datetime.fromtimestamp(t, timezone.utc).isoformat()[:19] + "Z"
    assert {"PLMAL", "DEDUI", "NLRTM", "FRPAR", "GBLHR", "USLAX", "AUSYD", "AULDH", "CASJF"} <= switched
    assert tracking._local_hours["AULDH"] and tracking._local_hours["CASJF"]


def test_the_longest_journey_fits_in_a_parcel_stream(monkeypatch, tmp_path):
    """A parcel draws its random numbers and event ids from a fixed number precomputed: count the most used."""
    drawn = []
    real_draw = tracking._Journeys.draw

    def counting_draw(journeys):
        column = real_draw(journeys)
        drawn.append(journeys.drawn)
        return column

    monkeypatch.setattr(tracking._Journeys, "draw", counting_draw)
    parcels = make_parcels(DAYS[0], SEED, 400)
    write_day_events(tmp_path, DAYS[0], SEED, parcels)
    events = Counter(e["logistics_no"] for e in load_events(tmp_path) if e["event_kind"] == "parcel")
    assert max(events.values()) == tracking._STREAM_EVENTS  # a failed delivery attempt: the longest journey
    assert max(drawn) == tracking._STREAM_DRAWS
    # One draw fewer: the longest journeys run out, and say so.
    monkeypatch.setattr(tracking, "_STREAM_DRAWS", tracking._STREAM_DRAWS - 1)
    with pytest.raises(RuntimeError, match="drew more than"):
        write_day_events(tmp_path, DAYS[0], SEED, parcels)


def test_iso6346_check_digits():
    assert iso6346_check_digit("CSQU305438") == 3
    assert is_valid_container_no("CSQU3054383")  # the standard's worked example
    assert not is_valid_container_no("CSQU3054384") and not is_valid_container_no("CSQU305438")
    assert not is_valid_container_no("CSQU30543X3")
    # Letters skip multiples of 11 (A=10, B=12 ... K=21, L=23 ... U=32, V=34).
    assert iso6346_check_digit("ABCU000000") == (10 + 12 * 2 + 13 * 4 + 32 * 8) % 11 % 10
    with pytest.raises(ValueError, match="CSQ3054383"):
        iso6346_check_digit("CSQ3054383")


def test_events_are_well_formed_and_journeys_take_realistic_times(data):
    out, parcels = data
    events = load_events(out)
    assert events == sorted(events, key=key) and len({e["event_id"] for e in events}) == len(events)
    by_parcel, consignments = defaultdict(list), defaultdict(set)
    for e in events:
        assert e["event_kind"] in ("parcel", "transport", "equipment")
        assert e["transport_mode"] in ("rail", "sea", "air", "road")
        event_time = datetime.fromisoformat(e["event_time"])
        assert event_time.utcoffset() is not None and e["updated_at"].endswith("Z")
        assert datetime.fromisoformat(e["updated_at"]) >= event_time
        if e["container_no"] is not None:
            assert is_valid_container_no(e["container_no"])
        if e["event_kind"] == "parcel":
            by_parcel[e["logistics_no"]].append(e)
            consignments[e["consignment_no"]].add(e["logistics_no"])
        else:
            assert e["logistics_no"] is None and len(e["location"]) == 5
    assert set(by_parcel) == set(parcels)
    assert max(len(members) for members in consignments.values()) > 10  # parcels travel together
    lags = [datetime.fromisoformat(e["updated_at"]) - datetime.fromisoformat(e["event_time"]) for e in events]
    assert 0.03 < sum(lag > timedelta(hours=1) for lag in lags) / len(lags) < 0.3  # some recorded late

    journeys = defaultdict(list)
    for no, evs in by_parcel.items():
        evs.sort(key=lambda e: e["updated_at"])  # the file order; event time order is rebuilt below
        evs.sort(key=lambda e: datetime.fromisoformat(e["event_time"]))
        codes = [e["event_code"] for e in evs]
        p = parcels[no]
        assert codes[0] == "EMA" and codes[-1] == "EMI" and {"EMC", "EMD", "EDC"} <= set(codes)
        if p["trade_mode"] in ("9610", "1210"):
            assert "EMB" in codes and "EDB" in codes
        days = (datetime.fromisoformat(evs[-1]["event_time"]) - p["released_at"]) / timedelta(days=1)
        journeys[(p["route"], p["pod"])].append(days)
    assert journeys[("rail_sea", "SGSIN")] and all(7 <= d <= 12 for d in journeys[("rail_sea", "SGSIN")])
    duisburg = journeys[("china_europe_rail", "DEDUI")]
    assert duisburg and all(14 <= d <= 16 for d in duisburg)

    # Transport milestones: the corridor's stops, and air reaching the destination in 1-3 days.
    stops = {(e["consignment_no"][2:4], e["event_code"], e["location"])
             for e in events if e["event_kind"] == "transport"}
    assert {("RS", "DEPA", "CNCKG"), ("RS", "ARRI", "CNQZH"), ("RS", "DEPA", "CNQZH"), ("RS", "ARRI", "SGSIN"),
            ("CR", "DEPA", "CNCKG"), ("CR", "ARRI", "PLMAL"), ("CR", "ARRI", "DEDUI")} <= stops
    equipment = {e["event_code"] for e in events if e["event_kind"] == "equipment"}
    assert equipment == {"GTIN", "LOAD", "DISC", "GTOT"}
    released = defaultdict(list)
    for p in parcels.values():
        if p["route"] == "air":
            released[f"YXAF{p['released_at']:%y%m%d}{p['pod']}"].append(p["released_at"])
    air_arrivals = {e["consignment_no"]: datetime.fromisoformat(e["event_time"]) for e in events
                    if e["event_kind"] == "transport" and e["transport_mode"] == "air" and e["event_code"] == "ARRI"}
    assert air_arrivals.keys() == released.keys()
    for consignment, arrival in air_arrivals.items():
        assert timedelta(days=1) <= arrival - max(released[consignment])
        assert arrival - min(released[consignment]) <= timedelta(days=3)


# --- the API ----------------------------------------------------------------------------------

def test_health_routes_and_request_log(data, serve, http, caplog):
    server = serve(data[0])
    r = http.get(f"{server.url}/v1/health", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ok", "events": len(load_events(data[0]))}
    assert http.get(f"{server.url}/v1/nothing", timeout=5).status_code == 404
    r = http.get(f"{server.url}/oauth/token", timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "POST" and r.json()["error"] == "method_not_allowed"
    assert server.request_counts["/v1/health"] == 1 and server.status_counts[404] == 1


def test_tokens_are_required_checked_and_expire(data, serve, http, credentials):
    server = serve(data[0], token_ttl_seconds=0.3)
    r = http.get(f"{server.url}/v1/tracking-events", timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized" and "Bearer" in r.headers["WWW-Authenticate"]
    r = events_page(http, server, "not-a-token")
    assert r.status_code == 401 and r.json() == {"error": "invalid_token", "message": "unknown token"}
    wrong = {**credentials, "client_secret": credentials["client_secret"] + "x"}
    r = http.post(f"{server.url}/oauth/token", data={"grant_type": "client_credentials", **wrong}, timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = http.post(f"{server.url}/oauth/token", data={"grant_type": "password", **credentials}, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    # HTTP Basic client authentication works as well as form fields.
    r = http.post(f"{server.url}/oauth/token", data={"grant_type": "client_credentials"},
                  auth=(credentials["client_id"], credentials["client_secret"]), timeout=5)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    token = r.json()["access_token"]
    assert token != get_token(http, server, credentials)  # random per issue
    assert events_page(http, server, token, limit=1).status_code == 200
    time.sleep(0.35)
    r = events_page(http, server, token, limit=1)
    assert r.status_code == 401 and r.json() == {"error": "invalid_token", "message": "token expired"}


def test_paging_returns_every_event_once_in_order(data, serve, http, credentials):
    server = serve(data[0], rate_limit_per_second=1000, burst=1000)
    token = get_token(http, server, credentials)
    expected = load_events(data[0])
    seen, pages = page_through(http, server, token, limit=37)
    assert pages == -(-len(expected) // 37)
    assert [e["event_id"] for e in seen] == [e["event_id"] for e in expected]
    assert seen == expected and [key(e) for e in seen] == sorted(key(e) for e in seen)
    body = events_page(http, server, token).json()  # default limit
    assert len(body["data"]) == 500 and body["has_more"]


def test_updated_since_is_inclusive_and_parameters_are_checked(data, serve, http, credentials):
    server = serve(data[0], rate_limit_per_second=1000, burst=1000)
    token = get_token(http, server, credentials)
    events = load_events(data[0])
    # A timestamp several events share, so inclusiveness and tie order both show.
    counts = Counter(e["updated_at"] for e in events[len(events) // 3:])
    pivot = max(counts, key=lambda u: (counts[u], u))
    pivot_time = datetime.fromisoformat(pivot)
    expected = [e for e in events if datetime.fromisoformat(e["updated_at"]) >= pivot_time]
    seen, _ = page_through(http, server, token, updated_since=pivot, limit=100)
    assert seen == expected and seen[0]["updated_at"] == pivot
    # The same instant in Chongqing time selects the same events.
    local = pivot_time.astimezone(CHONGQING).isoformat()
    assert page_through(http, server, token, updated_since=local, limit=1000)[0] == expected
    one_second_later = (pivot_time + timedelta(seconds=1)).isoformat()
    later, _ = page_through(http, server, token, updated_since=one_second_later, limit=1000)
    assert later == [e for e in expected if e["updated_at"] != pivot]
    for params, field in (({"updated_since": "2024-11-10T00:00:00"}, "updated_since"),
                          ({"updated_since": "yesterday"}, "updated_since"),
                          ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": "ten"}, "limit"),
                          ({"since": pivot}, "since")):
        r = events_page(http, server, token, **params)
        assert r.status_code == 400 and field in r.json()["message"], (params, r.text)


def test_cursor_stays_valid_when_events_are_appended(tmp_path, serve, http, credentials):
    write_days(tmp_path, DAYS[:1])
    server = serve(tmp_path, rate_limit_per_second=1000, burst=1000)
    token = get_token(http, server, credentials)
    first = events_page(http, server, token, limit=50).json()
    second = events_page(http, server, token, limit=50, cursor=first["next_cursor"]).json()
    served = first["data"] + second["data"]
    assert served == load_events(tmp_path)[:100]
    write_days(tmp_path, DAYS[1:])  # the next day's file lands while a client is mid-way
    assert http.get(f"{server.url}/v1/health", timeout=5).json()["events"] == len(load_events(tmp_path))
    rest, _ = page_through(http, server, token, limit=50, cursor=second["next_cursor"])
    everything = load_events(tmp_path)
    assert rest == [e for e in everything if key(e) > key(served[-1])]
    assert not {e["event_id"] for e in rest} & {e["event_id"] for e in served}

    def forged(state) -> str:
        return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")

    for cursor in ("garbage!", "e30", forged({"u": "not a time", "i": "x", "s": None}), forged([1, 2])):
        r = events_page(http, server, token, cursor=cursor)
        assert r.status_code == 400 and r.json() == {"error": "bad_request",
                                                     "message": "cursor: not a cursor this API issued"}
    r = events_page(http, server, token, cursor=second["next_cursor"], updated_since="2024-11-12T00:00:00Z")
    assert r.status_code == 400 and "different updated_since" in r.json()["message"]


def test_events_are_spooled_to_disk_and_paged_by_seek(tmp_path, serve, http, credentials, monkeypatch, caplog):
    """The server keeps a sparse index, not the events: pages start at any key, from files in
    order and out of order, and a file that is not events leaves the last good spool served."""
    from parkdw.sandbox import api

    monkeypatch.setattr(api, "INDEX_EVERY", 5)  # many index entries: every page starts mid-block
    write_days(tmp_path, DAYS, count=30)
    folder = tmp_path / TRACKING_DIR
    first = folder / f"{DAYS[0].isoformat()}.jsonl"
    lines = first.read_text().splitlines()
    first.write_text("\n".join(reversed(lines)) + "\n")  # a partner's file out of order
    expected = sorted(load_events(tmp_path), key=key)
    server = serve(tmp_path, rate_limit_per_second=1000, burst=1000)
    token = get_token(http, server, credentials)
    for limit in (1, 7, 1000):
        served, pages = page_through(http, server, token, limit=limit)
        assert served == expected and pages == -(-len(expected) // limit)
    instants = sorted({e["updated_at"] for e in expected})
    for pivot in instants[::11]:
        served, _ = page_through(http, server, token, updated_since=pivot, limit=9)
        assert served == [e for e in expected if e["updated_at"] >= pivot]
    assert server._spool.count == len(expected) and len(server._spool.index) == -(-len(expected) // 5)
    assert server._spool.path.stat().st_size > sum(len(line) for line in lines)

    (folder / "9999-12-31.jsonl").write_text('{"event_id": "x"}\n')  # no updated_at
    with caplog.at_level(logging.WARNING, logger="parkdw.sandbox.api"):
        served, _ = page_through(http, server, token, limit=1000)
    assert served == expected
    assert "9999-12-31.jsonl: line 1: event 'x': bad updated_at or event_id" in caplog.text
    spool = server._spool.path
    server.stop()
    assert not spool.exists() and not spool.parent.exists()


def test_rate_limit_answers_429_with_retry_after(data, serve, http, credentials):
    server = serve(data[0], rate_limit_per_second=0.5, burst=3)
    token = get_token(http, server, credentials)
    statuses = [events_page(http, server, token, limit=1) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    limited = statuses[-1]
    assert int(limited.headers["Retry-After"]) >= 1 and limited.json()["error"] == "rate_limited"
    assert events_page(http, server, get_token(http, server, credentials), limit=1).status_code == 200  # per token


CLIENT_READ_TIMEOUT = 0.3  # the server holds a "timeout" fault for 0.6 s


def outcomes(server, token, count: int) -> list[str]:
    """What a client sees for `count` requests: ok, or the fault kind it recognises."""
    seen = []
    with requests.Session() as http:
        for _ in range(count):
            try:
                r = events_page(http, server, token, timeout=(2, CLIENT_READ_TIMEOUT), limit=20)
            except requests.exceptions.ReadTimeout:
                seen.append("timeout")
                continue
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError):
                seen.append("truncated_body")
                continue
            if r.status_code != 200:
                assert r.json()["error"]
                if r.status_code in (429, 503):
                    assert int(r.headers["Retry-After"]) >= 1
                seen.append(f"http_{r.status_code}")
                continue
            try:
                assert len(r.json()["data"]) == 20
                seen.append("ok")
            except ValueError:
                seen.append("truncated_json")
    return seen


def test_faults_are_seeded_mixed_and_counted(data, serve, http, credentials):
    options = dict(rate_limit_per_second=10_000, burst=10_000, fault_rate=0.3, timeout_seconds=0.6)
    server = serve(data[0], fault_seed=11, **options)
    first = outcomes(server, get_token(http, server, credentials), 200)
    faults = Counter(o for o in first if o != "ok")
    assert 35 <= sum(faults.values()) <= 85
    assert set(faults) == set(FAULT_KINDS)
    assert faults == server.fault_counts  # the client saw exactly what the server injected
    assert server.request_counts["/v1/tracking-events"] == 200

    again = serve(data[0], fault_seed=11, **options)
    assert outcomes(again, get_token(http, again, credentials), 200) == first
    other = serve(data[0], fault_seed=12, **options)
    assert outcomes(other, get_token(http, other, credentials), 40) != first[:40]


# --- the command ------------------------------------------------------------------------------

def test_serve_command_runs_until_sigterm(data, credentials):
    env = {**os.environ, "PARKDW_SANDBOX_CLIENT_ID": credentials["client_id"],
           "PARKDW_SANDBOX_CLIENT_SECRET": credentials["client_secret"]}
    proc = subprocess.Popen([sys.executable, "-m", "parkdw.sandbox.api", "--data", str(data[0]), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("tracking API at http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[3]
        r = requests.post(f"{url}/oauth/token", data={"grant_type": "client_credentials", **credentials}, timeout=5)
        assert r.status_code == 200
        r = requests.get(f"{url}/v1/tracking-events", params={"limit": 3},
                         headers={"Authorization": f"Bearer {r.json()['access_token']}"}, timeout=5)
        assert r.status_code == 200 and len(r.json()["data"]) == 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        log = proc.stderr.read()
        assert '"GET /v1/tracking-events?limit=3" 200' in log and "tracking API stopped" in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
