"""The payments and logistics dbt models built from the sandbox's feeds: the settlement fact
reconciles with the settlement files, the parcel milestones with the carrier's events, and
incremental runs agree with a full refresh."""

import csv
import json
import random
import secrets
import shutil
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from parkdw.ingest.loader import ingest_partner
from parkdw.ingest.tracking import ingest_tracking
from parkdw.ingest.tracking_client import TrackingClient
from parkdw.sandbox.api import TrackingApiServer
from parkdw.sandbox.generate import DefectRates, SimulationConfig, simulate
from parkdw.sandbox.tracking import TRACKING_DIR, load_events
from parkdw.settings import get_settings
from parkdw.transform import run_dbt

# Cautious: the relationship tests of the customs facts (not built here) stay out.
BUILD = ["build", "--select", "+fct_payment_settlements", "+int_parcel_tracking_milestones", "dim_date",
         "dim_currency", "--indirect-selection", "cautious"]
CLIENT = {"client_id": "dbt-test", "client_secret": secrets.token_urlsafe(16)}
FACT = "marts.fct_payment_settlements"


@pytest.fixture(scope="module")
def reuse_landing(tmp_path_factory):
    """Two days in May and the two days 183 days later, when logistics numbers of May come back."""
    out = tmp_path_factory.mktemp("dbt_payments_logistics")
    defects = replace(DefectRates.none(), logistics_no_reuse=0.02)
    for start, end in ((date(2024, 5, 11), date(2024, 5, 12)), (date(2024, 11, 10), date(2024, 11, 11))):
        simulate(SimulationConfig(start, end, seed=7, scale=0.005, defects=defects), out)
    return out


