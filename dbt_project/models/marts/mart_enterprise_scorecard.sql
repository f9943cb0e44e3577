-- One row per park enterprise (its latest registry version): when it was introduced or
-- incubated, when it first and last exported, what it exported to date (the export volume
-- definition), and whether it exported in the last 90 days before the as-of date.
with as_of as (
    select {{ progress_as_of_date() }} as as_of_date
),

latest as (
    select distinct on (credit_code) *
    from {{ ref('dim_enterprise') }}
    order by credit_code, valid_from desc
),

-- the export volume definition (mart_export_volume_daily) per enterprise, from the daily sums
exports as (
    select
        e.credit_code,
        min(d.export_date) as first_export_date,
        max(d.export_date) as last_export_date,
        count(distinct d.export_date) as export_days,
        sum(d.released_lines)::bigint as released_lines,
        sum(d.released_inventories)::bigint as released_inventories,
        sum(d.value_cny) as exports_to_date_cny,
        sum(d.value_usd) as exports_to_date_usd,
        coalesce(sum(d.value_cny) filter (where d.export_date > (select as_of_date from as_of) - 90), 0)
            as exports_last_90_days_cny
    from {{ ref('int_export_volume_by_day') }} as d
    inner join {{ ref('dim_enterprise') }} as e using (enterprise_key)
    where d.trade_mode_key in ('9610', '9710', '9810', '1210')
    group by e.credit_code
)

select
    e.credit_code,
    e.customs_code,
    e.enterprise_name,
    e.enterprise_type,
    e.status,
    e.status_date,
    e.entry_date,
    case when e.counts_as_introduced then e.entry_date end as introduced_date,
    case when e.counts_as_incubated then e.entry_date end as incubated_date,
    x.first_export_date,
    x.last_export_date,
    coalesce(x.export_days, 0) as export_days,
    coalesce(x.released_lines, 0) as released_lines,
    coalesce(x.released_inventories, 0) as released_inventories,
    coalesce(x.exports_to_date_cny, 0) as exports_to_date_cny,
    coalesce(x.exports_to_date_usd, 0) as exports_to_date_usd,
    coalesce(x.exports_last_90_days_cny, 0) as exports_last_90_days_cny,
    coalesce(x.last_export_date > (select as_of_date from as_of) - 90, false) as active_last_90_days,
    case when x.credit_code is not null
         then rank() over (order by x.exports_to_date_cny desc nulls last) end as export_rank,
    round(coalesce(x.exports_to_date_cny, 0) / nullif(sum(x.exports_to_date_cny) over (), 0), 6)
        as share_of_park_exports,
    (select as_of_date from as_of) as as_of_date
from latest as e
left join exports as x using (credit_code)
