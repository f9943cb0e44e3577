-- Export volume by month and every drill-down dimension at once: corridor, destination country
-- and region, Belt and Road partner on the export date, trade mode, HS chapter, and the type of
-- the enterprise (its registry version valid on the export date). Summing any slice gives the
-- same total as mart_export_volume_daily (tested per month).
-- depends_on: {{ ref('mart_export_volume_daily') }}  (its reconciliation tests run in this model's build)
with lines as (
    {{ export_volume_lines() }}
)

select
    date_trunc('month', l.export_date)::date as month_start,
    l.route_key,
    r.corridor,
    r.route_name,
    l.country_key,
    c.iso_alpha2 as country_iso2,
    c.name_en as country_name,
    c.region,
    coalesce(c.belt_and_road_valid_from <= l.export_date
             and (c.belt_and_road_valid_to is null or l.export_date < c.belt_and_road_valid_to), false)
        as is_belt_and_road_partner,
    coalesce(c.is_asean and c.asean_valid_from <= l.export_date, false) as is_asean,
    coalesce(c.is_rcep and c.rcep_valid_from <= l.export_date, false) as is_rcep,
    l.trade_mode_key as trade_mode,
    t.name_en as trade_mode_name,
    l.hs_chapter,
    h.description_hs2022 as hs_chapter_description,
    l.enterprise_type,
    count(*) as released_lines,
    count(distinct l.inventory_guid) as released_inventories,
    sum(l.value_cny) as export_volume_cny,
    sum(l.value_usd) as export_volume_usd
from lines as l
left join {{ ref('dim_logistics_route') }} as r on r.route_key = l.route_key
left join {{ ref('dim_country') }} as c on c.country_key = l.country_key
left join {{ ref('dim_trade_mode') }} as t on t.trade_mode_key = l.trade_mode_key
left join {{ ref('hs_chapters') }} as h on h.chapter = l.hs_chapter
group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