def settlement_rows(out: Path) -> list[dict]:
    rows = []
    for path in sorted((out / "payments").rglob("settlement_*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            rows += [{**r, "file": path.name, "institution": path.name.split("_")[1]} for r in csv.DictReader(f)]
    return rows


def contents(conn, relation: str, key: str) -> list[tuple]:
    rows = conn.execute(f"select * from {relation} order by {key}").fetchall()
    conn.commit()  # an open transaction's lock on the table would block dbt's full refresh
    return rows


def fact_contents(conn) -> list[tuple]:
    return contents(conn, FACT, "record_id")


def staged_settlements(conn) -> list[tuple]:
    return contents(conn, "staging.stg_payments__settlements", "record_id")


def staged_events(conn) -> list[tuple]:
    return contents(conn, "staging.stg_logistics__tracking_events", "tracking_event_key")


def test_settlement_fact_reconciles_with_the_files_and_incremental_equals_full_refresh(conn, reuse_landing):
    out = reuse_landing
    cut = datetime(2024, 11, 14)  # later folders hold FX adjustments of payments settled before
    ingest_partner(conn, "payments", out, interval=(datetime(2024, 1, 1), cut))
    run_dbt(BUILD)
    first_run = {r[0] for r in conn.execute(f"select record_id from {FACT}")}
    conn.commit()
    ingest_partner(conn, "payments", out)
    run_dbt(BUILD)
    incremental = fact_contents(conn)
    incremental_staged = staged_settlements(conn)

    rows = settlement_rows(out)
    by_id = {r["record_id"]: r for r in rows}
    assert len(by_id) == len(rows) == len(incremental)
    late_revisions = [r for r in rows if r["transaction_type"] == "FX_ADJUSTMENT" and r["record_id"] not in first_run
                      and any(p["pay_no"] == r["original_pay_no"] and p["record_id"] in first_run for p in rows)]
    assert late_revisions, "the scenario needs FX adjustments arriving after their payment was built"

    run_dbt(BUILD)
    assert fact_contents(conn) == incremental  # no new data: nothing changes
    run_dbt([*BUILD, "--full-refresh"])
    assert fact_contents(conn) == incremental
    assert staged_settlements(conn) == incremental_staged

    totals = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0), 0])
    for r in rows:
        t = totals[r["currency"]]
        t[0] += Decimal(r["gross_amount"])
        t[1] += Decimal(r["net_amount"])
        t[2] += Decimal(r["settlement_amount_cny"])
        t[3] += 1
    got = conn.execute(f"""select currency_iso, sum(gross_amount), sum(net_amount), sum(amount_cny), count(*)
                           from {FACT} group by 1""").fetchall()
    assert {c: [gross, net, cny, n] for c, gross, net, cny, n in got} == dict(totals)
    assert conn.execute(f"select sum(amount_cny_final) from {FACT}").fetchone()[0] == sum(t[2] for t in totals.values())

    kinds = Counter(r["transaction_type"] for r in rows)
    flags = conn.execute(f"""select count(*) filter (where is_refund), count(*) filter (where is_dispute),
                                    count(*) filter (where is_dispute_reversal), count(*) filter (where is_fx_adjustment)
                             from {FACT}""").fetchone()
    assert flags == (kinds["REFUND"], kinds["DISPUTE"], kinds["DISPUTE_REVERSAL"], kinds["FX_ADJUSTMENT"])
    assert kinds["REFUND"] > 0 and kinds["FX_ADJUSTMENT"] > 0

    # A payment's CNY at the final rate: its own amount plus its institution's adjustments of it.
    final = {r["record_id"]: Decimal(r["settlement_amount_cny"]) for r in rows if r["transaction_type"] == "PAYMENT"}
    payment_of = {(r["institution"], r["pay_no"]): r["record_id"] for r in rows if r["transaction_type"] == "PAYMENT"}
    for r in rows:
        if r["transaction_type"] == "FX_ADJUSTMENT":
            final[payment_of[r["institution"], r["original_pay_no"]]] += Decimal(r["settlement_amount_cny"])
    got_final = dict(conn.execute(f"select record_id, amount_cny_final from {FACT} where transaction_type = 'PAYMENT'"))
    assert got_final == final

    # Keys: the customs currency code and the settlement day; lineage: the batch of the record's file.
    keys = conn.execute(f"""select f.record_id, f.currency_key, f.settlement_date_key, b.source
                            from {FACT} f join audit.load_batch b on b.batch_id = f._batch_id""").fetchall()
    customs_code = {"CNY": "142", "USD": "502", "SGD": "132"}
    assert len(keys) == len(rows)
    for record_id, currency_key, date_key, source in keys:
        r = by_id[record_id]
        assert currency_key == customs_code[r["currency"]]
        assert date_key == int(r["settlement_date"].replace("-", ""))
        assert Path(source).name == r["file"]


