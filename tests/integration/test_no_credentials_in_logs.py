"""No credential is ever printed: an ingest from files, an ingest from the tracking API and dbt
calls, run as the operator would (`parkdw -v ...`, dbt at debug level), with distinctive
passwords in the warehouse URL and the role settings and a distinctive API client secret. Their
output, dbt's log file and the API's bearer tokens are checked."""

import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from parkdw.sandbox.api import TrackingApiServer
from parkdw.settings import ApiCredentials, WarehouseParams, get_settings

PARKDW = str(Path(sys.executable).with_name("parkdw"))


def _secret(label: str) -> str:
    # Characters that need URL-encoding, so an encoded copy would be caught too.
    return f"{label}-{secrets.token_hex(6)}/+!"


@pytest.fixture(scope="module")
def logged(landing, wh):
    cfg, out = landing
    passwords = {"warehouse": _secret("wh"), "loader": _secret("ld"), "transform": _secret("tr")}
    client_id, client_secret = "parkdw-logcheck", _secret("api")
    dbt_log = get_settings().dbt_log_dir / "dbt.log"
    dbt_log_start = dbt_log.stat().st_size if dbt_log.exists() else 0
    with TrackingApiServer(out, port=0, client_id=client_id, client_secret=client_secret,
                           rate_limit_per_second=500, burst=500) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_WAREHOUSE")}
        # The local server trusts loopback logins: any password connects, so these are real URLs.
        env.update({
            "WAREHOUSE_URL": WarehouseParams(wh.host, wh.port, wh.user, passwords["warehouse"], wh.dbname).conninfo,
            "PARKDW_LOADER_PASSWORD": passwords["loader"], "PARKDW_TRANSFORM_PASSWORD": passwords["transform"],
            "AIRFLOW_CONN_TRACKING_API": ApiCredentials(server.url, client_id, client_secret).airflow_uri(),
        })
        start, end = cfg.start.isoformat(), (cfg.end + timedelta(days=1)).isoformat()
        commands = [
            [PARKDW, "-v", "ingest", "reference", "--source", str(out)],
            [PARKDW, "-v", "ingest", "logistics", "--interval", start, end],
            [PARKDW, "-v", "dbt", "debug"],
            [PARKDW, "-v", "dbt", "run", "--debug", "--select", "stg_reference__fx_rates"],
        ]
        runs = [subprocess.run(c, env=env, capture_output=True, text=True, timeout=300) for c in commands]
        tokens = list(server._tokens)  # the bearer tokens the server issued during the runs
    dbt_text = dbt_log.read_text(errors="replace")[dbt_log_start:] if dbt_log.exists() else ""
    return {"runs": runs, "dbt_log": dbt_text, "secrets": [*passwords.values(), client_secret], "tokens": tokens}


def test_the_commands_ran(logged):
    for run in logged["runs"]:
        assert run.returncode == 0, (run.args, run.stdout[-2000:], run.stderr[-2000:])
    ingest_files, ingest_api, debug, dbt_run = logged["runs"]
    assert "loaded=" in ingest_files.stdout and "loaded=" in ingest_api.stdout
    assert "All checks passed" in debug.stdout
    assert "parkdw_transform" in debug.stdout  # dbt logged in as the transform role
    assert logged["tokens"], "the API issued no token"
    assert "stg_reference__fx_rates" in logged["dbt_log"]


def test_no_password_token_or_secret_is_printed_or_logged(logged):
    texts = {f"{' '.join(r.args[1:4])} ({stream})": getattr(r, stream)
             for r in logged["runs"] for stream in ("stdout", "stderr")}
    texts["dbt_project/logs/dbt.log"] = logged["dbt_log"]
    assert sum(map(len, texts.values())) > 5_000  # INFO and dbt debug logs: there was plenty to look at
    for value in logged["secrets"] + logged["tokens"]:
        forms = {value, quote(value, safe=""), quote(value)}
        for name, text in texts.items():
            assert not [f for f in forms if f in text], f"a credential appears in {name}"
