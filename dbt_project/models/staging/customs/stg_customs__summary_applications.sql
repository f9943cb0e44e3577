-- CEB701 summary declaration applications (latest version per guid) with their inventory count.
select
    s.guid as summary_apply_guid,
    s.customs_code,
    s.cop_no,
    s.sum_no,
    s.ebc_code,
    s.decl_agent_code,
    s.summary_flag,
    {{ ceb_timestamp('s.app_time') }} as declared_at,
    (select count(*) from {{ source('customs', 'ceb_summary_apply_list') }} as l
     where l.head_guid = s.guid and l._batch_id = s._batch_id and l._record_no = s._record_no) as inventory_count,
    s._batch_id,
    batch.source as _source
from {{ source('customs', 'ceb_summary_apply_head') }} as s
{{ join_batch_source('s') }}
where {{ is_latest_version('s', source('customs', 'ceb_summary_apply_head')) }}
  and s.app_type <> '3'
