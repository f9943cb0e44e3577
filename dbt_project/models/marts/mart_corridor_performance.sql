-- Per export corridor (dim_logistics_route) and month, and over the whole span to date:
-- shipments (released inventory lists), value (the export volume definition) and the customs
-- lead time from declaration to release, p50 / p90 over shipments.
-- Extends to order -> delivered lead times when fct_parcel_shipments lands.
-- depends_on: {{ ref('mart_export_volume_daily') }}  (its reconciliation tests run in this model's build)
with lines as (
    {{ export_volume_lines() }}
),

shipments as (
    select
        inventory_guid,
        route_key,
        min(export_date) as export_date,
        count(*) as released_lines,
        sum(value_cny) as value_cny,
        sum(value_usd) as value_usd,
        extract(epoch from max(released_at) - min(declared_at)) / 3600.0 as declared_to_released_hours
    from lines
    group by inventory_guid, route_key
),

grains as (
    select 'month' as period_grain, date_trunc('month', export_date)::date as period_start, s.*
    from shipments as s
    union all
    select 'to_date', (select min(export_date) from shipments), s.*
    from shipments as s
)

select
    g.period_grain,
    g.period_start,
    g.route_key,
    r.route_name,
    r.corridor,
    r.international_leg,
    count(*) as shipments,
    sum(g.released_lines) as released_lines,
    sum(g.value_cny) as export_volume_cny,
    sum(g.value_usd) as export_volume_usd,
    round(avg(g.declared_to_released_hours)::numeric, 2) as declared_to_released_hours_avg,
    round((percentile_cont(0.5) within group (order by g.declared_to_released_hours))::numeric, 2)
        as declared_to_released_hours_p50,
    round((percentile_cont(0.9) within group (order by g.declared_to_released_hours))::numeric, 2)
        as declared_to_released_hours_p90,
    r.typical_transit_days_min,
    r.typical_transit_days_max
from grains as g
left join {{ ref('dim_logistics_route') }} as r on r.route_key = g.route_key
group by g.period_grain, g.period_start, g.route_key, r.route_name, r.corridor, r.international_leg,
         r.typical_transit_days_min, r.typical_transit_days_max