def test_an_adjustment_moved_to_another_payment_revises_both(conn, reuse_landing, age_all_loads, tmp_path):
    """A settlement file sent again with an FX adjustment now naming another payment: the payment it
    named before loses the adjustment, the one it names now gains it, though neither payment's own
    record was loaded again (an incremental run equals a full refresh)."""
    may = (datetime(2024, 5, 1), datetime(2024, 6, 1))
    ingest_partner(conn, "payments", reuse_landing, interval=may)
    run_dbt(BUILD)
    age_all_loads(conn, 30)
    ingest_partner(conn, "payments", reuse_landing)  # November: the May groups fall out of the lookback
    run_dbt(BUILD)

    rows = [r for r in settlement_rows(reuse_landing) if r["file"].split("_")[2].startswith("202405")]
    payments = {(r["institution"], r["pay_no"]): r for r in rows if r["transaction_type"] == "PAYMENT"}
    moved = next(r for r in rows if r["transaction_type"] == "FX_ADJUSTMENT")
    before = payments[moved["institution"], moved["original_pay_no"]]
    after = next(p for (institution, _), p in payments.items()
                 if institution == moved["institution"] and p is not before)
    fix_file = tmp_path / "payments" / "2024-12-01" / moved["file"]
    fix_file.parent.mkdir(parents=True)
    with open(fix_file, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, [k for k in moved if k not in ("file", "institution")], extrasaction="ignore")
        writer.writeheader()
        writer.writerow({**moved, "original_pay_no": after["pay_no"], "order_no": after["order_no"]})
    summary = ingest_partner(conn, "payments", tmp_path)
    assert (summary.batches[0].loaded, summary.batches[0].quarantined) == (1, 0)
    run_dbt(BUILD)
    incremental = fact_contents(conn)

    adjustment = Decimal(moved["settlement_amount_cny"])
    others = defaultdict(Decimal)  # the adjustments that still name each payment
    for r in rows:
        if r["transaction_type"] == "FX_ADJUSTMENT" and r is not moved:
            others[r["institution"], r["original_pay_no"]] += Decimal(r["settlement_amount_cny"])
    final = dict(conn.execute(f"select pay_no, amount_cny_final from {FACT} where transaction_type = 'PAYMENT' "
                              "and pay_no = any(%s)", ([before["pay_no"], after["pay_no"]],)).fetchall())
    conn.commit()  # the full refresh below replaces the table: no open transaction may hold it
    assert final == {
        before["pay_no"]: Decimal(before["settlement_amount_cny"]) + others[moved["institution"], before["pay_no"]],
        after["pay_no"]: Decimal(after["settlement_amount_cny"]) + others[moved["institution"], after["pay_no"]]
        + adjustment,
    }
    run_dbt([*BUILD, "--full-refresh"])
    refreshed = fact_contents(conn)
    assert [r for r in refreshed if r not in incremental] == [r for r in incremental if r not in refreshed] == []
    assert refreshed == incremental


def milestones(conn) -> list[tuple]:
    return contents(conn, "staging.int_parcel_tracking_milestones", "parcel_journey_key")


def ingest_served(conn, data_dir: Path, page_size: int) -> None:
    """What the carrier's API serves from data_dir, ingested from the API's watermark on."""
    server = TrackingApiServer(data_dir, port=0, rate_limit_per_second=500, burst=1000, **CLIENT).start()
    try:
        client = TrackingClient(server.url, CLIENT["client_id"], CLIENT["client_secret"], rng=random.Random(1))
        ingest_tracking(conn, client, page_size=page_size)
        conn.commit()
    finally:
        server.stop()


