"""The progress report a park director reads: one self-contained HTML page (plotly inlined).

Everything shown comes from the marts (mart_target_progress, the drill-downs) and the latest
validation run in audit.validation_run. Each figure the page states is also carried in a data-*
attribute, and after plotly has drawn a chart the page records what it plotted on the chart's div
(data-trace-sums, data-trace-last), so a test in a real browser can check the page against the mart.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from parkdw.settings import SCHEMA_AUDIT, SCHEMA_MARTS, SCHEMA_STAGING

log = logging.getLogger(__name__)

METRIC_ORDER = ("enterprises_introduced", "startups_incubated", "export_volume_cny")
STATUS_COLOURS = {"achieved": "#1b7f3b", "on track": "#1b7f3b", "at risk": "#b7791f", "behind": "#c53030"}
CORRIDOR_COLOURS = ["#2b6cb0", "#2f855a", "#c05621", "#6b46c1", "#718096"]
TOP_N = 10


def _rows(conn, query: str, params=()) -> list[dict]:
    cur = conn.execute(query, params)
    names = [c.name for c in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def gather(conn) -> dict:
    """The report's figures, read from the marts and the audit schema."""
    m = SCHEMA_MARTS
    latest = _rows(conn, f"""
        select * from {m}.mart_target_progress
        where period_grain = 'month' and period_start = (
            select max(period_start) from {m}.mart_target_progress where period_grain = 'month')""")
    latest.sort(key=lambda r: METRIC_ORDER.index(r["metric"]) if r["metric"] in METRIC_ORDER else 99)
    monthly = _rows(conn, f"""
        select metric, period_end, cumulative_actual, expected_cumulative from {m}.mart_target_progress
        where period_grain = 'month' and period_end >= covered_from order by metric, period_end""")
    curves = _rows(conn, f"select curve, elapsed_share, cumulative_share from {SCHEMA_STAGING}.park_target_trajectories "
                         "order by curve, elapsed_share")
    corridor_monthly = _rows(conn, f"""
        select month_start, corridor, sum(export_volume_cny) as export_volume_cny
        from {m}.mart_export_volume_monthly group by 1, 2 order by 1, 2""")
    destinations = _rows(conn, f"""
        select country_key, coalesce(country_name, country_key) as country_name, region,
               bool_or(is_belt_and_road_partner) as belt_and_road, sum(export_volume_cny) as export_volume_cny
        from {m}.mart_export_volume_monthly group by 1, 2, 3
        order by export_volume_cny desc, country_key limit {TOP_N}""")
    enterprises = _rows(conn, f"""
        select credit_code, enterprise_name, enterprise_type, first_export_date, exports_to_date_cny,
               share_of_park_exports, active_last_90_days, export_rank
        from {m}.mart_enterprise_scorecard where export_rank is not null
        order by export_rank, credit_code limit {TOP_N}""")
    corridors = _rows(conn, f"""
        select route_key, route_name, corridor, shipments, export_volume_cny,
               declared_to_released_hours_p50, declared_to_released_hours_p90
        from {m}.mart_corridor_performance where period_grain = 'to_date' order by export_volume_cny desc""")
    totals = conn.execute(f"select coalesce(sum(export_volume_cny), 0) from {m}.mart_export_volume_daily").fetchone()
    dq = _rows(conn, f"""
        select suite, success, blocking_success, evaluated, passed, failed_blocking, failed_warning, run_at
        from {SCHEMA_AUDIT}.validation_run
        where layer = 'marts' and run_key = (select run_key from {SCHEMA_AUDIT}.validation_run where layer = 'marts'
                                             order by run_at desc, validation_run_id desc limit 1)
        order by suite""")
    return {"latest": latest, "monthly": monthly, "curves": curves, "corridor_monthly": corridor_monthly,
            "destinations": destinations, "enterprises": enterprises, "corridors": corridors,
            "export_volume_total": totals[0], "dq": dq}


