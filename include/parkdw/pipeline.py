"""The work each DAG task does, as plain functions (tests call them without a scheduler).

DAG files in dags/ only wire these together; nothing here imports Airflow at module level.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

from psycopg import sql

from parkdw import warehouse
from parkdw.ingest.feeds import PARTNERS
from parkdw.ingest.loader import ingest_partner
from parkdw.settings import LOADER_ROLE, SCHEMA_MARTS, SCHEMA_RAW, TRANSFORM_ROLE, get_settings

log = logging.getLogger(__name__)

# Default arguments every DAG uses: an owner, retries with backoff, and a bounded run time.
DEFAULT_ARGS = {
    "owner": "parkdw-data-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
}
PARK_START = datetime(2022, 9, 23, tzinfo=timezone.utc)

# Asset URIs: one per raw table, the marts as a whole, and the validated / published states.
ASSET_PREFIX = "parkdw://warehouse"


def raw_asset_uri(table: str) -> str:
    return f"{ASSET_PREFIX}/{SCHEMA_RAW}/{table}"


def partner_raw_tables(partner: str) -> list[str]:
    """Raw tables a partner's ingest can update."""
    from parkdw.ceb import spec
    from parkdw.ingest.feeds import FEEDS

    if partner == "logistics":
        return ["tracking_event"]
    tables = []
    for feed_name in PARTNERS[partner]:
        feed, _ = FEEDS[feed_name]
        if feed_name == "customs":
            for kind in spec.MESSAGE_ENTITIES.values():
                tables += [t for t in (kind.head_table, kind.line_table) if t]
        else:
            tables.append(feed.table)
    return tables


MARTS_ASSET_URI = f"{ASSET_PREFIX}/{SCHEMA_MARTS}"
VALIDATED_ASSET_URI = f"{ASSET_PREFIX}/{SCHEMA_MARTS}/validated"
PUBLISHED_ASSET_URI = f"{ASSET_PREFIX}/{SCHEMA_MARTS}/published"


def ingest(partner: str, start: datetime | None, end: datetime | None, source: str | None = None,
           workers: int = 1) -> dict:
    """Load a partner's landing files for the data interval [start, end) into the raw layer.

    `source` overrides where from: a landing folder or sftp:// URL, or for logistics the API's base URL.
    `workers` > 1 loads that many day folders at once (a backfill; the API's cursor is one stream).
    """
    if partner == "logistics":  # an API, not files: read up to the interval's end from its watermark
        return ingest_logistics(start, end, source)
    interval = (start, end) if start and end else None
    warehouse.prepare()
    with warehouse.connect(role=LOADER_ROLE) as conn:
        warehouse.ensure_schemas(conn)
        summary = ingest_partner(conn, partner, source or get_settings().landing_location(partner), interval,
                                 workers, get_settings().warehouse_as(LOADER_ROLE))
        conn.commit()
        touched = {t for b in summary.batches for t in b.rows_by_table}
        conn.autocommit = True
        for table in sorted(touched):  # fresh statistics keep dbt's joins on good plans
            conn.execute(sql.SQL("analyze {}.{}").format(sql.Identifier(SCHEMA_RAW), sql.Identifier(table)))
    log.info("ingest %s %s..%s: %s", partner, start, end, summary.line())
    return summary.as_dict()


def ingest_logistics(start: datetime | None, end: datetime | None, base_url: str | None = None) -> dict:
    """Read the carriers' tracking API up to the interval's end (from the committed watermark)."""
    from parkdw.ingest.tracking import ingest_tracking, record_attempts
    from parkdw.ingest.tracking_client import TrackingClient

    api = get_settings().tracking_api()
    warehouse.prepare()
    with warehouse.connect(role=LOADER_ROLE) as conn:
        warehouse.ensure_schemas(conn)
        recorder = record_attempts(lambda: warehouse.connect(role=LOADER_ROLE))
        client = TrackingClient(base_url or api.base_url, api.client_id, api.client_secret, observer=recorder)
        try:
            summary = ingest_tracking(conn, client, until=end, interval=(start, end) if start and end else None)
        finally:
            client.close()
            recorder.close()
        conn.commit()
        conn.autocommit = True
        conn.execute(sql.SQL("analyze {}.tracking_event").format(sql.Identifier(SCHEMA_RAW)))
    log.info("ingest logistics ..%s: %s", end, summary.line())
    return summary.as_dict()


def validate(start: datetime | None = None, end: datetime | None = None, layer: str | None = None,
             run_key: str | None = None) -> dict:
    """Run the GX checkpoint of a layer (or every layer), record results, and raise naming every
    failed blocking check. Warnings are recorded and logged only."""
    from parkdw.quality.validate import enforce, run_validation

    summary = run_validation(layer, (start, end) if start and end else None, run_key=run_key)
    enforce(summary)
    return {"run_key": summary.run_key, "layer": layer or "all", "checks": len(summary.results),
            "warnings": len(summary.failed_warning)}


