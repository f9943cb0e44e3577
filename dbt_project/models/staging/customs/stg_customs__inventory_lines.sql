-- Lines of the winning version of each inventory list; HS codes normalised to 10 digits.
with lines as (
    select l.*
    from {{ source('customs', 'ceb_inventory_list') }} as l
    inner join {{ ref('stg_customs__inventory_heads') }} as h
        on h.inventory_guid = l.head_guid
       and h._batch_id = l._batch_id
       and h._record_no = l._record_no
)

select
    head_guid as inventory_guid,
    gnum::integer as gnum,
    item_no,
    item_name,
    case when regexp_replace(gcode, '\D', '', 'g') ~ '^\d{10}$' then regexp_replace(gcode, '\D', '', 'g') end as hs_code,
    left(regexp_replace(gcode, '\D', '', 'g'), 2) as hs_chapter,
    left(regexp_replace(gcode, '\D', '', 'g'), 4) as hs_heading,
    gname as goods_name,
    country as destination_country_code,
    currency as currency_code,
    {{ to_numeric('qty') }} as quantity,
    unit as unit_code,
    {{ to_numeric('qty1') }} as legal_quantity,
    unit1 as legal_unit_code,
    {{ to_numeric('price') }} as unit_price,
    {{ to_numeric('total_price') }} as total_price,
    _batch_id,
    _source
from lines
