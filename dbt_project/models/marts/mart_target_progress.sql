-- Progress toward the park's five-year targets, per metric and month, quarter and year, up to
-- the as-of date. The rules (trajectory, coverage, run rate, status) are stated in
-- _marts__progress.yml; the knobs are dbt vars with the defaults below.
{%- set trajectory_override = var('target_trajectory', {}) %}
{%- set target_scale = var('target_scale', {}) %}
{%- set run_rate_days = var('progress_run_rate_days', 90) | int %}
{%- set on_track_below = var('progress_on_track_tolerance', 0.15) %}
{%- set at_risk_below = var('progress_at_risk_tolerance', 0.30) %}

with as_of as (
    select {{ progress_as_of_date() }} as as_of_date
),

targets as (
    select
        metric, metric_label, unit, comparison, period_start, period_end,
        (period_end - period_start + 1) as period_days,
        target_value * {{ per_metric(target_scale, 1) }} as target_value,
        {% set quoted = {} %}{% for m, c in trajectory_override.items() %}{% do quoted.update({m: "'" ~ c ~ "'"}) %}{% endfor -%}
        {{ per_metric(quoted, "'linear'") }} as trajectory
    from {{ ref('park_targets') }}
),

milestones as (
    select metric, milestone_date, cumulative_value * {{ per_metric(target_scale, 1) }} as cumulative_value
    from {{ ref('park_target_milestones') }}
),

-- What each metric adds per day: introductions and incubations by entry date (current registry
-- version), export volume by export date (the one definition, mart_export_volume_daily).
daily as (
    select entry_date as day, 'enterprises_introduced' as metric, count(*)::numeric as actual
    from {{ ref('dim_enterprise') }} where counts_as_introduced and is_current group by 1
    union all
    select entry_date, 'startups_incubated', count(*)::numeric
    from {{ ref('dim_enterprise') }} where counts_as_incubated and is_current group by 1
    union all
    select export_date, 'export_volume_cny', sum(export_volume_cny)
    from {{ ref('mart_export_volume_daily') }} group by 1
),

-- From when the warehouse holds a metric's history: the registry lists every enterprise since
-- the park opened; declarations start with the first one loaded.
coverage as (
    select
        t.*,
        greatest(t.period_start, case when t.metric = 'export_volume_cny'
                                      then coalesce((select min(day) from daily where metric = t.metric), t.period_start)
                                      else t.period_start end) as covered_from
    from targets as t
),

periods as (
    select
        c.*,
        g.period_grain,
        p::date as period_start_date,
        least((p + g.step - interval '1 day')::date, (select as_of_date from as_of)) as period_end_date
    from coverage as c
    cross join (values ('month', interval '1 month'), ('quarter', interval '3 months'), ('year', interval '1 year'))
        as g (period_grain, step)
    cross join lateral generate_series(
        date_trunc(g.period_grain, c.period_start),
        date_trunc(g.period_grain, (select as_of_date from as_of)),
        g.step
    ) as p
),

measured as (
    select
        p.*,
        (select coalesce(sum(d.actual), 0) from daily as d where d.metric = p.metric
            and d.day between greatest(p.period_start_date, p.period_start) and p.period_end_date) as period_actual,
        (select coalesce(sum(d.actual), 0) from daily as d where d.metric = p.metric
            and d.day between p.period_start and p.period_end_date) as cumulative_actual,
        -- the trailing run-rate window, clipped to the covered span
        greatest(p.covered_from, p.period_end_date - {{ run_rate_days - 1 }}) as run_rate_from,
        least(1.0, greatest(0.0, (p.period_end_date - p.period_start + 1)::numeric / p.period_days)) as share_elapsed,
        least(1.0, greatest(0.0, (p.covered_from - p.period_start)::numeric / p.period_days)) as share_before_coverage,
        greatest(0, p.period_end - p.period_end_date) as days_remaining
    from periods as p
),

on_trajectory as (
    select
        m.*,
        {{ trajectory_share('m.trajectory', 'm.share_elapsed') }} as trajectory_share,
        {{ trajectory_share('m.trajectory', 'm.share_before_coverage') }} as trajectory_share_before_coverage,
        case when m.period_end_date >= m.run_rate_from then
            (select coalesce(sum(d.actual), 0) from daily as d where d.metric = m.metric
                and d.day between m.run_rate_from and m.period_end_date)
            / (m.period_end_date - m.run_rate_from + 1) end as run_rate_per_day
    from measured as m
),

figures as (
    select
        o.*,
        o.target_value * (1 - o.trajectory_share_before_coverage) as target_in_coverage,
        o.target_value * greatest(0, o.trajectory_share - o.trajectory_share_before_coverage) as expected_raw,
        o.cumulative_actual + coalesce(o.run_rate_per_day, 0) * o.days_remaining as projected_raw
    from on_trajectory as o
)

select
    f.metric,
    f.period_grain,
    f.period_start_date as period_start,
    f.period_end_date as period_end,
    f.metric_label,
    f.unit,
    -- the monthly grain's readers (parkdw progress) know these names
    f.period_start_date as month_start,
    f.period_end_date as month_end,
    f.period_actual,
    f.cumulative_actual,
    f.target_value,
    f.period_start as target_period_start,
    f.period_end as target_period_end,
    f.trajectory,
    f.covered_from,
    round(f.target_in_coverage, 2) as target_in_coverage,
    round(f.cumulative_actual / f.target_value, 6) as share_achieved,
    round(f.share_elapsed, 6) as share_elapsed,
    round(f.trajectory_share, 6) as trajectory_share,
    round(f.expected_raw, 2) as expected_cumulative,
    round(f.cumulative_actual - f.expected_raw, 2) as gap_to_trajectory,
    round(f.run_rate_per_day, 4) as run_rate_per_day,
    (f.period_end_date - f.run_rate_from + 1) as run_rate_days,
    f.days_remaining,
    round(f.projected_raw, 2) as projected_end_value,
    round(f.projected_raw / nullif(f.target_in_coverage, 0), 6) as projected_share,
    ms.milestone_date as next_milestone_date,
    ms.cumulative_value as next_milestone_value,
    case
        when (f.comparison = 'more_than' and f.cumulative_actual > f.target_in_coverage)
          or (f.comparison <> 'more_than' and f.cumulative_actual >= f.target_in_coverage) then 'achieved'
        when f.cumulative_actual >= (1 - {{ on_track_below }}) * f.expected_raw then 'on track'
        when f.cumulative_actual >= (1 - {{ at_risk_below }}) * f.expected_raw
          or f.projected_raw >= f.target_in_coverage then 'at risk'
        else 'behind'
    end as status,
    (select as_of_date from as_of) as as_of_date
from figures as f
left join lateral (
    select milestone_date, cumulative_value from milestones as m
    where m.metric = f.metric and m.milestone_date > f.period_end_date
    order by milestone_date limit 1
) as ms on true
