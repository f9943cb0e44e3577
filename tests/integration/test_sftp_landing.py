"""Customs files read from a real SFTP server on loopback, through Airflow's SFTP provider and
the same loader as the local landing folder."""

from datetime import datetime, timezone

import pytest

from parkdw import cli, pipeline, warehouse
from parkdw.ingest.loader import ingest_partner
from parkdw.settings import reset_settings
from sftp_server import SftpServer

CLEAN_RAW = "select table_name from information_schema.tables where table_schema = 'raw' order by 1"


@pytest.fixture()
def sftp(landing, monkeypatch):
    """The sandbox's landing folder (defects included) served over SFTP; the Airflow connection
    customs_sftp points at it."""
    _cfg, out = landing
    server = SftpServer(out).start()
    monkeypatch.setenv("AIRFLOW_CONN_CUSTOMS_SFTP", server.airflow_connection())
    reset_settings()
    yield server, f"sftp://127.0.0.1:{server.port}/"
    server.stop()
    reset_settings()


def reset(conn) -> None:
    conn.commit()
    conn.autocommit = True
    for schema in ("raw", "audit"):
        conn.execute(f"drop schema if exists {schema} cascade")
    conn.autocommit = False
    warehouse.ensure_schemas(conn)


def snapshot(conn, local_root: str, sftp_base: str) -> dict:
    """Everything a load left, with sources written relative to their landing root."""
    def rel(source: str) -> str:
        return source.removeprefix(local_root).removeprefix(sftp_base).lstrip("/")

    tables = {}
    for (table,) in conn.execute(CLEAN_RAW).fetchall():
        rows = conn.execute(f"select b.source, b.source_sha256, r._record_no, count(*) from raw.{table} r "
                            "join audit.load_batch b on b.batch_id = r._batch_id group by 1, 2, 3").fetchall()
        tables[table] = sorted((rel(s), sha, n, c) for s, sha, n, c in rows)
    batches = sorted((rel(s), sha, status, r, l, q) for s, sha, status, r, l, q in conn.execute(
        "select source, source_sha256, status, records_received, records_loaded, records_quarantined "
        "from audit.load_batch").fetchall())
    quarantine = sorted((rel(s), n, k, f, rule, reason.replace(s, rel(s)), raw_text, raw_bytes)
                        for s, n, k, f, rule, reason, raw_text, raw_bytes in conn.execute(
        "select source, record_no, record_key, field, rule, reason, raw_text, raw_bytes from audit.quarantine"))
    return {"tables": tables, "batches": batches, "quarantine": quarantine}


def test_sftp_landing_loads_exactly_what_the_local_folder_loads(conn, landing, sftp):
    _cfg, out = landing
    server, url = sftp
    local = ingest_partner(conn, "customs", out)
    conn.commit()
    expected = snapshot(conn, str(out), url)
    reset(conn)

    remote = ingest_partner(conn, "customs", url)
    conn.commit()
    base = f"sftp://127.0.0.1:{server.port}"
    got = snapshot(conn, str(out), base)
    assert remote.as_dict() == local.as_dict() and remote.count("quarantined") > 0
    assert got == expected  # same rows, checksums, record numbers, audit counts and quarantine
    # Lineage names the SFTP address of each file; file-level quarantines keep the downloaded bytes.
    sources = {r[0] for r in conn.execute("select source from audit.load_batch")}
    assert sources and all(s.startswith(f"{base}/customs/20") and s.endswith(".xml") for s in sources)
    files = conn.execute("select source, raw_bytes from audit.quarantine where record_no is null").fetchall()
    assert files and all(bytes(b) == (out / s.removeprefix(base + "/")).read_bytes() for s, b in files)

    again = ingest_partner(conn, "customs", url)
    conn.commit()
    assert again.skipped == len(again.batches) == len(remote.batches) and again.count("loaded") == 0
    # The same content from the local folder is the same file: skipped too.
    assert ingest_partner(conn, "customs", out).skipped == len(remote.batches)
    conn.commit()
    assert snapshot(conn, str(out), base)["tables"] == expected["tables"]


def test_cli_and_dag_task_read_an_sftp_landing(conn, landing, sftp, monkeypatch, capsys):
    cfg, _out = landing
    _server, url = sftp
    assert cli.main(["ingest", "customs", "--source", url, "--interval", "2024-11-11", "2024-11-12"]) == 0
    line = capsys.readouterr().out
    conn.rollback()
    day_files = conn.execute("select count(*) from audit.load_batch where status = 'loaded'").fetchone()[0]
    assert day_files > 0 and f"files={day_files} " in line and "skipped_files=0" in line
    assert conn.execute("select count(*) from audit.load_batch where source not like %s",
                        (url + "customs/2024-11-11/%",)).fetchone()[0] == 0
    # The DAG task reads PARKDW_CUSTOMS_LANDING; the day already loaded is skipped, the other loads.
    monkeypatch.setenv("PARKDW_CUSTOMS_LANDING", url)
    reset_settings()
    start = datetime(2024, 11, 10, tzinfo=timezone.utc)
    result = pipeline.ingest("customs", start, datetime(2024, 11, 12, tzinfo=timezone.utc))
    assert result["skipped_files"] == day_files and result["files"] > day_files


def test_sftp_url_credentials_are_refused_and_a_missing_connection_is_named(conn, monkeypatch):
    with pytest.raises(ValueError, match="credentials belong in the Airflow connection 'customs_sftp'"):
        ingest_partner(conn, "customs", "sftp://user:secret@127.0.0.1:1/")
    monkeypatch.delenv("AIRFLOW_CONN_PAYMENTS_SFTP", raising=False)
    with pytest.raises(RuntimeError, match="AIRFLOW_CONN_PAYMENTS_SFTP"):
        ingest_partner(conn, "payments", "sftp://127.0.0.1:1/")
