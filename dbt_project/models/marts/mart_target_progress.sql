-- Progress toward the park's five-year targets, per metric and month, up to the as-of month.
-- expected_cumulative is the linear trajectory: target x share of the period elapsed.
with targets as (
    select * from {{ ref('park_targets') }}
),

as_of as (
    select greatest(
        (select max(export_date) from {{ ref('mart_export_volume_daily') }}),
        (select max(status_date) from {{ ref('dim_enterprise') }})
    ) as as_of_date
),

months as (
    select generate_series(
        date_trunc('month', date '{{ var("park_period_start") }}'),
        date_trunc('month', (select as_of_date from as_of)),
        interval '1 month'
    )::date as month_start
),

monthly_actuals as (
    select date_trunc('month', entry_date)::date as month_start, 'enterprises_introduced' as metric, count(*)::numeric as actual
    from {{ ref('dim_enterprise') }} where counts_as_introduced and is_current group by 1
    union all
    select date_trunc('month', entry_date)::date, 'startups_incubated', count(*)::numeric
    from {{ ref('dim_enterprise') }} where counts_as_incubated and is_current group by 1
    union all
    select date_trunc('month', export_date)::date, 'export_volume_cny', sum(export_volume_cny)
    from {{ ref('mart_export_volume_daily') }} group by 1
),

grid as (
    select t.metric, t.metric_label, t.unit, t.target_value, t.period_start, t.period_end, m.month_start,
           least((m.month_start + interval '1 month - 1 day')::date, (select as_of_date from as_of)) as month_end
    from targets as t cross join months as m
),

progress as (
    select
        g.*,
        coalesce(a.actual, 0) as period_actual,
        sum(coalesce(a.actual, 0)) over (partition by g.metric order by g.month_start) as cumulative_actual,
        least(1.0, greatest(0.0, (g.month_end - g.period_start + 1)::numeric / (g.period_end - g.period_start + 1))) as share_elapsed
    from grid as g
    left join monthly_actuals as a using (metric, month_start)
)

select
    metric,
    metric_label,
    unit,
    month_start,
    month_end,
    period_actual,
    cumulative_actual,
    target_value,
    round(cumulative_actual / target_value, 6) as share_achieved,
    round(share_elapsed, 6) as share_elapsed,
    round(target_value * share_elapsed, 2) as expected_cumulative,
    round(cumulative_actual - target_value * share_elapsed, 2) as gap_to_trajectory,
    case
        when cumulative_actual >= target_value then 'achieved'
        when cumulative_actual >= target_value * share_elapsed then 'on track'
        when cumulative_actual >= 0.9 * target_value * share_elapsed then 'at risk'
        else 'behind'
    end as status,
    (select as_of_date from as_of) as as_of_date
from progress
