-- Lines of the winning version of each inventory list; HS codes normalised to 10 digits.
select
    l.head_guid as inventory_guid,
    l.gnum::integer as gnum,
    l.item_no,
    l.item_name,
    case when octet_length({{ digits_of('l.gcode') }}) = 10 then {{ digits_of('l.gcode') }} end as hs_code,
    left({{ digits_of('l.gcode') }}, 2) as hs_chapter,
    left({{ digits_of('l.gcode') }}, 4) as hs_heading,
    l.gname as goods_name,
    l.country as destination_country_code,
    l.currency as currency_code,
    {{ ceb_decimal('l.qty') }} as quantity,
    l.unit as unit_code,
    {{ ceb_decimal('l.qty1') }} as legal_quantity,
    l.unit1 as legal_unit_code,
    {{ ceb_decimal('l.price') }} as unit_price,
    {{ ceb_decimal('l.total_price') }} as total_price,
    l._batch_id,
    l._record_no,
    h._source,  -- (the head row of the same batch)
    l._loaded_at
from {{ source('customs', 'ceb_inventory_list') }} as l
inner join {{ ref('stg_customs__inventory_heads') }} as h
    -- A line's batch and record number name its head's row (the loader numbers a message's
    -- documents, lines with their document); the guid as a third join column made the planner
    -- multiply three selectivities to an estimate of one row, and choose nested loops.
    on h._batch_id = l._batch_id
   and h._record_no = l._record_no