# --- formatting -------------------------------------------------------------------------------

def _num(value, unit: str = "") -> str:
    if value is None:
        return "–"
    if unit == "CNY":
        return f"{Decimal(value):,.2f}"
    return f"{Decimal(value):,.0f}"


def _pct(value) -> str:
    return "–" if value is None else f"{float(value):.2%}"


def _attr(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return html.escape(str(value), quote=True)


def _e(text) -> str:
    return html.escape("" if text is None else str(text))


def _curve_share(points: list[tuple[float, float]], x: float) -> float:
    x = min(1.0, max(0.0, x))
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


# --- figures ----------------------------------------------------------------------------------

def _progress_figure(row: dict, series: list[dict], curve: list[tuple[float, float]]):
    import plotly.graph_objects as go

    p_start, p_end, covered = row["target_period_start"], row["target_period_end"], row["covered_from"]
    p_days = (p_end - p_start).days + 1
    target = float(row["target_value"])
    before = _curve_share(curve, (covered - p_start).days / p_days)
    # The trajectory over the covered span to the end date, on the curve the mart used.
    days = [covered + timedelta(days=d) for d in range(0, (p_end - covered).days, 30)] + [p_end]
    expected = [target * max(0.0, _curve_share(curve, ((d - p_start).days + 1) / p_days) - before) for d in days]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=days, y=expected, name="trajectory", mode="lines",
                             line={"color": "#a0aec0", "dash": "dash"}))
    fig.add_trace(go.Scatter(x=[s["period_end"] for s in series], y=[float(s["cumulative_actual"]) for s in series],
                             name="actual (cumulative)", mode="lines+markers", line={"color": "#2b6cb0", "width": 3}))
    fig.add_trace(go.Scatter(x=[row["period_end"], p_end],
                             y=[float(row["cumulative_actual"]), float(row["projected_end_value"])],
                             name=f"projection ({int(row['run_rate_days'])}-day run rate)", mode="lines",
                             line={"color": "#dd6b20", "dash": "dot", "width": 2}))
    fig.add_hline(y=float(row["target_in_coverage"]), line={"color": "#1b7f3b", "width": 1},
                  annotation_text="target", annotation_position="top left")
    fig.update_layout(height=300, margin={"l": 50, "r": 10, "t": 10, "b": 30}, template="plotly_white",
                      legend={"orientation": "h", "y": -0.18, "font": {"size": 10}}, hovermode="x unified")
    return fig


def _corridor_figure(rows: list[dict]):
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, corridor in enumerate(sorted({r["corridor"] for r in rows})):
        pts = [r for r in rows if r["corridor"] == corridor]
        fig.add_trace(go.Bar(x=[r["month_start"].strftime("%Y-%m") for r in pts],
                             y=[float(r["export_volume_cny"]) for r in pts], name=corridor,
                             marker_color=CORRIDOR_COLOURS[i % len(CORRIDOR_COLOURS)]))
    fig.update_layout(barmode="stack", height=320, margin={"l": 60, "r": 10, "t": 10, "b": 30},
                      template="plotly_white", yaxis_title="CNY", xaxis={"type": "category"},
                      legend={"orientation": "h", "y": -0.15, "font": {"size": 10}})
    return fig


def _destinations_figure(rows: list[dict]):
    import plotly.graph_objects as go

    rows = list(reversed(rows))
    fig = go.Figure(go.Bar(
        x=[float(r["export_volume_cny"]) for r in rows],
        y=[f"{r['country_name']}{' ★' if r['belt_and_road'] else ''}" for r in rows],
        orientation="h", marker_color=["#2f855a" if r["belt_and_road"] else "#2b6cb0" for r in rows],
        name="export volume"))
    fig.update_layout(height=320, margin={"l": 140, "r": 10, "t": 10, "b": 30}, template="plotly_white",
                      xaxis_title="CNY")
    return fig


