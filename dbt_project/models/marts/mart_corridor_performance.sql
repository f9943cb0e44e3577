-- Per export corridor (dim_logistics_route) and month, and over the whole span to date:
-- shipments (released inventory lists), value (the export volume definition), and lead times
-- p50 / p90 over shipments: customs declaration -> release from the declaration lines, and
-- release -> departure -> delivery and order -> delivery from fct_parcel_shipments (the
-- carriers' tracking; null until a shipment reached the milestone).
-- depends_on: {{ ref('mart_export_volume_daily') }}  (its reconciliation tests run in this model's build)
{{ config(pre_hook="set local work_mem = '256MB'") }}
-- (the percentiles sort every shipment twice, month and to date: in memory, not on disk)

-- The shipments of the export volume definition (mart_export_volume_daily): park enterprises,
-- the four trade modes; one row per released list with its lines summed (int_corridor_shipments).
-- Only the columns the figures use, so the sorts move narrow rows.
with journeys as (
    select
        s.route_key,
        s.export_date,
        s.released_lines,
        s.value_cny,
        s.value_usd,
        s.declared_to_released_hours,
        s.is_delivered,
        s.hours_released_to_departed,
        s.hours_departed_to_delivered,
        s.hours_order_to_delivered
    from {{ ref('int_corridor_shipments') }} as s
    inner join {{ ref('dim_enterprise') }} as e using (enterprise_key)
    where s.trade_mode_key in ('9610', '9710', '9810', '1210')
),

grains as (
    select 'month' as period_grain, date_trunc('month', export_date)::date as period_start, s.*
    from journeys as s
    union all
    select 'to_date', (select min(export_date) from journeys), s.*
    from journeys as s
),

figures as (
    select
        g.period_grain,
        g.period_start,
        g.route_key,
        count(*) as shipments,
        sum(g.released_lines) as released_lines,
        sum(g.value_cny) as export_volume_cny,
        sum(g.value_usd) as export_volume_usd,
        round(avg(g.declared_to_released_hours)::numeric, 2) as declared_to_released_hours_avg,
        round((percentile_cont(0.5) within group (order by g.declared_to_released_hours))::numeric, 2)
            as declared_to_released_hours_p50,
        round((percentile_cont(0.9) within group (order by g.declared_to_released_hours))::numeric, 2)
            as declared_to_released_hours_p90,
        count(*) filter (where g.is_delivered) as delivered_shipments,
    {%- for leg in ['released_to_departed', 'departed_to_delivered', 'order_to_delivered'] %}
        round((percentile_cont(0.5) within group (order by g.hours_{{ leg }}))::numeric, 2) as {{ leg }}_hours_p50,
        round((percentile_cont(0.9) within group (order by g.hours_{{ leg }}))::numeric, 2) as {{ leg }}_hours_p90{{ ',' if not loop.last }}
    {%- endfor %}
    from grains as g
    group by g.period_grain, g.period_start, g.route_key
)

select
    f.period_grain,
    f.period_start,
    f.route_key,
    r.route_name,
    r.corridor,
    r.international_leg,
    f.shipments,
    f.released_lines,
    f.export_volume_cny,
    f.export_volume_usd,
    f.declared_to_released_hours_avg,
    f.declared_to_released_hours_p50,
    f.declared_to_released_hours_p90,
    f.delivered_shipments,
{%- for leg in ['released_to_departed', 'departed_to_delivered', 'order_to_delivered'] %}
    f.{{ leg }}_hours_p50,
    f.{{ leg }}_hours_p90,
{%- endfor %}
    r.typical_transit_days_min,
    r.typical_transit_days_max
from figures as f
left join {{ ref('dim_logistics_route') }} as r on r.route_key = f.route_key
