-- Grain: one released export inventory list, i.e. one parcel or consignment leaving the park.
-- Its corridor, the master bill (train, vessel, flight) that carried it, the carriers' tracking
-- milestones, and lead times in hours: order -> declared -> released -> departed -> delivered.
-- The tracking journey is the one of the parcel's logisticsNo that began after it was declared
-- (numbers are reused months later); departed is the carrier's departure scan, else the
-- consignment's departure.
-- The dimensions its keys reference (their relationship tests run with this model):
-- depends_on: {{ ref('dim_date') }}
-- depends_on: {{ ref('dim_country') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['inventory_guid']}],
    pre_hook=["{{ stage_incremental_scope('inventory_guid', parcel_shipment_scope()) }}", "{{ full_build_plan_settings() }}"],
) }}

with parcels as (
    select h.*, r.released_at, r._loaded_at as release_loaded_at
    from {{ ref('stg_customs__inventory_heads') }} as h
    inner join {{ ref('int_inventory_release') }} as r using (inventory_guid)
    where r.released_at is not null
      and {{ in_incremental_scope('h.inventory_guid') }}
),

bills as (
    select distinct on (b.logistics_no, b.invt_no) b.*
    from {{ ref('stg_customs__bill_lines') }} as b
    where b.logistics_no in (select logistics_no from parcels)
    order by b.logistics_no, b.invt_no, b.bill_declared_at desc
),

journeys as (
    select distinct on (p.inventory_guid) p.inventory_guid, j.*
    from parcels as p
    inner join {{ ref('int_parcel_tracking_milestones') }} as j
        on j.logistics_no = p.logistics_no
       and j.first_event_at >= p.declared_at - interval '1 day'
    order by p.inventory_guid, j.first_event_at
),

orders as (
    select o.ebp_code, o.order_no, min(o.ordered_at) as ordered_at
    from {{ ref('stg_customs__orders') }} as o
    where (o.ebp_code, o.order_no) in (select ebp_code, order_no from parcels)
    group by o.ebp_code, o.order_no
),

shipments as (
    select
        p.inventory_guid,
        p.invt_no,
        p.logistics_no,
        p.ebc_code,
        p.ebp_code,
        p.order_no,
        p.export_date,
        p.trade_mode,
        p.traf_mode,
        p.port_code,
        p.destination_country_code,
        p.gross_weight_kg,
        p.net_weight_kg,
        p.package_count,
        b.bill_no,
        b.voyage_no,
        j.consignment_no,
        j.container_no,
        o.ordered_at,
        p.declared_at,
        p.released_at,
        coalesce(j.departed_at, j.consignment_departed_at) as departed_at,
        j.delivered_at,
        j.latest_milestone,
        p._batch_id,
        p._source,
        greatest(p._loaded_at, p.release_loaded_at) as _loaded_at
    from parcels as p
    left join bills as b on b.logistics_no = p.logistics_no and b.invt_no = p.invt_no
    left join journeys as j on j.inventory_guid = p.inventory_guid
    left join orders as o on o.ebp_code = p.ebp_code and o.order_no = p.order_no
)

select
    {{ surrogate_key(['s.inventory_guid']) }} as parcel_shipment_key,
    s.inventory_guid,
    s.invt_no,
    s.logistics_no,
    to_char(s.export_date, 'YYYYMMDD')::integer as export_date_key,
    s.export_date,
    e.enterprise_key,
    s.ebc_code,
    s.ebp_code as platform_key,
    s.destination_country_code as country_key,
    s.trade_mode as trade_mode_key,
    s.port_code as port_key,
    rt.route_key,
    s.bill_no,
    s.voyage_no,
    s.consignment_no,
    s.container_no,
    s.ordered_at,
    s.declared_at,
    s.released_at,
    s.departed_at,
    s.delivered_at,
    s.latest_milestone,
    s.delivered_at is not null as is_delivered,
    round(extract(epoch from s.declared_at - s.ordered_at) / 3600.0, 2) as hours_order_to_declared,
    round(extract(epoch from s.released_at - s.declared_at) / 3600.0, 2) as hours_declared_to_released,
    round(extract(epoch from s.departed_at - s.released_at) / 3600.0, 2) as hours_released_to_departed,
    round(extract(epoch from s.delivered_at - s.departed_at) / 3600.0, 2) as hours_departed_to_delivered,
    round(extract(epoch from s.delivered_at - s.ordered_at) / 3600.0, 2) as hours_order_to_delivered,
    s.gross_weight_kg,
    s.net_weight_kg,
    s.package_count,
    s._batch_id,
    s._source,
    s._loaded_at
from shipments as s
left join {{ ref('dim_logistics_route') }} as rt on rt.traf_mode = s.traf_mode
left join {{ ref('dim_enterprise') }} as e
    on e.customs_code = s.ebc_code
   and s.export_date >= e.valid_from
   and (e.valid_to is null or s.export_date < e.valid_to)
