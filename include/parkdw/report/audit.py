"""The auditors' report: a folder of static HTML pages regenerated from the audit tables.

  index.html           status of the latest validation (blocking failures named), links, key figures
  dq.html              checks passed / failed / warned per run and per day (the DQ mart), failed checks
  quarantine.html      quarantined records by reason (rule, field) and source (feed), latest records
  reconciliation.html  raw -> staging -> marts record counts and CNY totals, load batches per feed
  freshness.html       per source: last load, latest delivery day, lag behind the data's as-of date
  coverage.html        the sandbox's injected defects against where the warehouse caught them
  drilldown.html       export volume per month (mart_target_progress) -> month pages
  drill-YYYY-MM.html   the month's days -> inventory lists (fact rows) -> their load batches
  batches.html         every load batch: source file path, sha256, counts
  gx/                  Great Expectations Data Docs of the latest runs (quality.validate.build_data_docs)
  dbt-docs/            the dbt docs site (lineage), `dbt docs generate --static`

Plain files: open index.html from disk, no server. plotly.min.js is written once beside the pages.
Every figure a page states is also in a data-* attribute, so a test in a real browser can check it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from parkdw.report.progress import CSS, RECORD_SCRIPT, _attr, _e, _num, _rows
from parkdw.settings import SCHEMA_AUDIT, SCHEMA_MARTS, SCHEMA_RAW, SCHEMA_STAGING

log = logging.getLogger(__name__)

A, R, S, M = SCHEMA_AUDIT, SCHEMA_RAW, SCHEMA_STAGING, SCHEMA_MARTS
RUNS_SHOWN = 30
QUARANTINE_SHOWN = 50
PAGES = [("index.html", "Overview"), ("dq.html", "Checks"), ("quarantine.html", "Quarantine"),
         ("reconciliation.html", "Reconciliation"), ("freshness.html", "Freshness"),
         ("coverage.html", "Defect coverage"), ("drilldown.html", "Drill-down"), ("batches.html", "Load batches"),
         ("gx/index.html", "GX Data Docs"), ("dbt-docs/index.html", "dbt docs (lineage)")]
# The fact rows behind export volume: mart_export_volume_daily's definition (park declarants,
# the four e-commerce trade modes). Each drill-down page shows whether its rows sum to the mart.
EXPORT_VOLUME_FACTS = "enterprise_key is not null and trade_mode_key in ('9610', '9710', '9810', '1210')"

AUDIT_CSS = CSS + """
nav { background: #2c5282; padding: 6px 32px; font-size: 13px; }
nav a { color: white; margin-right: 14px; text-decoration: none; }
nav a.here { font-weight: 700; text-decoration: underline; }
.ok { color: #1b7f3b; font-weight: 600; } .bad { color: #c53030; font-weight: 600; }
.warn { color: #b7791f; font-weight: 600; }
h2.section { font-size: 17px; margin: 20px 0 8px 0; }
td.mono, span.mono { font-family: monospace; font-size: 11px; }
"""


def _page(title: str, here: str, body: str, depth: int = 0, charts: bool = False) -> str:
    up = "../" * depth
    links = "".join(f"<a href='{up}{href}' class='{'here' if href == here else ''}'>{_e(name)}</a>"
                    for href, name in PAGES)
    plotly = f"<script src='{up}plotly.min.js'></script>" if charts else ""
    record = f"<script>{RECORD_SCRIPT}</script>" if charts else \
        "<script>document.body.setAttribute('data-charts-recorded', 'yes');</script>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title><style>{AUDIT_CSS}</style>{plotly}</head>
<body data-page="{_attr(here)}">
<header><h1>Export data warehouse: auditors' report</h1>
<div class="meta">{_e(title)} · generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from the audit tables</div></header>
<nav>{links}</nav>
<main>{body}</main>
{record}
</body></html>
"""


def _table(table_id: str, headers: list[tuple[str, bool]], rows: list[str]) -> str:
    head = "".join(f"<th class='{'n' if n else ''}'>{_e(h)}</th>" for h, n in headers)
    return f"<table id='{table_id}'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _chart(fig, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displayModeBar": False})


def _cny(value) -> str:
    return _num(value, "CNY")


def _count(value) -> str:
    return _num(value)


def _fetch_one(conn, query: str, params=()):
    return conn.execute(query, params).fetchone()


# --- data quality -----------------------------------------------------------------------------

def latest_validation(conn) -> dict:
    """The latest validate run (all its suites): success and the failed blocking checks, named."""
    row = _fetch_one(conn, f"""select run_key, max(run_at), bool_and(blocking_success), sum(evaluated), sum(passed),
                                      sum(failed_blocking), sum(failed_warning)
                               from {A}.validation_run where run_key = (
                                   select run_key from {A}.validation_run order by run_at desc, validation_run_id desc
                                   limit 1)
                               group by run_key""")
    if row is None:
        return {"run_key": None, "passed": False, "failures": [], "warnings": []}
    failures = _rows(conn, f"""
        select r.suite, x.check_name, x.expectation_type, x.column_name, x.severity, x.observed_value, x.unexpected_count,
               x.unexpected_sample
        from {A}.validation_result x join {A}.validation_run r using (validation_run_id)
        where r.run_key = %s and not x.success order by x.severity = 'critical' desc, r.suite, x.expectation_type""",
                     (row[0],))
    return {"run_key": row[0], "run_at": row[1], "passed": bool(row[2]), "evaluated": row[3], "checks_passed": row[4],
            "failed_blocking": row[5], "failed_warning": row[6],
            "failures": [f for f in failures if f["severity"] == "critical"],
            "warnings": [f for f in failures if f["severity"] != "critical"]}


def _check_name(f: dict) -> str:
    if f.get("check_name"):
        return f"{f['suite']}: {f['check_name']}"
    return f"{f['suite']}: {f['expectation_type']}" + (f"({f['column_name']})" if f["column_name"] else "")


def _failure_rows(failures: list[dict]) -> list[str]:
    return [f"<tr class='failed-check' data-check='{_attr(_check_name(f))}'><td>{_e(f['suite'])}</td>"
            f"<td>{_e(f['check_name'])}</td><td>{_e(f['expectation_type'])}</td><td>{_e(f['column_name'])}</td><td>{_e(f['severity'])}</td>"
            f"<td class='n'>{_e(f['unexpected_count'])}</td><td class='mono'>{_e(f['observed_value'])}</td>"
            f"<td class='mono'>{_e(str(f['unexpected_sample'])[:200])}</td></tr>" for f in failures]


FAILURE_HEADERS = [("suite", False), ("check", False), ("expectation", False), ("column", False), ("severity", False),
                   ("unexpected", True), ("observed", False), ("sample of unexpected values", False)]


def dq_page(conn) -> str:
    import plotly.graph_objects as go

    runs = _rows(conn, f"""
        select period_key as run_id, check_system, min(run_started_at) as started_at, sum(checks) as checks,
               sum(passed) as passed, sum(failed) as failed, sum(warned) as warned, sum(skipped) as skipped,
               string_agg(failed_checks, ' | ') filter (where severity_level = 'blocking') as blocking_failures,
               string_agg(coalesce(failed_checks, '') || coalesce(warned_checks, ''), ' | ')
                   filter (where severity_level = 'warning' and (failed + warned) > 0) as warnings
        from {M}.mart_dq_check_summary where period_grain = 'run'
        group by 1, 2 order by 3 desc limit {RUNS_SHOWN}""")
    days = _rows(conn, f"""
        select run_date, check_system, layer, severity_level, runs, checks, passed, failed, warned, skipped
        from {M}.mart_dq_check_summary where period_grain = 'day' order by 1, 2, 3, 4""")
    totals = _fetch_one(conn, f"""select coalesce(sum(checks), 0), coalesce(sum(passed), 0), coalesce(sum(failed), 0),
                                         coalesce(sum(warned), 0), count(distinct period_key)
                                  from {M}.mart_dq_check_summary where period_grain = 'run'""")
    per_day: dict = {}
    for d in days:
        entry = per_day.setdefault(d["run_date"], {"passed": 0, "failed": 0, "warned": 0})
        for k in entry:
            entry[k] += d[k]
    fig = go.Figure()
    for outcome, colour in (("passed", "#2f855a"), ("warned", "#d69e2e"), ("failed", "#c53030")):
        fig.add_trace(go.Bar(x=[str(k) for k in per_day], y=[v[outcome] for v in per_day.values()], name=outcome,
                             marker_color=colour))
    fig.update_layout(barmode="stack", height=300, margin={"l": 50, "r": 10, "t": 10, "b": 30},
                      template="plotly_white", xaxis={"type": "category"}, yaxis_title="check results")
    latest = latest_validation(conn)
    run_rows = [
        f"<tr data-run-id='{_attr(r['run_id'])}' data-checks='{r['checks']}' data-passed='{r['passed']}' "
        f"data-failed='{r['failed']}' data-warned='{r['warned']}'><td class='mono'>{_e(r['run_id'])}</td>"
        f"<td>{_e(r['check_system'])}</td><td>{r['started_at']:%Y-%m-%d %H:%M:%S}</td>"
        f"<td class='n'>{_count(r['checks'])}</td><td class='n'>{_count(r['passed'])}</td>"
        f"<td class='n {'bad' if r['failed'] else ''}'>{_count(r['failed'])}</td>"
        f"<td class='n {'warn' if r['warned'] else ''}'>{_count(r['warned'])}</td><td class='n'>{_count(r['skipped'])}</td>"
        f"<td>{_e(r['blocking_failures'])}</td><td>{_e(r['warnings'])}</td></tr>" for r in runs]
    day_rows = [
        f"<tr><td>{d['run_date']}</td><td>{_e(d['check_system'])}</td><td>{_e(d['layer'])}</td>"
        f"<td>{_e(d['severity_level'])}</td><td class='n'>{d['runs']}</td><td class='n'>{_count(d['checks'])}</td>"
        f"<td class='n'>{_count(d['passed'])}</td><td class='n'>{_count(d['failed'])}</td>"
        f"<td class='n'>{_count(d['warned'])}</td><td class='n'>{_count(d['skipped'])}</td></tr>" for d in days]
    body = f"""
<section class="card" id="dq-totals" data-checks="{totals[0]}" data-passed="{totals[1]}" data-failed="{totals[2]}"
  data-warned="{totals[3]}" data-runs="{totals[4]}">
  <h2>All runs recorded: {totals[4]:,} runs, {totals[0]:,} check results: {totals[1]:,} passed,
  <span class="{'bad' if totals[2] else ''}">{totals[2]:,} failed</span>, {totals[3]:,} warned</h2>
  <p class="note">A run is one validate task (GX, all suites) or one dbt invocation (its tests). Source: the DQ mart
  marts.mart_dq_check_summary (views over audit.validation_* and audit.dbt_*).</p></section>
<section class="card"><h2>Latest GX validation: {_validation_text(latest)}</h2>
  {_table('latest-failures', FAILURE_HEADERS, _failure_rows(latest['failures'] + latest['warnings']))}</section>
<section class="card"><h2>Check results per day</h2>{_chart(fig, 'chart-dq-daily')}</section>
<section class="card"><h2>Latest {RUNS_SHOWN} runs</h2>
  {_table('dq-runs', [('run', False), ('system', False), ('started (UTC)', False), ('checks', True), ('passed', True),
                      ('failed', True), ('warned', True), ('skipped', True), ('blocking failures', False),
                      ('warnings', False)], run_rows)}</section>
<section class="card"><h2>Per day, layer and severity</h2>
  {_table('dq-days', [('day (UTC)', False), ('system', False), ('layer', False), ('severity', False), ('runs', True),
                      ('checks', True), ('passed', True), ('failed', True), ('warned', True), ('skipped', True)],
          day_rows)}</section>"""
    return _page("Data-quality checks per run and over time", "dq.html", body, charts=True)


def _validation_text(latest: dict) -> str:
    if latest["run_key"] is None:
        return "<span class='bad' id='validation-status' data-status='none'>no validation recorded</span>"
    status = "passed" if latest["passed"] else "FAILED"
    names = "; ".join(_check_name(f) for f in latest["failures"])
    return (f"<span class='{'ok' if latest['passed'] else 'bad'}' id='validation-status' "
            f"data-status='{'passed' if latest['passed'] else 'failed'}' data-run-key='{_attr(latest['run_key'])}'>"
            f"{status}</span> (run {_e(latest['run_key'])} at {latest['run_at']:%Y-%m-%d %H:%M} UTC: "
            f"{latest['checks_passed']} of {latest['evaluated']} checks passed, {latest['failed_blocking']} blocking "
            f"failed, {latest['failed_warning']} warnings)" + (f"; blocking failures: {_e(names)}" if names else ""))


# --- quarantine -------------------------------------------------------------------------------

def quarantine_page(conn) -> str:
    import plotly.graph_objects as go

    by_reason = _rows(conn, f"""select feed, rule, field, sum(records) as records, sum(source_files) as files,
                                       sum(replayed_records) as replayed, min(example_reason) as example
                                from {M}.mart_dq_quarantine group by 1, 2, 3 order by 4 desc, 1, 2, 3""")
    latest = _rows(conn, f"""select quarantine_id, feed, source, record_no, record_key, field, rule, reason, quarantined_at
                             from {A}.quarantine order by quarantine_id desc limit {QUARANTINE_SHOWN}""")
    total = sum(r["records"] for r in by_reason)
    fig = go.Figure(go.Bar(x=[float(r["records"]) for r in by_reason][::-1],
                           y=[f"{r['feed']} / {r['rule']} / {r['field']}" for r in by_reason][::-1],
                           orientation="h", name="records", marker_color="#c05621"))
    fig.update_layout(height=max(200, 40 * len(by_reason) + 60), margin={"l": 260, "r": 10, "t": 10, "b": 30},
                      template="plotly_white", xaxis_title="quarantined records")
    reason_rows = [
        f"<tr data-feed='{_attr(r['feed'])}' data-rule='{_attr(r['rule'])}' data-field='{_attr(r['field'])}' "
        f"data-records='{r['records']}'><td>{_e(r['feed'])}</td><td>{_e(r['rule'])}</td><td>{_e(r['field'])}</td>"
        f"<td class='n'>{_count(r['records'])}</td><td class='n'>{_count(r['files'])}</td>"
        f"<td class='n'>{_count(r['replayed'])}</td><td class='mono'>{_e(r['example'][:300])}</td></tr>"
        for r in by_reason]
    latest_rows = [
        f"<tr><td class='n'>{q['quarantine_id']}</td><td>{_e(q['feed'])}</td><td class='mono'>{_e(q['source'])}</td>"
        f"<td class='n'>{_e(q['record_no'])}</td><td class='mono'>{_e(q['record_key'])}</td><td>{_e(q['field'])}</td>"
        f"<td>{_e(q['rule'])}</td><td class='mono'>{_e(q['reason'][:300])}</td></tr>" for q in latest]
    body = f"""
<section class="card" id="quarantine-total" data-records="{total}"><h2>{total:,} quarantine entries</h2>
  <p class="note">By reason (rule and field) and source (feed). An entry is a record, or a file rejected as a
  whole (field "(whole file)"), which counts once however many records it held (the load batches count those). Operators replay fixed records with <code>parkdw quarantine replay</code>.</p>
  {_chart(fig, 'chart-quarantine')}
  {_table('quarantine-by-reason', [('feed', False), ('rule', False), ('field', False), ('records', True),
                                   ('files', True), ('replayed', True), ('example reason', False)], reason_rows)}</section>
<section class="card"><h2>Latest {QUARANTINE_SHOWN} quarantined records</h2>
  {_table('quarantine-latest', [('#', True), ('feed', False), ('source file', False), ('record', True), ('key', False),
                                ('field', False), ('rule', False), ('reason', False)], latest_rows)}</section>"""
    return _page("Quarantined records by reason and source", "quarantine.html", body, charts=True)


# --- reconciliation ---------------------------------------------------------------------------

def reconciliation(conn) -> dict:
    """Export declarations through the layers: record counts and CNY totals, and what each step removes."""
    # Keyed by the figures each query gives: a layer's lines and CNY come from one query, as the
    # staging view recomputes its joins each time it is read.
    q = {
        ("raw_heads",): f"select count(*) from {R}.ceb_inventory_head",
        ("raw_lines",): f"select count(*) from {R}.ceb_inventory_list",
        ("raw_quarantined",): f"select count(*) from {A}.quarantine where feed = 'customs' and source like '%%CEB603%%'",
        ("staging_heads",): f"select count(*) from {S}.stg_customs__inventory_heads",
        ("staging_lines",): f"select count(*) from {S}.stg_customs__inventory_lines",
        ("released_lines", "released_cny"):
            f"select count(*), coalesce(sum(value_cny), 0) from {S}.int_declaration_lines_cny",
        ("fact_lines", "fact_cny"):
            f"select count(*), coalesce(sum(value_cny), 0) from {M}.fct_export_declaration_lines",
        ("mart_lines", "mart_cny"): f"""select coalesce(sum(released_lines), 0), coalesce(sum(export_volume_cny), 0)
                                        from {M}.mart_export_volume_daily""",
        ("progress_cny",): f"""select coalesce((select cumulative_actual from {M}.mart_target_progress
                             where metric = 'export_volume_cny' and period_grain = 'month'
                             order by period_start desc limit 1), 0)""",
    }
    figures = {}
    for names, sql in q.items():
        figures.update(zip(names, _fetch_one(conn, sql), strict=True))
    figures["raw_by_currency"] = _rows(conn, f"""
        select currency, count(*) as lines, sum(case when total_price ~ '^-?[0-9]+(\\.[0-9]+)?$'
                                                     then total_price::numeric end) as declared_value
        from {R}.ceb_inventory_list group by 1 order by 1""")
    figures["batches"] = _rows(conn, f"""
        select feed, count(*) filter (where status = 'loaded') as loaded_batches,
               count(*) filter (where status = 'skipped') as skipped_batches,
               count(*) filter (where status = 'failed') as failed_batches,
               coalesce(sum(records_received) filter (where status = 'loaded'), 0) as received,
               coalesce(sum(records_loaded) filter (where status = 'loaded'), 0) as loaded,
               coalesce(sum(records_quarantined) filter (where status = 'loaded'), 0) as quarantined
        from {A}.load_batch group by 1 order by 1""")
    return figures


def reconciliation_page(conn, f: dict) -> str:
    import plotly.graph_objects as go

    steps = [
        ("raw", "raw.ceb_inventory_head / _list", "CEB603 documents as delivered (resends and versions included)",
         f["raw_heads"], f["raw_lines"], None),
        ("staging", "staging.stg_customs__inventory_heads / _lines",
         "one row per inventory list: latest version, deletions removed", f["staging_heads"], f["staging_lines"], None),
        ("staging", "staging.int_declaration_lines_cny", "released lines valued in CNY at the export date's parity",
         None, f["released_lines"], f["released_cny"]),
        ("marts", "marts.fct_export_declaration_lines", "the fact: released declaration lines", None,
         f["fact_lines"], f["fact_cny"]),
        ("marts", "marts.mart_export_volume_daily", "export volume: park declarants, trade modes 9610/9710/9810/1210",
         None, f["mart_lines"], f["mart_cny"]),
        ("marts", "marts.mart_target_progress", "cumulative export volume, latest month", None, None,
         f["progress_cny"]),
    ]
    rows = [f"<tr data-step='{i}' data-relation='{_attr(rel)}' data-lists='{_attr(lists)}' data-lines='{_attr(lines)}' "
            f"data-cny='{_attr(cny)}'><td>{_e(layer)}</td><td class='mono'>{_e(rel)}</td><td>{_e(what)}</td>"
            f"<td class='n'>{_count(lists) if lists is not None else ''}</td>"
            f"<td class='n'>{_count(lines) if lines is not None else ''}</td>"
            f"<td class='n'>{_cny(cny) if cny is not None else ''}</td></tr>"
            for i, (layer, rel, what, lists, lines, cny) in enumerate(steps)]
    diffs = [
        ("raw documents not in staging (superseded versions, resends, deletions)", f["raw_heads"] - f["staging_heads"]),
        ("CEB603 records quarantined at load (never in raw)", f["raw_quarantined"]),
        ("staging lines not released (rejected, deleted or awaiting release)", f["staging_lines"] - f["released_lines"]),
        ("released lines outside export volume (non-park declarants, other trade modes)",
         f["fact_lines"] - f["mart_lines"]),
    ]
    cny_out = f["fact_cny"] - f["mart_cny"]
    reconciles = f["released_cny"] == f["fact_cny"] and f["mart_cny"] == f["progress_cny"]
    batch_rows = [
        f"<tr data-feed='{_attr(b['feed'])}' data-received='{b['received']}' data-loaded='{b['loaded']}' "
        f"data-quarantined='{b['quarantined']}'><td>{_e(b['feed'])}</td><td class='n'>{_count(b['loaded_batches'])}</td>"
        f"<td class='n'>{_count(b['skipped_batches'])}</td><td class='n'>{_count(b['failed_batches'])}</td>"
        f"<td class='n'>{_count(b['received'])}</td><td class='n'>{_count(b['loaded'])}</td>"
        f"<td class='n'>{_count(b['quarantined'])}</td>"
        f"<td class='{'ok' if b['received'] == b['loaded'] + b['quarantined'] else 'bad'}'>"
        f"{'yes' if b['received'] == b['loaded'] + b['quarantined'] else 'NO'}</td></tr>" for b in f["batches"]]
    currency_rows = [f"<tr><td>{_e(c['currency'])}</td><td class='n'>{_count(c['lines'])}</td>"
                     f"<td class='n'>{_cny(c['declared_value']) if c['declared_value'] is not None else ''}</td></tr>"
                     for c in f["raw_by_currency"]]
    fig = go.Figure(go.Bar(x=["staging (released, CNY)", "fact", "export volume", "progress (cumulative)"],
                           y=[float(f["released_cny"]), float(f["fact_cny"]), float(f["mart_cny"]),
                              float(f["progress_cny"])], name="CNY", marker_color="#2b6cb0"))
    fig.update_layout(height=260, margin={"l": 70, "r": 10, "t": 10, "b": 30}, template="plotly_white",
                      yaxis_title="CNY")
    body = f"""
<section class="card"><h2>Export declarations, raw → staging → marts</h2>
  {_table('reconciliation', [('layer', False), ('relation', False), ('what', False), ('inventory lists', True),
                             ('lines', True), ('CNY', True)], rows)}
  <p id="reconciles" data-reconciles="{'yes' if reconciles else 'no'}" class="{'ok' if reconciles else 'bad'}">
    {'Reconciles to the fen' if reconciles else 'DOES NOT RECONCILE'}: released lines in staging
    {_cny(f['released_cny'])} CNY = fact {_cny(f['fact_cny'])} CNY; export volume {_cny(f['mart_cny'])} CNY =
    progress {_cny(f['progress_cny'])} CNY; released lines outside export volume: {_cny(cny_out)} CNY.</p>
  {_chart(fig, 'chart-reconciliation')}
  <h2 class="section">What each step removes</h2>
  {_table('reconciliation-steps', [('step', False), ('records', True)],
          [f"<tr><td>{_e(t)}</td><td class='n'>{_count(n)}</td></tr>" for t, n in diffs])}</section>
<section class="card"><h2>Load batches per feed: received = loaded + quarantined</h2>
  {_table('batch-reconciliation', [('feed', False), ('loaded batches', True), ('skipped (already loaded)', True),
                                   ('failed', True), ('received', True), ('loaded', True), ('quarantined', True),
                                   ('reconciles', False)], batch_rows)}</section>
<section class="card"><h2>Raw declaration lines by delivered currency code (declared value, original currency)</h2>
  {_table('raw-currencies', [('currency as delivered', False), ('lines', True), ('declared value', True)],
          currency_rows)}</section>"""
    return _page("Reconciliation raw → staging → marts", "reconciliation.html", body, charts=True)


# --- freshness --------------------------------------------------------------------------------

def freshness_page(conn) -> str:
    feeds = _rows(conn, f"""
        select feed, max(finished_at) filter (where status = 'loaded') as last_loaded_at,
               max(substring(source from '(\\d{{4}}-\\d{{2}}-\\d{{2}})')) filter (where status = 'loaded')
                   as latest_delivery_day,
               count(*) filter (where status = 'loaded') as batches
        from {A}.load_batch group by 1 order by 1""")
    api = _rows(conn, f"""select feed, max(requested_at) as last_request_at, count(*) as requests,
                                 count(*) filter (where outcome <> 'ok') as faults
                          from {A}.api_request group by 1 order by 1""")
    as_of = _fetch_one(conn, f"select max(as_of_date) from {M}.mart_target_progress")[0]
    rows = []
    for r in feeds:
        day = datetime.strptime(r["latest_delivery_day"], "%Y-%m-%d").date() if r["latest_delivery_day"] else None
        lag = (as_of - day).days if as_of and day else None
        rows.append(f"<tr data-feed='{_attr(r['feed'])}' data-latest-delivery-day='{_attr(r['latest_delivery_day'])}'>"
                    f"<td>{_e(r['feed'])}</td><td>{_e(r['latest_delivery_day'])}</td>"
                    f"<td class='n {'warn' if lag and lag > 2 else ''}'>{_e(lag)}</td>"
                    f"<td>{r['last_loaded_at']:%Y-%m-%d %H:%M}</td><td class='n'>{_count(r['batches'])}</td></tr>"
                    if r["last_loaded_at"] else f"<tr data-feed='{_attr(r['feed'])}'><td>{_e(r['feed'])}</td>"
                    "<td colspan='4' class='bad'>nothing loaded</td></tr>")
    api_rows = [f"<tr data-feed='{_attr(a['feed'])}'><td>{_e(a['feed'])}</td><td>{a['last_request_at']:%Y-%m-%d %H:%M}</td>"
                f"<td class='n'>{_count(a['requests'])}</td><td class='n'>{_count(a['faults'])}</td></tr>" for a in api]
    body = f"""
<section class="card"><h2>Files per feed (data as of <span id="as-of">{_e(as_of)}</span>)</h2>
  {_table('freshness', [('feed', False), ('latest delivery day loaded', False), ('days behind as-of', True),
                        ('last loaded (UTC)', False), ('batches', True)], rows)}
  <p class="note">Reference feeds (FX, registry) deliver on business days and before the period; dbt's source
  freshness (warn after 2 days, error after 7) applies to the raw tables' load times.</p></section>
<section class="card"><h2>Tracking API</h2>
  {_table('freshness-api', [('feed', False), ('last request (UTC)', False), ('requests', True),
                            ('faults (retried)', True)], api_rows)}</section>"""
    return _page("Freshness per source", "freshness.html", body)


# --- defect coverage --------------------------------------------------------------------------

def coverage_page(coverage, landing: Path | None) -> str:
    if coverage is None:
        body = (f"<section class='card' id='coverage-missing'><h2>No defect manifest</h2><p>No sandbox manifest "
                f"(_manifest/defects_*.jsonl) in {_e(landing)}: coverage is measured against the sandbox's "
                f"injected defects.</p></section>")
        return _page("Defect coverage against the sandbox manifest", "coverage.html", body)
    rows = [f"<tr data-defect='{_attr(c.defect)}' data-injected='{c.injected}' data-delivered='{c.delivered}' "
            f"data-caught='{c.caught}' data-status='{_attr(c.status)}'><td>{_e(c.defect)}</td><td>{_e(c.layer)}</td>"
            f"<td>{_e(c.how)}</td><td class='n'>{c.injected}</td><td class='n'>{c.out_of_scope}</td>"
            f"<td class='n'>{c.delivered}</td><td class='n'>{c.caught}</td>"
            f"<td class='{'ok' if c.status == 'caught' else 'bad' if 'caught' in c.status else ''}'>{_e(c.status)}</td>"
            f"<td class='mono'>{_e(', '.join(c.missed_examples))}</td></tr>" for c in coverage]
    missed = [c.defect for c in coverage if c.missed]
    body = f"""
<section class="card"><h2>Each injected defect class: where the warehouse caught it</h2>
  <p class="note">Manifest: {_e(landing)}/_manifest. Injected = items in the manifest; out of scope = not
  delivered within the days loaded (a late file beyond the last ingested day) or removed by another defect first;
  caught / missed are counted item by item in the warehouse (quarantine, load batches, staging models).
  {('Not caught: ' + _e(', '.join(missed)) + '.') if missed else 'Every delivered item was caught.'}</p>
  {_table('coverage', [('defect class', False), ('caught at', False), ('how', False), ('injected', True),
                       ('out of scope', True), ('delivered', True), ('caught', True), ('status', False),
                       ('missed (examples)', False)], rows)}</section>"""
    return _page("Defect coverage against the sandbox manifest", "coverage.html", body)


# --- drill-down -------------------------------------------------------------------------------

def drilldown_pages(conn) -> dict[str, str]:
    """drilldown.html (months), drill-YYYY-MM.html (days -> lists -> batches) and batches.html."""
    months = _rows(conn, f"""select period_start, period_end, period_actual, cumulative_actual
                             from {M}.mart_target_progress where metric = 'export_volume_cny'
                               and period_grain = 'month' and period_actual <> 0 order by period_start""")
    pages = {}
    month_rows = []
    for m in months:
        name = f"drill-{m['period_start']:%Y-%m}.html"
        month_rows.append(f"<tr data-month='{m['period_start']:%Y-%m}' data-export-volume-cny='{m['period_actual']}'>"
                          f"<td><a href='{name}'>{m['period_start']:%Y-%m}</a></td>"
                          f"<td class='n'>{_cny(m['period_actual'])}</td><td class='n'>{_cny(m['cumulative_actual'])}</td></tr>")
        pages[name] = _month_page(conn, m)
    body = f"""<section class="card"><h2>Export volume per month (marts.mart_target_progress)</h2>
  <p class="note">Pick a month: its days, the inventory lists (fact rows) that make it up, and for each list the raw
  load batches (declaration and customs release) and their source files with sha256.</p>
  {_table('months', [('month', False), ('export volume (CNY)', True), ('cumulative (CNY)', True)], month_rows)}</section>"""
    pages["drilldown.html"] = _page("Drill-down: from a progress figure to the source files", "drilldown.html", body)
    pages["batches.html"] = _batches_page(conn)
    return pages


def _month_page(conn, month: dict) -> str:
    lists = _rows(conn, f"""
        select f.export_date, f.inventory_guid, f.ebc_code, f.trade_mode_key, count(*) as lines,
               sum(f.value_cny) as value_cny, min(f._batch_id) as declaration_batch_id,
               min(r.last_reply_batch_id) as release_batch_id
        from {M}.fct_export_declaration_lines f
        left join {S}.int_inventory_release r using (inventory_guid)
        where {EXPORT_VOLUME_FACTS} and f.export_date between %s and %s
        group by 1, 2, 3, 4 order by 1, 2""", (month["period_start"], month["period_end"]))
    days = _rows(conn, f"""select export_date, sum(export_volume_cny) as cny, sum(released_inventories) as lists
                           from {M}.mart_export_volume_daily where export_date between %s and %s
                           group by 1 order by 1""", (month["period_start"], month["period_end"]))
    total = sum((l["value_cny"] for l in lists), Decimal(0))
    sections = []
    for d in days:
        day_lists = [l for l in lists if l["export_date"] == d["export_date"]]
        day_total = sum((l["value_cny"] for l in day_lists), Decimal(0))
        rows = [f"<tr class='list' data-inventory-guid='{_attr(l['inventory_guid'])}' data-value-cny='{l['value_cny']}'>"
                f"<td class='mono'>{_e(l['inventory_guid'])}</td><td>{_e(l['ebc_code'])}</td><td>{_e(l['trade_mode_key'])}</td>"
                f"<td class='n'>{l['lines']}</td><td class='n'>{_cny(l['value_cny'])}</td>"
                f"<td><a href='batches.html#batch-{l['declaration_batch_id']}'>{l['declaration_batch_id']}</a></td>"
                f"<td>{_batch_link(l['release_batch_id'])}</td></tr>" for l in day_lists]
        sections.append(f"""<section class="card day" id="day-{d['export_date']}" data-export-date="{d['export_date']}"
            data-export-volume-cny="{d['cny']}" data-lists-sum-cny="{day_total}">
          <h2>{d['export_date']}: {_cny(d['cny'])} CNY, {d['lists']:,} inventory lists
            <span class="{'ok' if day_total == d['cny'] else 'bad'}">(lists sum {_cny(day_total)})</span></h2>
          {_table(f"lists-{d['export_date']}", [('inventory list (guid)', False), ('declarant', False),
                                                ('trade mode', False), ('lines', True), ('CNY', True),
                                                ('declaration batch', False), ('release batch', False)], rows)}</section>""")
    ok = total == month["period_actual"]
    body = f"""<section class="card" id="month" data-month="{month['period_start']:%Y-%m}"
        data-export-volume-cny="{month['period_actual']}" data-lists-sum-cny="{total}">
      <h2>Export volume {month['period_start']:%Y-%m}: {_cny(month['period_actual'])} CNY
      <span class="{'ok' if ok else 'bad'}">{'= ' if ok else '≠ '}{_cny(total)} CNY over {len(lists):,} inventory lists</span></h2>
      <p class="note">Inventory lists are marts.fct_export_declaration_lines grouped by list; the declaration batch is
      the raw batch its lines were loaded in, the release batch the one of its latest customs reply (CEB604).
      <a href="drilldown.html">All months</a>.</p></section>{''.join(sections)}"""
    return _page(f"Drill-down: export volume {month['period_start']:%Y-%m}", "drilldown.html", body)


def _batch_link(batch_id) -> str:
    return f"<a href='batches.html#batch-{batch_id}'>{batch_id}</a>" if batch_id is not None else ""


def _batches_page(conn) -> str:
    batches = _rows(conn, f"""select batch_id, feed, source, source_sha256, status, records_received, records_loaded,
                                     records_quarantined, duplicate_of_batch_id, finished_at
                              from {A}.load_batch order by batch_id""")
    rows = [f"<tr id='batch-{b['batch_id']}' data-batch-id='{b['batch_id']}' data-source='{_attr(b['source'])}' "
            f"data-sha256='{_attr(b['source_sha256'])}'><td class='n'>{b['batch_id']}</td><td>{_e(b['feed'])}</td>"
            f"<td class='mono source'>{_e(b['source'])}</td><td class='mono'>{_e(b['source_sha256'])}</td>"
            f"<td>{_e(b['status'])}{(' (of ' + _batch_link(b['duplicate_of_batch_id']) + ')') if b['duplicate_of_batch_id'] else ''}</td>"
            f"<td class='n'>{b['records_received']}</td><td class='n'>{b['records_loaded']}</td>"
            f"<td class='n'>{b['records_quarantined']}</td>"
            f"<td>{b['finished_at']:%Y-%m-%d %H:%M:%S}</td></tr>" if b["finished_at"] else
            f"<tr id='batch-{b['batch_id']}'><td class='n'>{b['batch_id']}</td><td>{_e(b['feed'])}</td>"
            f"<td class='mono source'>{_e(b['source'])}</td><td colspan='6'>{_e(b['status'])}</td></tr>"
            for b in batches]
    body = f"""<section class="card"><h2>{len(batches):,} load batches (audit.load_batch)</h2>
      <p class="note">One batch per source file read (or API page); skipped = the same content (sha256) was loaded
      before. Fact rows carry _batch_id, so every figure leads here.</p>
      {_table('batches', [('batch', True), ('feed', False), ('source file', False), ('sha256', False), ('status', False),
                          ('received', True), ('loaded', True), ('quarantined', True), ('finished (UTC)', False)],
              rows)}</section>"""
    return _page("Load batches and their source files", "batches.html", body)


# --- docs sites -------------------------------------------------------------------------------

def write_gx_docs(out_dir: Path) -> str:
    """GX Data Docs of the latest runs into out_dir (quality.validate.build_data_docs)."""
    from parkdw.quality import validate

    build = getattr(validate, "build_data_docs", None)
    out_dir.mkdir(parents=True, exist_ok=True)
    if build is None:
        (out_dir / "index.html").write_text(_page(
            "GX Data Docs", "gx/index.html", "<section class='card' id='gx-missing'><h2>GX Data Docs not built</h2>"
            "<p>This build has no parkdw.quality.validate.build_data_docs.</p></section>", depth=1), encoding="utf-8")
        return "not built (no build_data_docs)"
    site = Path(build(out_dir))
    if site.is_dir():
        site = site / "index.html"
    if site.parent != out_dir and not (out_dir / "index.html").exists():  # a site in a subfolder: point to it
        rel = site.relative_to(out_dir)
        (out_dir / "index.html").write_text(f"<!DOCTYPE html><meta http-equiv='refresh' content='0; url={rel}'>"
                                            f"<a href='{rel}'>GX Data Docs</a>", encoding="utf-8")
    return str(site)


def write_dbt_docs(out_dir: Path, dbname: str) -> str:
    """The dbt docs site as one static page (manifest and catalog inlined: works from disk).

    Regenerated only when the project (its manifest) or the database changed: the PostgreSQL
    catalog holds relations and column types, no row statistics, so nothing else changes it.
    """
    from parkdw import transform
    from parkdw.ingest.landing import sha256_of

    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = transform.ensure_manifest()
    key = f"{sha256_of(manifest)} {dbname}"
    stamp = out_dir / "generated_from.txt"
    if (out_dir / "index.html").exists() and stamp.exists() and stamp.read_text() == key:
        return str(out_dir / "index.html")
    with tempfile.TemporaryDirectory(prefix="parkdw-dbt-docs-") as tmp:
        # From the parsed manifest (--no-compile: a third of the time); the catalog is read live.
        for name in ("manifest.json", "partial_parse.msgpack"):
            if (manifest.parent / name).exists():
                shutil.copyfile(manifest.parent / name, Path(tmp) / name)
        transform.run_dbt(["docs", "generate", "--static", "--no-compile", "--quiet"], target_dir=Path(tmp))
        shutil.copyfile(Path(tmp) / "static_index.html", out_dir / "index.html")
        for name in ("manifest.json", "catalog.json"):
            shutil.copyfile(Path(tmp) / name, out_dir / name)
    stamp.write_text(key)
    return str(out_dir / "index.html")


# --- the report -------------------------------------------------------------------------------

def index_page(conn, recon: dict, coverage, gx: str, dbt_docs: str) -> str:
    latest = latest_validation(conn)
    dbt_latest = _rows(conn, f"""select invocation_id, command, invoked_by, success, tests, failed, warned, finished_at
                                 from {A}.dbt_invocation order by finished_at desc limit 5""")
    quarantined = _fetch_one(conn, f"select count(*) from {A}.quarantine")[0]
    cov = "no sandbox manifest" if coverage is None else (
        f"{sum(c.caught for c in coverage):,} of {sum(c.delivered for c in coverage):,} delivered injected defects "
        f"caught over {len(coverage)} classes; not caught: "
        + (", ".join(c.defect for c in coverage if c.missed) or "none"))
    dbt_rows = [f"<tr><td class='mono'>{_e(d['invocation_id'])}</td><td>{_e(d['command'])}</td><td>{_e(d['invoked_by'])}</td>"
                f"<td class='{'ok' if d['success'] else 'bad'}'>{'success' if d['success'] else 'failed'}</td>"
                f"<td class='n'>{d['tests']}</td><td class='n'>{d['failed']}</td><td class='n'>{d['warned']}</td>"
                f"<td>{d['finished_at']:%Y-%m-%d %H:%M:%S}</td></tr>" for d in dbt_latest]
    body = f"""
<section class="card" id="status" data-validation="{'passed' if latest['passed'] else 'failed'}">
  <h2>Latest validation: {_validation_text(latest)}</h2>
  {_table('blocking-failures', FAILURE_HEADERS, _failure_rows(latest['failures']))
   if latest['failures'] else '<p class="note">No blocking check failed: the marts may be published.</p>'}
</section>
<section class="grid3">
  <div class="card kpi" id="kpi-export-volume" data-cny="{recon['mart_cny']}"><h2>Export volume (marts)</h2>
    <div class="value">{_cny(recon['mart_cny'])}</div><div class="sub">CNY over {recon['mart_lines']:,} released lines;
    <a href="reconciliation.html">reconciliation</a> · <a href="drilldown.html">drill down</a></div></div>
  <div class="card kpi" id="kpi-quarantine" data-records="{quarantined}"><h2>Quarantine entries</h2>
    <div class="value">{quarantined:,}</div><div class="sub">a record each, or a file refused whole;
    <a href="quarantine.html">by reason and source</a></div></div>
  <div class="card kpi" id="kpi-coverage"><h2>Injected defects caught</h2><div class="sub">{_e(cov)}
    (<a href="coverage.html">coverage</a>)</div></div>
</section>
<section class="card"><h2>Latest dbt invocations (audit.dbt_invocation)</h2>
  {_table('dbt-latest', [('invocation', False), ('command', False), ('invoked by', False), ('result', False),
                         ('tests', True), ('failed', True), ('warned', True), ('finished (UTC)', False)], dbt_rows)}</section>
<section class="card"><h2>Documentation</h2><ul>
  <li><a href="gx/index.html">Great Expectations Data Docs</a> of the latest runs ({_e(gx)})</li>
  <li><a href="dbt-docs/index.html">dbt docs</a>: models, tests and lineage ({_e(Path(dbt_docs).name)})</li></ul></section>"""
    return _page("Overview", "index.html", body)


def render(conn, out_dir: Path, landing: Path | None = None) -> Path:
    """Write the whole report folder from the warehouse's audit tables and marts; returns index.html."""
    from plotly.offline import get_plotlyjs

    from parkdw.quality.coverage import defect_coverage

    missing = [name for name in ("mart_dq_check_summary", "mart_dq_quarantine", "mart_target_progress")
               if conn.execute("select to_regclass(%s)", (f"{M}.{name}",)).fetchone()[0] is None]
    if missing:
        raise RuntimeError(f"cannot render the auditors' report: {', '.join(f'{M}.{n}' for n in missing)} "
                           "not built yet (run the transform DAG or `parkdw dbt build`)")
    out_dir.mkdir(parents=True, exist_ok=True)
    conn.commit()
    (out_dir / "plotly.min.js").write_text(get_plotlyjs(), encoding="utf-8")
    has_manifest = landing is not None and any((Path(landing) / "_manifest").glob("defects_*.jsonl"))
    coverage = defect_coverage(conn, landing) if has_manifest else None
    recon = reconciliation(conn)
    pages = {"dq.html": dq_page(conn), "quarantine.html": quarantine_page(conn),
             "reconciliation.html": reconciliation_page(conn, recon), "freshness.html": freshness_page(conn),
             "coverage.html": coverage_page(coverage, landing), **drilldown_pages(conn)}
    conn.commit()  # nothing held open while dbt and GX run
    gx = write_gx_docs(out_dir / "gx")
    docs = write_dbt_docs(out_dir / "dbt-docs", conn.info.dbname)
    pages["index.html"] = index_page(conn, recon, coverage, gx, docs)
    conn.commit()
    for name, text in pages.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    log.info("auditors' report: %d pages in %s", len(pages), out_dir)
    return out_dir / "index.html"
