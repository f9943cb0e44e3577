-- Grain: one e-commerce export order (CEB303, latest version; appType=3 removes it). Values in
-- the order's currency, in CNY at the order date's central parity, and in USD. Which other
-- documents exist for the order is fct_document_match's (join on order_guid).
-- The dimensions its keys reference (their relationship tests run with this model):
-- depends_on: {{ ref('dim_date') }}
-- depends_on: {{ ref('dim_platform') }}
-- depends_on: {{ ref('dim_currency') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['order_guid']}],
    pre_hook=["{{ stage_incremental_scope('order_guid', export_order_scope()) }}", "{{ full_build_plan_settings() }}"],
) }}

select
    {{ surrogate_key(['o.order_guid']) }} as export_order_key,
    o.order_guid,
    o.order_no,
    o.ebp_code as platform_key,
    e.enterprise_key,
    o.ebc_code,
    to_char(o.order_date, 'YYYYMMDD')::integer as order_date_key,
    o.order_date,
    o.ordered_at,
    cur.customs_code as currency_key,
    o.order_type,
    o.goods_value,
    o.freight,
    round(o.goods_value * case when cur.currency_iso = 'CNY' then 1 else fx.cny_per_unit end, 2) as goods_value_cny,
    round(o.goods_value * case when cur.currency_iso = 'CNY' then 1 else fx.cny_per_unit end / usd.cny_per_unit, 2) as goods_value_usd,
    coalesce(lc.line_count, 0) as line_count,
    o._batch_id,
    o._source,
    o._loaded_at
from {{ ref('stg_customs__orders') }} as o
-- The lines of this very version (stg_customs__order_lines' rows), counted in raw by the head's
-- batch and record, not by the view's latest-version check per order. Grouped once and hashed:
-- a count per order ran in the leader alone, 1 M index scans after the parallel join (the
-- month's build 21-23 s against 15 s); an incremental run groups the scoped orders' lines only.
left join (
    select l.head_guid, l._batch_id, l._record_no, count(*) as line_count
    from {{ source('customs', 'ceb_order_list') }} as l
    where {{ in_incremental_scope('l.head_guid') }}
    group by l.head_guid, l._batch_id, l._record_no
) as lc on lc.head_guid = o.order_guid and lc._batch_id = o._batch_id and lc._record_no = o._record_no
left join {{ ref('int_currency_codes') }} as cur on cur.delivered_code = o.currency_code
left join {{ ref('int_fx_rates_daily') }} as fx on fx.currency_iso = cur.currency_iso and fx.calendar_date = o.order_date
left join {{ ref('int_fx_rates_daily') }} as usd on usd.currency_iso = 'USD' and usd.calendar_date = o.order_date
left join {{ ref('dim_enterprise') }} as e
    on e.customs_code = o.ebc_code
   and o.order_date >= e.valid_from
   and (e.valid_to is null or o.order_date < e.valid_to)
where {{ in_incremental_scope('o.order_guid') }}