def test_parcel_milestones_follow_the_events_and_keep_reused_numbers_apart(conn, reuse_landing, tmp_path,
                                                                          age_all_loads):
    out = reuse_landing
    # May's parcels day by day, a day apart; then the feed from the API's watermark on, November's
    # parcels. November reuses numbers of 11 May, which is beyond the lookback by then: the
    # incremental run must still number their second journeys after the first.
    for day in ("2024-05-11", "2024-05-12"):
        served = tmp_path / day
        (served / TRACKING_DIR).mkdir(parents=True)
        shutil.copy(out / TRACKING_DIR / f"{day}.jsonl", served / TRACKING_DIR)
        conn.execute("delete from audit.api_watermark")  # each day's feed from its start
        conn.commit()
        ingest_served(conn, served, page_size=400)  # other pages than below: a page loaded before is skipped
        run_dbt(BUILD)
        age_all_loads(conn, 1)
    may_journeys = len(milestones(conn))
    may_events = conn.execute("select count(*) from raw.tracking_event").fetchone()[0]
    conn.commit()
    server = TrackingApiServer(out, port=0, rate_limit_per_second=500, burst=1000, **CLIENT).start()
    try:
        client = TrackingClient(server.url, CLIENT["client_id"], CLIENT["client_secret"], rng=random.Random(1))
        ingest_tracking(conn, client, page_size=500)
        conn.commit()
        run_dbt(BUILD)
        november = milestones(conn)
        assert len(november) > may_journeys > 0
        run_dbt([*BUILD, "--full-refresh"])
        assert milestones(conn) == november
        before_reset = conn.execute("select count(*) from raw.tracking_event").fetchone()[0]
        # The carrier serves everything again (a reset watermark, other page bounds): re-delivered
        # events, which the incremental staging table merges over the versions it holds.
        conn.execute("delete from audit.api_watermark")
        conn.commit()
        ingest_tracking(conn, client, page_size=300)
        conn.commit()
    finally:
        server.stop()
    events = load_events(out)
    raw = conn.execute("select count(*) from raw.tracking_event").fetchone()[0]
    conn.commit()
    assert raw - before_reset == len(events) and 0 < may_events < len(events)

    # As an older release built it: every event row also named its API page (_source). The
    # incremental run drops that column and otherwise merges as usual (its on_schema_change is 'fail').
    conn.execute("alter table staging.stg_logistics__tracking_events add column _source text default 'page'")
    conn.commit()
    run_dbt(BUILD)
    assert not conn.execute("select 1 from information_schema.columns where table_schema = 'staging' "
                            "and table_name = 'stg_logistics__tracking_events' and column_name = '_source'").fetchall()
    incremental, incremental_journeys = staged_events(conn), milestones(conn)
    run_dbt([*BUILD, "--full-refresh"])
    assert staged_events(conn) == incremental
    assert milestones(conn) == incremental_journeys

    # Ground truth from the event files: one journey per logistics number and consignment.
    journeys = defaultdict(list)
    for e in events:
        if e["event_kind"] == "parcel":
            journeys[e["logistics_no"], e["consignment_no"]].append(e)
    got = {(r[0], r[1]): r[2:] for r in conn.execute(
        """select logistics_no, consignment_no, departed_at, delivered_at, journey_seq
           from staging.int_parcel_tracking_milestones""")}
    assert set(got) == set(journeys)
    assert conn.execute("select count(*) from staging.stg_logistics__tracking_events").fetchone()[0] == len(
        {(e["event_id"], e["consignment_no"]) for e in events})

    def first(evs, code):
        times = [datetime.fromisoformat(e["event_time"]) for e in evs if e["event_code"] == code]
        return min(times) if times else None

    # Two parcels under one number on the same day share the carrier's event ids: not comparable.
    distinct = {k: evs for k, evs in journeys.items() if sum(e["event_code"] == "EMA" for e in evs) == 1}
    assert len(distinct) > 0.95 * len(journeys)
    delivered = 0
    for key, evs in distinct.items():
        departed_at, delivered_at, _seq = got[key]
        assert departed_at == first(evs, "EMC")
        assert delivered_at == first(evs, "EMI")
        delivered += delivered_at is not None
    assert delivered > 1000

    # A number of May reused in November: two journeys, each with its own departure and delivery.
    reused = defaultdict(dict)
    for (logistics_no, consignment_no), (departed_at, delivered_at, seq) in got.items():
        reused[logistics_no][seq] = (consignment_no, departed_at, delivered_at)
    months_apart = [j for j in reused.values() if len(j) > 1 and j[2][1].month - j[1][1].month == 6]
    assert months_apart
    for j in months_apart:
        assert j[1][2] < j[2][1]  # the May parcel was delivered before the November one left


