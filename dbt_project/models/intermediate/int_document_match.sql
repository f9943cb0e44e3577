-- The three-document match: each order (CEB303) against its payment receipt (CEB403), its
-- inventory list (CEB603) with the customs outcome (CEB604), and the waybill (CEB505) of the
-- list's logisticsNo. Orders are keyed by platform and order number (numbers repeat across
-- platforms); a logisticsNo is matched to the waybill declared nearest in time (within 30 days),
-- since carriers reuse numbers after some months. Receipts and waybills that match no order or
-- list are kept as rows of their own (orphans), so every document appears once.
-- Incremental by match group (platform + order number, or carrier + number of an unmatched
-- waybill): a run rebuilds the groups that raw loads since its last load touched.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['match_group']}],
    pre_hook=["{{ stage_incremental_scope('match_group', document_match_scope()) }}", "{{ full_build_plan_settings() }}"],
) }}

with orders as (
    select o.*, cur.currency_iso
    from {{ scoped_by_match_group(ref('stg_customs__orders'), 'order') }} as o
    left join {{ ref('int_currency_codes') }} as cur on cur.delivered_code = o.currency_code
),

receipts as (
    select distinct on (r.ebp_code, r.order_no) r.*, cur.currency_iso
    from {{ scoped_by_match_group(ref('stg_customs__receipts'), 'order') }} as r
    left join {{ ref('int_currency_codes') }} as cur on cur.delivered_code = r.currency_code
    order by r.ebp_code, r.order_no, r.declared_at desc, r._batch_id desc
),

heads as (
    select h.*
    from {{ scoped_by_match_group(ref('stg_customs__inventory_heads'), 'order') }} as h
),

