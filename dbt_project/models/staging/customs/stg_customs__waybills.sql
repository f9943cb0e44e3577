-- CEB505 logistics waybills, one row per guid (latest version; appType=3 deletes).
-- The consignor's telephone is contact data: hashed here, never passed on in clear.
select
    w.guid as waybill_guid,
    w.logistics_code,
    w.logistics_no,
    {{ ceb_timestamp('w.app_time') }} as declared_at,
    {{ ceb_decimal('w.freight') }} as freight,
    {{ ceb_decimal('w.insured_fee') }} as insured_fee,
    w.currency as currency_code,
    {{ ceb_decimal('w.gross_weight') }} as gross_weight_kg,
    {{ ceb_decimal('w.pack_no') }}::integer as package_count,
    w.goods_info,
    w.ebc_code,
    {{ hash_pii('w.ebc_telephone') }} as ebc_telephone_sha256,
    w._batch_id,
    batch.source as _source,
    w._loaded_at
from {{ source('customs', 'ceb_logistics') }} as w
{{ join_batch_source('w') }}
where {{ is_latest_version('w', source('customs', 'ceb_logistics')) }}
  and w.app_type <> '3'
