-- One row per e-commerce order document (guid), latest version; appType=3 deletes.
with versions as (
    select
        *,
        row_number() over (partition by guid order by app_time desc, _batch_id desc, _record_no desc) as version_rank
    from {{ source('customs', 'ceb_order_head') }}
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
where version_rank = 1
  and app_type <> '3'
