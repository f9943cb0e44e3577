-- Released declaration lines summed per month and every drill-down of
-- mart_export_volume_monthly: corridor, destination country, Belt and Road / ASEAN / RCEP
-- partner on the export date (dim_country), trade mode, HS chapter, and the declaring enterprise
-- (ebcCode and registry version; first / last export date of the row, for the version checks).
-- Each list's lines fall in one enterprise and one date, so released_inventories (distinct lists
-- within the row) adds up across enterprises.
-- Incremental by month: a run rebuilds the months of the dates export_date_changes finds. The
-- partner flags come from the seeds: a changed trade bloc or Belt and Road seed needs a full
-- refresh of this model, as the facts' seed-derived keys do.
-- The version checks of its scope read the dimension:
-- depends_on: {{ ref('dim_enterprise') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['month_start']}],
    pre_hook=["{{ stage_incremental_scope('month_start', export_month_changes()) }}",
              "{{ incremental_plan_settings() }}"],
) }}

with lines as (
    select f.*
    from {{ ref('fct_export_declaration_lines') }} as f
    {%- if is_incremental() %}
    -- the months in scope, as an export_date range (index) and exactly
    where f.export_date >= (select min(scope_key) from {{ scope_table() }})
      and f.export_date < (select max(scope_key) + interval '1 month' from {{ scope_table() }})
      and date_trunc('month', f.export_date)::date in (select scope_key from {{ scope_table() }})
    {%- endif %}
),

-- each list's lines per drill-down cell first: then released_inventories is a count of rows
-- (hash aggregates, no sort for a distinct count)
per_list as (
    select
        l.export_date, l.ebc_code, l.enterprise_key, l.trade_mode_key, l.route_key, l.country_key,
        l.hs_chapter, l.inventory_guid,
        count(*) as released_lines,
        sum(l.value_cny) as value_cny,
        sum(l.value_usd) as value_usd,
        max(l._loaded_at) as _loaded_at
    from lines as l
    group by l.export_date, l.ebc_code, l.enterprise_key, l.trade_mode_key, l.route_key, l.country_key,
             l.hs_chapter, l.inventory_guid
)

select
    date_trunc('month', l.export_date)::date as month_start,
    l.ebc_code,
    l.enterprise_key,
    l.trade_mode_key,
    l.route_key,
    l.country_key,
    coalesce(c.belt_and_road_valid_from <= l.export_date
             and (c.belt_and_road_valid_to is null or l.export_date < c.belt_and_road_valid_to), false)
        as is_belt_and_road_partner,
    coalesce(c.is_asean and c.asean_valid_from <= l.export_date, false) as is_asean,
    coalesce(c.is_rcep and c.rcep_valid_from <= l.export_date, false) as is_rcep,
    l.hs_chapter,
    min(l.export_date) as first_export_date,
    max(l.export_date) as last_export_date,
    sum(l.released_lines)::bigint as released_lines,
    count(*) as released_inventories,
    sum(l.value_cny) as value_cny,
    sum(l.value_usd) as value_usd,
    max(l._loaded_at) as _loaded_at
from per_list as l
left join {{ ref('dim_country') }} as c on c.country_key = l.country_key
group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