-- The value of each list's version: its lines in raw, by the head's batch and record (what
-- stg_customs__inventory_lines joins on), so the heads' latest-version check is not run again
-- for the lines (the month's full build 56 s against 63-69 s).
inventory_values as (
    select h.inventory_guid, v.inventory_value, v.currency_iso
    from heads as h
    inner join (
        select l.head_guid, l._batch_id, l._record_no, sum({{ ceb_decimal('l.total_price') }}) as inventory_value,
               min(cur.currency_iso) as currency_iso
        from {{ source('customs', 'ceb_inventory_list') }} as l
        left join {{ ref('int_currency_codes') }} as cur on cur.delivered_code = l.currency
        where l.head_guid in (select inventory_guid from heads)
        group by l.head_guid, l._batch_id, l._record_no
    ) as v on v.head_guid = h.inventory_guid and v._batch_id = h._batch_id and v._record_no = h._record_no
),

-- Per order: the released list if there is one (a rejected list may be declared again under a
-- new guid), else the latest declared.
inventories as (
    select distinct on (h.ebp_code, h.order_no)
        h.ebp_code, h.order_no, h.inventory_guid, h.logistics_code, h.logistics_no, h.declared_at,
        h._loaded_at, r.released_at, r.latest_status, r._loaded_at as release_loaded_at,
        v.inventory_value, v.currency_iso,
        count(*) over (partition by h.ebp_code, h.order_no) as declarations
    from heads as h
    left join {{ ref('int_inventory_release') }} as r using (inventory_guid)
    left join inventory_values as v using (inventory_guid)
    order by h.ebp_code, h.order_no, (r.released_at is not null) desc, h.declared_at desc, h.inventory_guid
),

waybills_nearest as (
    select distinct on (i.inventory_guid)
        i.inventory_guid, w.waybill_guid, w._loaded_at
    from inventories as i
    inner join {{ ref('stg_customs__waybills') }} as w
        on w.logistics_no = i.logistics_no
       and w.logistics_code = i.logistics_code
       and w.declared_at between i.declared_at - interval '30 days' and i.declared_at + interval '30 days'
    order by i.inventory_guid, abs(extract(epoch from w.declared_at - i.declared_at)), w.waybill_guid
),

matched as (
    select
        {{ order_match_group('o.ebp_code', 'o.order_no') }} as match_group,
        o.order_guid, o.ebp_code, o.order_no, o.ebc_code, o.ordered_at, o.order_date,
        o.goods_value as order_value, o.currency_iso as order_currency_iso,
        r.receipt_guid, r.charge as receipt_value, r.currency_iso as receipt_currency_iso,
        i.inventory_guid, i.inventory_value, i.currency_iso as inventory_currency_iso,
        i.latest_status, i.released_at, i.declarations,
        w.waybill_guid,
        o._batch_id,
        greatest(o._loaded_at, r._loaded_at, i._loaded_at, i.release_loaded_at, w._loaded_at) as _loaded_at
    from orders as o
    left join receipts as r on r.ebp_code = o.ebp_code and r.order_no = o.order_no
    left join inventories as i on i.ebp_code = o.ebp_code and i.order_no = o.order_no
    left join waybills_nearest as w on w.inventory_guid = i.inventory_guid
),

orphan_receipts as (
    select
        {{ order_match_group('r.ebp_code', 'r.order_no') }},
        null::text, r.ebp_code, r.order_no, r.ebc_code, null::timestamptz, null::date, null::numeric, null::text,
        r.receipt_guid, r.charge, r.currency_iso,
        null::text, null::numeric, null::text, null::text, null::timestamptz, null::bigint,
        null::text,
        r._batch_id,
        r._loaded_at
    from receipts as r
    where not exists (select 1 from orders as o where o.ebp_code = r.ebp_code and o.order_no = r.order_no)
),

-- Waybills no inventory list of the same carrier and number claims within 30 days.
orphan_waybills as (
    select
        {{ waybill_match_group('w.logistics_code', 'w.logistics_no') }},
        null::text, null::text, null::text, w.ebc_code, null::timestamptz, null::date, null::numeric, null::text,
        null::text, null::numeric, null::text,
        null::text, null::numeric, null::text, null::text, null::timestamptz, null::bigint,
        w.waybill_guid,
        w._batch_id,
        w._loaded_at
    from {{ scoped_by_match_group(ref('stg_customs__waybills'), 'waybill') }} as w
    where not exists (
          select 1 from {{ ref('stg_customs__inventory_heads') }} as h
          where h.logistics_no = w.logistics_no
            and h.logistics_code = w.logistics_code
            and w.declared_at between h.declared_at - interval '30 days' and h.declared_at + interval '30 days'
      )
),

documents as (
    select * from matched
    union all
    select * from orphan_receipts
    union all
    select * from orphan_waybills
)

select
    {{ surrogate_key(['order_guid', 'receipt_guid', 'waybill_guid']) }} as document_match_key,
    d.*,
    order_guid is not null as has_order,
    receipt_guid is not null as has_receipt,
    inventory_guid is not null as has_inventory,
    waybill_guid is not null as has_waybill,
    released_at is not null as is_released,
    coalesce(order_currency_iso = receipt_currency_iso
             and abs(order_value - receipt_value) <= {{ var('document_match_tolerance') }}, false) as receipt_value_agrees,
    coalesce(order_currency_iso = inventory_currency_iso
             and abs(order_value - inventory_value) <= {{ var('document_match_tolerance') }}, false) as inventory_value_agrees,
    case
        when order_guid is null and receipt_guid is not null then 'orphan receipt: no order'
        when order_guid is null then 'orphan waybill: no inventory list'
        when receipt_guid is null then 'no payment receipt'
        when inventory_guid is null then 'no inventory list'
        when waybill_guid is null then 'no waybill'
        when order_currency_iso is distinct from receipt_currency_iso then 'receipt currency differs'
        when abs(order_value - receipt_value) > {{ var('document_match_tolerance') }} then 'receipt amount differs'
        when order_currency_iso is distinct from inventory_currency_iso then 'inventory currency differs'
        when abs(order_value - inventory_value) > {{ var('document_match_tolerance') }} then 'inventory value differs'
        when latest_status = '100' then 'inventory rejected by customs'
        when released_at is null then 'not released yet'
    end as mismatch_reason
from documents as d
