-- One row per e-commerce order document (guid), latest version; appType=3 deletes.
with versions as (
    select distinct on (guid) *
    from {{ source('customs', 'ceb_order_head') }}
    order by guid, app_time desc, _batch_id desc, _record_no desc
)

select
    guid as order_guid,
    order_no,
    order_type,
    ebp_code,
    ebc_code,
    {{ ceb_timestamp('app_time') }} as ordered_at,
    {{ to_numeric('goods_value') }} as goods_value,
    {{ to_numeric('freight') }} as freight,
    currency as currency_code,
    _batch_id,
    _source
from versions
where app_type <> '3'
