-- CEB607 master bill lists: one per train, vessel or flight consignment (latest version).
select
    b.guid as bill_guid,
    b.bill_no,
    b.voyage_no,
    b.traf_mode,
    b.traf_name,
    b.customs_code,
    b.logistics_code,
    {{ ceb_timestamp('b.app_time') }} as declared_at,
    {{ ceb_decimal('b.gross_weight') }} as gross_weight_kg,
    b.msg_count::integer as message_count,
    b.msg_seq_no::integer as message_seq_no,
    b._batch_id,
    b._record_no,
    batch.source as _source,
    b._loaded_at
from {{ source('customs', 'ceb_way_bill_head') }} as b
{{ join_batch_source('b') }}
where {{ is_latest_version('b', source('customs', 'ceb_way_bill_head')) }}
  and b.app_type <> '3'
