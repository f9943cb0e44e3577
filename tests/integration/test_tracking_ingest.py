"""The tracking API ingest against the sandbox's real HTTP server on loopback."""

import random
import threading
import secrets
from datetime import datetime, timezone

import pytest

from parkdw.ingest.tracking import ingest_tracking, read_watermark, record_attempts
from parkdw.ingest.tracking_client import TrackingApiError, TrackingClient
from parkdw.ingest.feeds import TRACKING
from parkdw.sandbox.api import FAULT_KINDS, TrackingApiServer
from parkdw.sandbox.tracking import load_events
from parkdw import warehouse

CLIENT = {"client_id": "test-client", "client_secret": secrets.token_urlsafe(16)}


@pytest.fixture()
def server_factory(clean_landing):
    _cfg, out = clean_landing
    servers = []

    def start(**kwargs):
        server = TrackingApiServer(out, port=0, rate_limit_per_second=500, burst=1000, **CLIENT, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def client_for(server, wh, **kwargs):
    return TrackingClient(server.url, CLIENT["client_id"], CLIENT["client_secret"], rng=random.Random(1),
                          observer=record_attempts(lambda: warehouse.connect(warehouse=wh)), **kwargs)


def loaded_ids(conn) -> list[str]:
    return [r[0] for r in conn.execute("select event_id from raw.tracking_event order by event_id")]


def test_all_events_land_once_and_a_second_run_adds_nothing(conn, wh, server_factory, clean_landing):
    _cfg, out = clean_landing
    truth = load_events(out)
    server = server_factory()
    first = ingest_tracking(conn, client_for(server, wh), page_size=200)
    conn.commit()
    assert loaded_ids(conn) == sorted(e["event_id"] for e in truth) and len(truth) > 1000
    assert first.count("quarantined") == 0 and len(first.batches) == -(-len(truth) // 200)
    second = ingest_tracking(conn, client_for(server, wh), page_size=200)
    conn.commit()
    assert second.count("loaded") == 0 and len(loaded_ids(conn)) == len(truth)
    sources = conn.execute("select count(distinct b.source), bool_and(b.source like %s) from raw.tracking_event t "
                           "join audit.load_batch b on b.batch_id = t._batch_id",
                           (f"{server.url}/v1/tracking-events?%",)).fetchone()
    assert sources == (len(first.batches), True)  # lineage: each row's batch names its API request


def test_interval_runs_read_up_to_their_end_and_together_equal_one_run(conn, wh, server_factory, clean_landing):
    _cfg, out = clean_landing
    truth = load_events(out)
    server = server_factory()
    cut = datetime(2024, 11, 12, tzinfo=timezone.utc)
    ingest_tracking(conn, client_for(server, wh), until=cut, page_size=300)
    conn.commit()
    before_cut = sorted(e["event_id"] for e in truth if e["updated_at"] < "2024-11-12")
    assert loaded_ids(conn) == before_cut
    assert read_watermark(conn)["last_key"][0] < "2024-11-12"
    ingest_tracking(conn, client_for(server, wh), page_size=300)
    conn.commit()
    assert loaded_ids(conn) == sorted(e["event_id"] for e in truth)


def test_faults_are_retried_within_budget_and_no_event_is_lost(conn, wh, server_factory, clean_landing):
    _cfg, out = clean_landing
    truth = load_events(out)
    server = server_factory(fault_rate=0.2, fault_seed=3, timeout_seconds=1.0)
    client = client_for(server, wh, timeout=0.4, backoff_base=0.01, backoff_cap=0.05, budget_seconds=60)
    ingest_tracking(conn, client, page_size=40)  # returns (no TrackingApiError): within the budget
    conn.commit()
    assert loaded_ids(conn) == sorted(e["event_id"] for e in truth)
    # No row lost or altered: every event's every field as the sandbox's ground truth has it.
    columns = ", ".join(TRACKING.columns)
    loaded = set(conn.execute(f"select {columns} from raw.tracking_event").fetchall())
    assert loaded == {tuple(e.get(c) for c in TRACKING.columns) for e in truth}
    assert set(server.fault_counts) == set(FAULT_KINDS)  # every kind of fault was served
    outcomes = dict(conn.execute("select outcome, count(*) from audit.api_request group by 1").fetchall())
    assert {"retry_5xx", "retry_429", "retry_timeout", "ok"} <= set(outcomes)
    assert outcomes.get("retry_truncated", 0) + outcomes.get("retry_connection", 0) > 0
    assert sum(server.fault_counts.values()) == sum(v for k, v in outcomes.items() if k != "ok")
    assert 0.1 < sum(server.fault_counts.values()) / sum(outcomes.values()) < 0.3  # about one request in five
    # A 429 is retried after the server's Retry-After (1 s), not the short backoff.
    assert conn.execute("select min(waited_seconds) from audit.api_request where outcome = 'retry_429'"
                        ).fetchone()[0] >= 1


def test_an_interrupted_run_resumes_from_the_last_committed_page(conn, wh, server_factory, clean_landing):
    _cfg, out = clean_landing
    truth = load_events(out)
    server = server_factory()
    calls = {"n": 0}

    class Dies(TrackingClient):
        def fetch_page(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 4:
                raise TrackingApiError("simulated crash after three pages")
            return super().fetch_page(*args, **kwargs)

    dying = Dies(server.url, CLIENT["client_id"], CLIENT["client_secret"])
    with pytest.raises(TrackingApiError):
        ingest_tracking(conn, dying, page_size=100)
    conn.rollback()
    assert len(loaded_ids(conn)) == 300 and read_watermark(conn)["cursor"]  # three pages committed
    ingest_tracking(conn, client_for(server, wh), page_size=100)
    conn.commit()
    ids = loaded_ids(conn)
    assert ids == sorted(e["event_id"] for e in truth) and len(ids) == len(set(ids))


def test_the_budget_bounds_a_run_against_a_dead_api(wh):
    client = TrackingClient("http://127.0.0.1:9", "x", "y", timeout=0.2, budget_seconds=0.5,
                            backoff_base=0.05, backoff_cap=0.1)
    started = datetime.now()
    with pytest.raises(TrackingApiError, match="connection|refused"):
        client.fetch_page("2024-01-01T00:00:00Z")
    assert (datetime.now() - started).total_seconds() < 5


def test_cli_ingest_logistics_reads_the_api_up_to_the_interval_end_once(conn, server_factory, clean_landing,
                                                                        monkeypatch, capsys):
    from parkdw import cli
    from parkdw.settings import reset_settings

    _cfg, out = clean_landing
    server = server_factory()
    # The connection's own host is dead: --source gives the API's address, the connection the credentials.
    monkeypatch.setenv("AIRFLOW_CONN_TRACKING_API",
                       f"http://{CLIENT['client_id']}:{CLIENT['client_secret']}@127.0.0.1:9")
    reset_settings()
    argv = ["ingest", "logistics", "--source", server.url, "--interval", "2024-11-10", "2024-11-12"]
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    conn.rollback()
    expected = sorted(e["event_id"] for e in load_events(out) if e["updated_at"] < "2024-11-12")
    assert loaded_ids(conn) == expected
    assert f"received={len(expected)} loaded={len(expected)} quarantined=0" in first
    assert cli.main(argv) == 0
    assert "received=0 loaded=0" in capsys.readouterr().out
    conn.rollback()
    assert len(loaded_ids(conn)) == len(expected)
    reset_settings()


def test_the_next_page_is_requested_while_the_caller_holds_one_and_abandoned_on_stop(server_factory):
    server = server_factory()
    attempts = []
    client = TrackingClient(server.url, CLIENT["client_id"], CLIENT["client_secret"], observer=attempts.append)
    pages = client.pages("2022-09-23T00:00:00Z", limit=100)
    first = next(pages)
    deadline = datetime.now().timestamp() + 10
    while len(attempts) < 2 and datetime.now().timestamp() < deadline:
        threading.Event().wait(0.01)
    # The second page was fetched while the caller still held the first, with the first's cursor.
    assert [a.outcome for a in attempts] == ["ok", "ok"] and first.next_cursor in attempts[1].url
    second = next(pages)
    assert second.events[0]["event_id"] != first.events[0]["event_id"]
    pages.close()  # the caller stops: the page asked for ahead is dropped, its thread ends
    assert not [t for t in threading.enumerate() if t.name.startswith("tracking-api-next-page")]
    assert len(attempts) == 3
