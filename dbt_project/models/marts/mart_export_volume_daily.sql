-- THE definition of export volume (what counts toward the 16 billion yuan): released export
-- inventory lines of park enterprises under the four cross-border e-commerce trade modes,
-- valued in CNY at the export date's central parity. Nothing else sums export volume.
-- From int_export_volume_by_day, the lines summed per date, trade mode and enterprise version.
select
    d.export_date,
    d.trade_mode_key as trade_mode,
    sum(d.released_lines)::bigint as released_lines,
    sum(d.released_inventories)::bigint as released_inventories,
    sum(d.value_cny) as export_volume_cny,
    sum(d.value_usd) as export_volume_usd
from {{ ref('int_export_volume_by_day') }} as d
inner join {{ ref('dim_enterprise') }} as e using (enterprise_key)
where d.trade_mode_key in ('9610', '9710', '9810', '1210')
group by 1, 2
