-- One row per e-commerce order document (guid), latest version; appType=3 deletes.
-- An orderNo is unique only within its platform (ebpCode): the same number on two platforms is
-- two orders, so (ebp_code, order_no) is the business key.
select
    o.guid as order_guid,
    o.order_no,
    o.order_type,
    o.ebp_code,
    o.ebp_name,
    o.ebc_code,
    {{ ceb_timestamp('o.app_time') }} as ordered_at,
    ({{ ceb_timestamp('o.app_time') }} at time zone 'Asia/Shanghai')::date as order_date,
    {{ ceb_decimal('o.goods_value') }} as goods_value,
    {{ ceb_decimal('o.freight') }} as freight,
    o.currency as currency_code,
    o._batch_id,
    o._record_no,
    batch.source as _source,
    o._loaded_at
from {{ source('customs', 'ceb_order_head') }} as o
{{ join_batch_source('o') }}
where {{ is_latest_version('o', source('customs', 'ceb_order_head')) }}
  and o.app_type <> '3'
