-- One row per tracking event, latest updated_at wins (the API re-serves events at its
-- updated_since boundary and serves updated versions again).
-- The key is event_id within its consignment: the carrier derives event ids from the logistics
-- number, so a number reused months later repeats the ids of the earlier parcel's events;
-- keyed on event_id alone the later journey would overwrite the earlier one.
with versions as (
    select distinct on (event_id, consignment_no)
        *,
        {{ iso_timestamptz('updated_at') }} as updated_at_ts
    from {{ source('logistics', 'tracking_event') }}
    order by event_id, consignment_no, {{ iso_timestamptz('updated_at') }} desc nulls last,
        _loaded_at desc, _batch_id desc, _record_no desc
)

select
    {{ surrogate_key(['event_id', 'consignment_no']) }} as tracking_event_key,
    event_id,
    lower(event_kind) as event_kind,
    upper(event_code) as event_code,
    -- UPU item events (parcel) for the waybill; DCSA transport and equipment events for its
    -- consignment. 'departed' is the main leg leaving the origin (Chongqing), not a transshipment.
    case
        when lower(event_kind) = 'parcel' then case upper(event_code)
            when 'EMA' then 'accepted'
            when 'EMB' then 'at_outward_exchange'
            when 'EMC' then 'departed'
            when 'EMD' then 'arrived'
            when 'EDB' then 'at_import_customs'
            when 'EDC' then 'import_cleared'
            when 'EMG' then 'at_delivery_office'
            when 'EMH' then 'delivery_attempted'
            when 'EDH' then 'awaiting_pickup'
            when 'EMI' then 'delivered'
        end
        when lower(event_kind) = 'transport' then case
            when upper(event_code) = 'DEPA' and upper(location) = '{{ var("origin_locode", "CNCKG") }}' then 'departed'
            when upper(event_code) = 'DEPA' then 'transshipment_departed'
            when upper(event_code) = 'ARRI' then 'transport_arrived'
        end
        when lower(event_kind) = 'equipment' then case upper(event_code)
            when 'GTIN' then 'gate_in'
            when 'LOAD' then 'loaded'
            when 'DISC' then 'discharged'
            when 'GTOT' then 'gate_out'
        end
    end as milestone,
    {{ iso_timestamptz('event_time') }} as event_at,
    -- Carriers stamp events in the location's local time; kept for local-day reporting.
    {{ iso_local_timestamp('event_time') }} as event_local_time,
    upper(location) as location_code,
    logistics_no,
    consignment_no,
    upper(container_no) as container_no,
    lower(transport_mode) as transport_mode,
    vehicle_name,
    voyage_no,
    description,
    updated_at_ts as updated_at,
    _batch_id,
    _record_no,
    _source,
    _loaded_at
from versions
