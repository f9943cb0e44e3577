-- Grain: one order (CEB303), or one orphan receipt / waybill that matches no order. Which of
-- the four documents exist, whether their values agree, and why not.
-- The dimensions its keys reference (their relationship tests run with this model):
-- depends_on: {{ ref('dim_date') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['match_group']}],
    pre_hook="{{ stage_incremental_scope('match_group', document_match_scope(with_stale_enterprises=true)) }}",
) }}

select
    m.document_match_key,
    m.match_group,
    m.order_guid,
    m.receipt_guid,
    m.inventory_guid,
    m.waybill_guid,
    m.ebp_code as platform_key,
    m.order_no,
    e.enterprise_key,
    m.ebc_code,
    to_char(m.order_date, 'YYYYMMDD')::integer as order_date_key,
    m.order_date,
    m.has_order,
    m.has_receipt,
    m.has_inventory,
    m.has_waybill,
    m.is_released,
    m.latest_status,
    m.declarations,
    m.order_value,
    m.receipt_value,
    m.inventory_value,
    m.order_currency_iso,
    m.receipt_value_agrees,
    m.inventory_value_agrees,
    m.mismatch_reason is null as fully_matched,
    m.mismatch_reason,
    m._batch_id,
    m._loaded_at
from {{ ref('int_document_match') }} as m
left join {{ ref('dim_enterprise') }} as e
    on e.customs_code = m.ebc_code
   and m.order_date is not null
   and m.order_date >= e.valid_from
   and (e.valid_to is null or m.order_date < e.valid_to)
where {{ in_incremental_scope('m.match_group') }}