# --- page -------------------------------------------------------------------------------------

CSS = """
body { font-family: "Noto Sans CJK SC", "Noto Sans", "Helvetica Neue", Arial, sans-serif; margin: 0; color: #1a202c;
       background: #f7fafc; }
header { background: #1a365d; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header .meta { font-size: 13px; opacity: 0.9; }
main { padding: 16px 32px 32px 32px; }
.grid3 { display: grid; grid-template-columns: repeat(3, 1fr); gap: 16px; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.card { background: white; border-radius: 8px; padding: 14px 16px; box-shadow: 0 1px 3px rgba(0,0,0,0.08); }
.card h2 { font-size: 15px; margin: 0 0 8px 0; }
.kpi .value { font-size: 22px; font-weight: 600; }
.kpi .sub { font-size: 12px; color: #4a5568; margin-top: 4px; }
.status { display: inline-block; padding: 2px 8px; border-radius: 10px; color: white; font-size: 12px; }
.bar { height: 8px; background: #e2e8f0; border-radius: 4px; position: relative; margin: 8px 0 4px 0; }
.bar .fill { height: 8px; background: #2b6cb0; border-radius: 4px; }
.bar .mark { position: absolute; top: -3px; width: 2px; height: 14px; background: #1a202c; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #edf2f7; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { font-size: 12px; color: #4a5568; }
section { margin-top: 16px; }
.dq-ok { background: #1b7f3b; } .dq-fail { background: #c53030; }
"""

# After plotly drew each chart: record what it plotted, for checks in a real browser.
RECORD_SCRIPT = """
document.querySelectorAll('.plotly-graph-div').forEach(function (gd) {
  var sums = {}, last = {};
  (gd.data || []).forEach(function (t) {
    var v = (t.orientation === 'h' ? t.x : t.y) || [];
    var s = 0; for (var i = 0; i < v.length; i++) { s += Number(v[i]); }
    sums[t.name] = s; last[t.name] = v.length ? Number(v[v.length - 1]) : null;
  });
  gd.setAttribute('data-trace-sums', JSON.stringify(sums));
  gd.setAttribute('data-trace-last', JSON.stringify(last));
  gd.setAttribute('data-rendered', gd.querySelector('svg.main-svg') ? 'yes' : 'no');
});
document.body.setAttribute('data-charts-recorded', 'yes');
"""


def _kpi(row: dict) -> str:
    unit = row["unit"]
    colour = STATUS_COLOURS.get(row["status"], "#718096")
    achieved = min(1.0, float(row["cumulative_actual"]) / float(row["target_in_coverage"] or 1))
    expected = min(1.0, float(row["expected_cumulative"]) / float(row["target_in_coverage"] or 1))
    coverage = ""
    if row["covered_from"] > row["target_period_start"]:
        coverage = (f"<div class='sub'>measured from {row['covered_from']:%Y-%m-%d} (first data held); target over "
                    f"that span {_num(row['target_in_coverage'], unit)}</div>")
    return f"""
<div class="card kpi" data-metric="{_attr(row['metric'])}" data-cumulative-actual="{_attr(row['cumulative_actual'])}"
     data-target-value="{_attr(row['target_value'])}" data-expected-cumulative="{_attr(row['expected_cumulative'])}"
     data-projected-end-value="{_attr(row['projected_end_value'])}" data-share-achieved="{_attr(row['share_achieved'])}"
     data-share-elapsed="{_attr(row['share_elapsed'])}" data-status="{_attr(row['status'])}">
  <h2>{_e(row['metric_label'])}</h2>
  <div class="value"><span class="actual">{_num(row['cumulative_actual'], unit)}</span>
    <span class="sub">of <span class="target">{_num(row['target_value'], unit)}</span> {_e(unit)}</span></div>
  <div class="bar"><div class="fill" style="width:{achieved:.2%}"></div>
    <div class="mark" style="left:{expected:.2%}" title="trajectory"></div></div>
  <div class="sub">achieved <span class="share-achieved">{_pct(row['share_achieved'])}</span> ·
    period elapsed <span class="share-elapsed">{_pct(row['share_elapsed'])}</span> ·
    <span class="status" style="background:{colour}">{_e(row['status'])}</span></div>
  <div class="sub">trajectory today <span class="expected">{_num(row['expected_cumulative'], unit)}</span>
    (gap {_num(row['gap_to_trajectory'], unit)}) · projected by {_e(_end(row))}:
    <span class="projected">{_num(row['projected_end_value'], unit)}</span> ({_pct(row['projected_share'])})</div>
  {coverage}
</div>"""


