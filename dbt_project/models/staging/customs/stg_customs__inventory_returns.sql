-- CEB604 reply history per inventory list, one row per distinct status event, in event order
-- (by returnTime, not arrival order: replies can arrive out of order).
with events as (
    select distinct on (guid, return_status, return_time)
        guid as inventory_guid,
        return_status,
        {{ ceb_timestamp('return_time') }} as returned_at,
        return_info,
        invt_no,
        pre_no,
        _batch_id,
        _source
    from {{ source('customs', 'ceb_inventory_return') }}
    order by guid, return_status, return_time, _batch_id
)

select
    *,
    row_number() over (partition by inventory_guid order by returned_at, return_status) as status_seq
from events
