-- The parcels (logisticsNo / invtNo) each master bill carries.
select
    l.head_guid as bill_guid,
    l.gnum::integer as gnum,
    l.logistics_no,
    l.invt_no,
    b.bill_no,
    b.voyage_no,
    b.traf_mode,
    b.declared_at as bill_declared_at,
    l._batch_id,
    b._source  -- (the head row of the same batch)
from {{ source('customs', 'ceb_way_bill_list') }} as l
inner join {{ ref('stg_customs__bill_heads') }} as b
    -- A line's batch and record number name its head's row (the loader numbers a message's
    -- documents, lines with their document); the guid as a third join column made the planner
    -- multiply three selectivities to an estimate of one row, and choose nested loops.
    on b._batch_id = l._batch_id
   and b._record_no = l._record_no