def test_a_late_consignment_departure_reaches_parcels_without_their_own_departure_scan(conn, reuse_landing,
                                                                                      tmp_path, age_all_loads):
    """A consignment's transport events carry no logistics number. When they arrive after its
    parcels' events, and the carrier never scanned those parcels out (no EMC), the parcels' departure
    is the consignment's: the incremental run must rebuild their shipment facts as a full refresh does."""
    out, day = reuse_landing, "2024-05-11"

    def load(partner: str, start: date, end: date) -> None:
        ingest_partner(conn, partner, out, (datetime(start.year, start.month, start.day),
                                            datetime(end.year, end.month, end.day)))
        conn.commit()

    # Consignment numbers are YX<route><yymmdd><port>.
    events = [e for e in load_events(out) if e["consignment_no"] and e["consignment_no"][4:10] == "240511"]
    by_consignment = Counter(e["consignment_no"] for e in events if e["event_kind"] == "parcel")
    late_consignment = by_consignment.most_common(1)[0][0]
    parcels = {e["logistics_no"] for e in events
               if e["consignment_no"] == late_consignment and e["event_kind"] == "parcel"}

    def late(e: dict) -> bool:  # the consignment's transport events
        return e["consignment_no"] == late_consignment and e["event_kind"] == "transport"

    departures = [datetime.fromisoformat(e["event_time"]) for e in events if late(e) and e["event_code"] == "DEPA"]
    never_scanned_out = {e["event_id"] for e in events if e["logistics_no"] in parcels and e["event_code"] == "EMC"}
    assert departures and never_scanned_out

    def serve(folder: str, selected: list[dict]) -> None:
        served = tmp_path / folder
        (served / TRACKING_DIR).mkdir(parents=True)
        lines = (json.dumps(e, sort_keys=True, separators=(",", ":")) for e in selected)
        (served / TRACKING_DIR / f"{day}.jsonl").write_text("".join(f"{line}\n" for line in lines))
        conn.execute("delete from audit.api_watermark")  # the served file from its start
        conn.commit()
        ingest_served(conn, served, page_size=500)

    # Every run re-reads what loaded within its lookback (3 hours) of the model's latest load, so
    # the loads are a day apart: the registry, 11 May's customs files and the parcels' events; a
    # day later 12 May's customs files (the build); a day later the consignment's events.
    load("reference", date(2024, 5, 4), date(2024, 5, 13))
    load("customs", date(2024, 5, 11), date(2024, 5, 12))
    serve("on_time", [e for e in events if not late(e) and e["event_id"] not in never_scanned_out])
    age_all_loads(conn, 1)
    load("customs", date(2024, 5, 12), date(2024, 5, 13))
    build = ["build", "--select", "+fct_parcel_shipments", "--indirect-selection", "cautious"]
    run_dbt(build)

    def departed() -> dict[str, datetime | None]:
        rows = conn.execute("select logistics_no, departed_at from marts.fct_parcel_shipments "
                            "where logistics_no = any(%s)", (sorted(parcels),)).fetchall()
        conn.commit()
        return dict(rows)

    before = departed()
    assert before and set(before.values()) == {None}  # released parcels of the consignment, no departure yet
    age_all_loads(conn, 1)
    serve("late", [e for e in events if late(e)])
    run_dbt(build)
    assert departed() == {logistics_no: min(departures) for logistics_no in before}
    incremental = contents(conn, "marts.fct_parcel_shipments", "inventory_guid")
    run_dbt([*build, "--full-refresh"])
    assert contents(conn, "marts.fct_parcel_shipments", "inventory_guid") == incremental

    # The events' key is unique because the table's unique index enforces it; its test checks the
    # index is there (reading the catalog, not 6.6 M rows on a month). Without it, the test fails.
    index = conn.execute("""select indexrelid::regclass::text from pg_index
                            where indrelid = 'staging.stg_logistics__tracking_events'::regclass
                              and indisunique""").fetchone()[0]
    conn.execute(f"drop index {index}")
    conn.execute("create index events_key_not_unique on staging.stg_logistics__tracking_events (tracking_event_key)")
    conn.commit()
    test = ["test", "--select", "stg_logistics__tracking_events,test_name:enforced_unique"]
    try:
        assert run_dbt(test, check=False).returncode != 0
        results = json.loads((get_settings().dbt_target_dir / "run_results.json").read_text())["results"]
        assert [(r["unique_id"].split(".")[2], r["status"], r["failures"]) for r in results] == [
            ("enforced_unique_stg_logistics__tracking_events_tracking_event_key", "fail", 1)]
    finally:
        conn.execute("drop index staging.events_key_not_unique")
        conn.execute(f"create unique index {index.split('.')[-1]} on staging.stg_logistics__tracking_events "
                     "(tracking_event_key)")
        conn.commit()
    assert run_dbt(test).returncode == 0
