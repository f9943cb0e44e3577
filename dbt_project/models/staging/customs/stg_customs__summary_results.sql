-- CEB792 summary declaration results: one row per summarised inventory line (sumNo, invtNo, gnum).
-- Results carry no appType: a resent result (same head guid) replaces the earlier load.
select
    h.guid as summary_result_guid,
    h.sum_no,
    h.customs_code,
    h.ebc_code,
    h.dec_state,
    {{ ceb_timestamp('h.op_date') }} as processed_at,
    l.invt_no,
    l.logistics_no,
    l.gseqno::integer as summary_seq_no,
    l.gnum::integer as gnum,
    l.gcode as hs_code,
    h._batch_id,
    batch.source as _source
from {{ source('customs', 'ceb_summary_result_head') }} as h
inner join {{ source('customs', 'ceb_summary_result_list') }} as l
    on l.head_guid = h.guid and l._batch_id = h._batch_id and l._record_no = h._record_no
{{ join_batch_source('h') }}
where {{ is_latest_version('h', source('customs', 'ceb_summary_result_head'), order_by=['_batch_id', '_record_no']) }}