def _end(row: dict) -> str:
    return row["target_period_end"].isoformat()


def _table(headers: list[tuple[str, bool]], rows: list[str], table_id: str) -> str:
    head = "".join(f"<th class='{'n' if n else ''}'>{_e(h)}</th>" for h, n in headers)
    return f"<table id='{table_id}'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_html(data: dict) -> str:
    from plotly.offline import get_plotlyjs

    latest = data["latest"]
    if not latest:
        raise RuntimeError("no progress figures in marts.mart_target_progress: build the marts first")
    as_of = latest[0]["as_of_date"]
    curves: dict[str, list[tuple[float, float]]] = {}
    for c in data["curves"]:
        curves.setdefault(c["curve"], []).append((float(c["elapsed_share"]), float(c["cumulative_share"])))
    charts = []
    for row in latest:
        series = [s for s in data["monthly"] if s["metric"] == row["metric"]]
        fig = _progress_figure(row, series, curves.get(row["trajectory"], [(0.0, 0.0), (1.0, 1.0)]))
        charts.append(f"""<div class="card"><h2>{_e(row['metric_label'])}: against the {_e(row['trajectory'])} trajectory</h2>
            {fig.to_html(full_html=False, include_plotlyjs=False, div_id='chart-' + row['metric'],
                         config={'displayModeBar': False})}</div>""")
    corridor_fig = _corridor_figure(data["corridor_monthly"]).to_html(
        full_html=False, include_plotlyjs=False, div_id="chart-corridor-monthly", config={"displayModeBar": False})
    destination_fig = _destinations_figure(data["destinations"]).to_html(
        full_html=False, include_plotlyjs=False, div_id="chart-destinations", config={"displayModeBar": False})

    corridor_rows = [
        f"<tr data-route='{_attr(r['route_key'])}' data-export-volume-cny='{_attr(r['export_volume_cny'])}' "
        f"data-shipments='{_attr(r['shipments'])}'><td>{_e(r['route_name'])}</td>"
        f"<td class='n'>{_num(r['shipments'])}</td><td class='n'>{_num(r['export_volume_cny'], 'CNY')}</td>"
        f"<td class='n'>{_e(r['declared_to_released_hours_p50'])}</td>"
        f"<td class='n'>{_e(r['declared_to_released_hours_p90'])}</td></tr>" for r in data["corridors"]]
    destination_rows = [
        f"<tr data-country='{_attr(r['country_key'])}' data-export-volume-cny='{_attr(r['export_volume_cny'])}'>"
        f"<td>{_e(r['country_name'])}</td><td>{_e(r['region'])}</td><td>{'yes' if r['belt_and_road'] else 'no'}</td>"
        f"<td class='n'>{_num(r['export_volume_cny'], 'CNY')}</td></tr>" for r in data["destinations"]]
    enterprise_rows = [
        f"<tr data-credit-code='{_attr(r['credit_code'])}' data-exports-to-date-cny='{_attr(r['exports_to_date_cny'])}'>"
        f"<td class='n'>{r['export_rank']}</td><td>{_e(r['enterprise_name'])}</td><td>{_e(r['enterprise_type'])}</td>"
        f"<td>{_e(r['first_export_date'])}</td><td class='n'>{_num(r['exports_to_date_cny'], 'CNY')}</td>"
        f"<td class='n'>{_pct(r['share_of_park_exports'])}</td><td>{'yes' if r['active_last_90_days'] else 'no'}</td></tr>"
        for r in data["enterprises"]]

    dq = data["dq"]
    dq_ok = bool(dq) and all(r["blocking_success"] for r in dq)
    dq_text = "no validation recorded" if not dq else (
        f"{'passed' if dq_ok else 'FAILED'}: {sum(r['passed'] for r in dq)} of {sum(r['evaluated'] for r in dq)} checks "
        f"passed over {len(dq)} suites, {sum(r['failed_warning'] for r in dq)} warnings, "
        f"validated {max(r['run_at'] for r in dq):%Y-%m-%d %H:%M} UTC")
    generated = datetime.now(timezone.utc)

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Park export targets: progress as of {as_of}</title>
<style>{CSS}</style>
<script>{get_plotlyjs()}</script>
</head>
<body>
<header>
  <h1>China-Singapore (Chongqing) Cross-Border E-commerce Industry Park: progress toward the five-year targets</h1>
  <div class="meta"><span id="as-of" data-as-of-date="{_attr(as_of)}">Data as of {as_of}</span> ·
    <span id="dq" data-dq-status="{'passed' if dq_ok else 'failed'}">Data quality
    <span class="status {'dq-ok' if dq_ok else 'dq-fail'}">{_e(dq_text)}</span></span> ·
    generated {generated:%Y-%m-%d %H:%M} UTC</div>
