-- THE definition of export volume (what counts toward the 16 billion yuan): released export
-- inventory lines of park enterprises under the four cross-border e-commerce trade modes,
-- valued in CNY at the export date's central parity. Nothing else sums export volume.
select
    f.export_date,
    f.trade_mode_key as trade_mode,
    count(*) as released_lines,
    count(distinct f.inventory_guid) as released_inventories,
    sum(f.value_cny) as export_volume_cny,
    sum(f.value_usd) as export_volume_usd
from {{ ref('fct_export_declaration_lines') }} as f
inner join {{ ref('dim_enterprise') }} as e using (enterprise_key)
where f.trade_mode_key in ('9610', '9710', '9810', '1210')
group by 1, 2
