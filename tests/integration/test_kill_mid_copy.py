"""A loader process SIGKILLed while its COPY is running leaves no partial batch; a rerun completes."""

import csv
import os
import signal
import subprocess
import sys

from parkdw.ingest.feeds import SETTLEMENTS

BIG_ROWS = 400_000  # enough that the COPY is still running when it is caught


def write_settlements(path, rows: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(SETTLEMENTS.columns)
        for i in range(rows):
            out.writerow((f"R{path.stem}{i}", "2024-11-11", "payment", f"PAY{i}", "", f"ORD{i}", "500166000A",
                          "5001660001", "2024-11-11T10:00:00+08:00", "USD", "10.00", "0.06", "9.94", "7.1234",
                          "central_parity", "CNY", "70.81"))


def counts(conn) -> tuple:
    conn.rollback()
    return conn.execute("""select (select count(*) from raw.payment_settlement),
                                  (select count(*) from audit.load_batch),
                                  (select count(*) from audit.quarantine),
                                  (select count(*) from audit.load_batch where status = 'running')""").fetchone()


def ingest(root) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "parkdw.cli", "ingest", "payments", "--source", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_copy_leaves_no_partial_batch_and_a_rerun_completes(conn, tmp_path, wait_for):
    day = tmp_path / "payments" / "2024-11-11"
    day.mkdir(parents=True)
    write_settlements(day / "settlement_a_small.csv", 50)  # committed before the big file starts
    write_settlements(day / "settlement_b_big.csv", BIG_ROWS)
    conn.commit()

    proc = ingest(tmp_path)
    wait_for(conn, "select 1 from audit.load_batch where status = 'loaded'", (), "the small file's commit", proc)
    # Now the big file's COPY is running (rows already sent in it) in the loader's backend.
    pid, copied = wait_for(conn, """
        select a.pid, p.tuples_processed from pg_stat_progress_copy p join pg_stat_activity a using (pid)
        where a.datname = current_database() and a.application_name = 'parkdw' and p.command = 'COPY FROM'
          and p.tuples_processed > 0""", (), "the big file's COPY", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and copied > 0
    wait_for(conn, "select 1 where not exists (select from pg_stat_activity where pid = %s)", (pid,),
             "the killed loader's backend to end")

    # Only the small file's committed batch is visible: no rows, audit row or quarantine of the big one.
    assert counts(conn) == (50, 1, 0, 0)
    assert conn.execute("select source from audit.load_batch").fetchone()[0] == str(day / "settlement_a_small.csv")

    rerun = ingest(tmp_path)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    assert "files=2 received=400000 loaded=400000 quarantined=0 skipped_files=1" in out
    assert counts(conn) == (50 + BIG_ROWS, 3, 0, 0)
    assert conn.execute("select count(distinct record_id), count(distinct _batch_id) from raw.payment_settlement"
                        ).fetchone() == (50 + BIG_ROWS, 2)
