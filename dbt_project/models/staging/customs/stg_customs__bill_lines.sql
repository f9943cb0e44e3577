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
    on b.bill_guid = l.head_guid
   and b._batch_id = l._batch_id
   and b._record_no = l._record_no
