-- Lines of the winning version of each order.
select
    l.head_guid as order_guid,
    l.gnum::integer as gnum,
    l.item_no,
    l.item_name,
    l.unit as unit_code,
    l.currency as currency_code,
    {{ ceb_decimal('l.qty') }} as quantity,
    {{ ceb_decimal('l.price') }} as unit_price,
    {{ ceb_decimal('l.total_price') }} as total_price,
    l._batch_id,
    o._source  -- (the head row of the same batch)
from {{ source('customs', 'ceb_order_list') }} as l
inner join {{ ref('stg_customs__orders') }} as o
    -- A line's batch and record number name its head's row (the loader numbers a message's
    -- documents, lines with their document); the guid as a third join column made the planner
    -- multiply three selectivities to an estimate of one row, and choose nested loops.
    on o._batch_id = l._batch_id
   and o._record_no = l._record_no
