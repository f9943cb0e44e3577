-- CEB604 reply history per inventory list: one row per distinct status event (a reply resent in
-- a later file is the same event: the first load is kept). Event order is returnTime, not
-- arrival order, because replies arrive out of order. (An anti-join, not DISTINCT ON, so the
-- view flattens and incremental models can push a key filter into it.)
select
    r.guid as inventory_guid,
    r.return_status,
    {{ ceb_timestamp('r.return_time') }} as returned_at,
    r.return_info,
    r.invt_no,
    r.pre_no,
    r._batch_id,
    batch.source as _source,
    r._loaded_at
from {{ source('customs', 'ceb_inventory_return') }} as r
{{ join_batch_source('r') }}
where not exists (
    select 1 from {{ source('customs', 'ceb_inventory_return') }} as earlier
    where earlier.guid = r.guid
      and earlier.return_status = r.return_status
      and earlier.return_time = r.return_time
      and (earlier._batch_id, earlier._record_no) < (r._batch_id, r._record_no)
)