def require_validation_passed(conn) -> str:
    """The publish gate: raise unless the latest validation of every layer passed its blocking checks."""
    from parkdw.quality.validate import latest_validation_passed

    passed, detail = latest_validation_passed(conn)
    if not passed:
        raise RuntimeError(f"not publishing: the latest validation did not pass ({detail})")
    return detail


def validation_gate() -> str:
    """The validate DAG's last step: confirm the gate publishing will check, and say why."""
    with warehouse.connect(role=TRANSFORM_ROLE) as conn:
        detail = require_validation_passed(conn)
    log.info("validated: %s", detail)
    return detail


def refresh_grants() -> dict:
    """The BI login role: USAGE on marts, SELECT on its tables (and future ones), nothing else."""
    from parkdw.publishing import refresh_bi_grants

    with warehouse.connect(role=TRANSFORM_ROLE) as conn:
        require_validation_passed(conn)
        return refresh_bi_grants(conn, get_settings().bi_password)


def publish(out_dir: Path | None = None) -> dict:
    """Export every mart as CSV and Parquet with a manifest, only after validation passed."""
    from parkdw.publishing import write_exports

    out_dir = out_dir or get_settings().output_dir / "exports"
    with warehouse.connect(role=TRANSFORM_ROLE) as conn:
        detail = require_validation_passed(conn)
        manifest = write_exports(conn, out_dir, detail)
    return {"out_dir": str(out_dir), **{t: m["rows"] for t, m in manifest["tables"].items()}}


def render_report(out_dir: Path | None = None) -> dict:
    """The progress report (self-contained HTML) from the validated marts."""
    from parkdw.report.progress import render

    out_dir = out_dir or get_settings().output_dir / "reports"
    with warehouse.connect(role=TRANSFORM_ROLE) as conn:
        require_validation_passed(conn)
        path = render(conn, out_dir)
    return {"report": str(path)}


def render_audit_report(out_dir: Path | None = None, landing: Path | None = None) -> dict:
    """The auditors' report folder from the audit tables, whether the latest validation passed or not."""
    from parkdw.report.audit import render

    settings = get_settings()
    out_dir = out_dir or settings.audit_report_dir
    with warehouse.connect() as conn:
        page = render(conn, out_dir, landing or settings.landing_dir)
    log.info("auditors' report: %s", page)
    return {"report": str(page)}


def progress_rows(conn) -> list[dict]:
    """The latest month's progress per target metric (what `parkdw progress` prints)."""
    cur = conn.execute(
        f"""select metric, metric_label, cumulative_actual, target_value, share_achieved, share_elapsed,
                   expected_cumulative, status, as_of_date
            from {SCHEMA_MARTS}.mart_target_progress
            where period_grain = 'month'
              and month_start = (select max(month_start) from {SCHEMA_MARTS}.mart_target_progress)
            order by case metric when 'enterprises_introduced' then 1 when 'startups_incubated' then 2 else 3 end"""
    )
    columns = [c.name for c in cur.description]
    return [dict(zip(columns, row)) for row in cur.fetchall()]


def reconcile_with_sandbox(conn, cfg, landing: Path, loaded_through=None) -> list[dict]:
    """The marts against the partner sandbox's ground truth for the simulated range `cfg`
    (a SimulationConfig) whose files in `landing` were loaded through the day `loaded_through`
    (the range's end by default; a later day where late deliveries were loaded too).

    One row per figure: expected, actual and whether they agree (to the fen and the line): the
    proof, at any scale, that no released declaration was lost or counted twice on the way."""
    from dataclasses import replace

    from parkdw.sandbox.generate import expected_progress

    firms = expected_progress(cfg, landing)  # the registry as of the range's end
    volume = firms if loaded_through in (None, cfg.end) else expected_progress(replace(cfg, end=loaded_through), landing)
    lines, value = conn.execute(
        f"select count(*), coalesce(sum(value_cny), 0) from {SCHEMA_MARTS}.fct_export_declaration_lines").fetchone()
    progress = {r["metric"]: r["cumulative_actual"] for r in progress_rows(conn)}
    figures = [
        ("released declaration lines (fct_export_declaration_lines)", volume["released_lines"], lines),
        ("export volume CNY (fct_export_declaration_lines)", volume["export_volume_cny"], value),
        ("export volume CNY (mart_target_progress)", volume["export_volume_cny"], progress.get("export_volume_cny")),
        ("enterprises introduced (mart_target_progress)", firms["enterprises_introduced"],
         progress.get("enterprises_introduced")),
        ("startups incubated (mart_target_progress)", firms["startups_incubated"], progress.get("startups_incubated")),
    ]
    return [{"figure": name, "expected": expected, "actual": actual, "agrees": actual == expected}
            for name, expected, actual in figures]