</header>
<main>
<section class="grid3" id="kpis">{''.join(_kpi(r) for r in latest)}</section>
<section class="grid3" id="progress-charts">{''.join(charts)}</section>
<section class="grid2">
  <div class="card"><h2>Monthly export volume by corridor (CNY)</h2>{corridor_fig}</div>
  <div class="card"><h2>Corridors to date</h2>
    {_table([('corridor', False), ('shipments', True), ('export volume (CNY)', True),
             ('declared→released p50 (h)', True), ('p90 (h)', True)], corridor_rows, 'corridors')}
    <p class="note">Shipments are released inventory lists; lead time is customs declaration to release.
      Export volume to date: <span id="export-volume-total" data-export-volume-cny="{_attr(data['export_volume_total'])}">
      {_num(data['export_volume_total'], 'CNY')}</span> CNY.</p></div>
</section>
<section class="grid2">
  <div class="card"><h2>Top {TOP_N} destinations (★ Belt and Road partner)</h2>{destination_fig}
    {_table([('country', False), ('region', False), ('Belt and Road', False), ('export volume (CNY)', True)],
            destination_rows, 'top-destinations')}</div>
  <div class="card"><h2>Top {TOP_N} enterprises by exports to date</h2>
    {_table([('#', True), ('enterprise', False), ('type', False), ('first export', False), ('exports (CNY)', True),
             ('share', True), ('active 90d', False)], enterprise_rows, 'top-enterprises')}</div>
</section>
<p class="note">Export volume: released cross-border e-commerce export declarations (9610, 9710, 9810, 1210) of park
  enterprises, in CNY at the export date's central parity. Status rule, projection and trajectory: see
  mart_target_progress in the warehouse's dbt documentation.</p>
</main>
<script>{RECORD_SCRIPT}</script>
</body></html>
"""


def render(conn, out_dir: Path) -> Path:
    """Write progress.html (self-contained: no network needed to view it) into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "progress.html"
    path.write_text(render_html(gather(conn)), encoding="utf-8")
    log.info("progress report written to %s (%d bytes)", path, path.stat().st_size)
    return path


def render_pdf(page: Path, out: Path) -> Path:
    """The same page printed to PDF by headless Chromium."""
    from parkdw import browser

    return browser.print_pdf(page, out)
