-- One row per parcel journey: a logistics number within the consignment it travelled in.
-- Logistics numbers come back about six months later, and every consignment number carries
-- its export day (YX<route><yymmdd><port>), so (logistics_no, consignment_no) keeps a reused
-- number's two parcels apart; journey_seq numbers them per logistics_no in time order.
with parcel_events as (
    select *
    from {{ ref('stg_logistics__tracking_events') }}
    where event_kind = 'parcel' and logistics_no is not null
),

consignments as (
    select
        consignment_no,
        min(event_at) filter (where milestone = 'departed') as consignment_departed_at
    from {{ ref('stg_logistics__tracking_events') }}
    where event_kind = 'transport'
    group by consignment_no
),

journeys as (
    select
        logistics_no,
        consignment_no,
        max(container_no) as container_no,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        min(event_at) filter (where milestone = 'accepted') as accepted_at,
        min(event_at) filter (where milestone = 'departed') as departed_at,
        min(event_at) filter (where milestone = 'arrived') as arrived_at,
        min(event_at) filter (where milestone = 'import_cleared') as import_cleared_at,
        min(event_at) filter (where milestone = 'delivered') as delivered_at,
        min(transport_mode) filter (where milestone = 'departed') as main_transport_mode,
        min(location_code) filter (where milestone = 'delivered') as delivered_location_code,
        count(*) filter (where milestone = 'delivery_attempted') as failed_delivery_attempts,
        (array_agg(milestone order by event_at desc, event_id desc))[1] as latest_milestone,
        count(*) as event_count,
        max(updated_at) as last_updated_at,
        max(_batch_id) as _batch_id
    from parcel_events
    group by logistics_no, consignment_no
)

select
    {{ surrogate_key(['j.logistics_no', 'j.consignment_no']) }} as parcel_journey_key,
    j.logistics_no,
    row_number() over (partition by j.logistics_no order by j.first_event_at, j.consignment_no) as journey_seq,
    j.consignment_no,
    j.container_no,
    j.main_transport_mode,
    j.first_event_at,
    j.accepted_at,
    j.departed_at,
    c.consignment_departed_at,
    j.arrived_at,
    j.import_cleared_at,
    j.delivered_at,
    j.delivered_location_code,
    j.delivered_at is not null as is_delivered,
    j.failed_delivery_attempts,
    j.latest_milestone,
    j.last_event_at,
    j.event_count,
    j.last_updated_at,
    j._batch_id
from journeys as j
left join consignments as c on c.consignment_no = j.consignment_no
