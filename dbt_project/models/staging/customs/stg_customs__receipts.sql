-- CEB403 payment receipts, one row per guid (latest version; appType=3 deletes).
select
    r.guid as receipt_guid,
    r.ebp_code,
    r.ebc_code,
    r.order_no,
    r.pay_code,
    r.pay_no,
    {{ ceb_decimal('r.charge') }} as charge,
    r.currency as currency_code,
    {{ ceb_timestamp('r.accounting_date') }} as paid_at,
    {{ ceb_timestamp('r.app_time') }} as declared_at,
    r._batch_id,
    batch.source as _source,
    r._loaded_at
from {{ source('customs', 'ceb_receipts') }} as r
{{ join_batch_source('r') }}
where {{ is_latest_version('r', source('customs', 'ceb_receipts')) }}
  and r.app_type <> '3'
