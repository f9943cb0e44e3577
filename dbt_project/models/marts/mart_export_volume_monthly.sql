-- Export volume by month and every drill-down dimension at once: corridor, destination country
-- and region, Belt and Road partner on the export date, trade mode, HS chapter, and the type of
-- the enterprise (its registry version valid on the export date). Summing any slice gives the
-- same total as mart_export_volume_daily (tested per month). From int_export_volume_by_month,
-- the lines summed per month, drill-down and enterprise version.
-- depends_on: {{ ref('mart_export_volume_daily') }}  (its reconciliation tests run in this model's build)
-- summed by the keys first (the export volume definition: park enterprises, the four trade
-- modes), then named: a hash aggregate over narrow rows, then a few thousand rows joined
with volume as (
    select
        m.month_start,
        m.route_key,
        m.country_key,
        m.is_belt_and_road_partner,
        m.is_asean,
        m.is_rcep,
        m.trade_mode_key,
        m.hs_chapter,
        e.enterprise_type,
        sum(m.released_lines)::bigint as released_lines,
        sum(m.released_inventories)::bigint as released_inventories,
        sum(m.value_cny) as export_volume_cny,
        sum(m.value_usd) as export_volume_usd
    from {{ ref('int_export_volume_by_month') }} as m
    inner join {{ ref('dim_enterprise') }} as e using (enterprise_key)
    where m.trade_mode_key in ('9610', '9710', '9810', '1210')
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9
)

select
    v.month_start,
    v.route_key,
    r.corridor,
    r.route_name,
    v.country_key,
    c.iso_alpha2 as country_iso2,
    c.name_en as country_name,
    c.region,
    v.is_belt_and_road_partner,
    v.is_asean,
    v.is_rcep,
    v.trade_mode_key as trade_mode,
    t.name_en as trade_mode_name,
    v.hs_chapter,
    h.description_hs2022 as hs_chapter_description,
    v.enterprise_type,
    v.released_lines,
    v.released_inventories,
    v.export_volume_cny,
    v.export_volume_usd
from volume as v
left join {{ ref('dim_logistics_route') }} as r on r.route_key = v.route_key
left join {{ ref('dim_country') }} as c on c.country_key = v.country_key
left join {{ ref('dim_trade_mode') }} as t on t.trade_mode_key = v.trade_mode_key
left join {{ ref('hs_chapters') }} as h on h.chapter = v.hs_chapter
