-- One row per released inventory list (a shipment): its declaration lines summed (corridor,
-- trade mode, declaring enterprise version, value, declaration -> release hours) and its lead
-- times from fct_parcel_shipments. mart_corridor_performance takes its percentiles over these
-- rows instead of re-reading every declaration line and parcel of the history.
-- Incremental by list: a run rebuilds the lists whose lines or shipment may have changed since
-- its watermark (the scopes of both facts: documents, replies, a late parity, a registry
-- change, master bills and tracking). _loaded_at is the earlier of the two facts' (a watermark
-- no later than either fact's).
-- The version checks of its scope read the dimension, its tracking scope the journeys:
-- depends_on: {{ ref('dim_enterprise') }}
-- depends_on: {{ ref('int_parcel_tracking_milestones') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['inventory_guid']}],
    pre_hook="{{ stage_incremental_scope('inventory_guid', corridor_shipment_scope()) }}",
) }}

with shipments as (
    select
        l.inventory_guid,
        l.route_key,
        l.trade_mode_key,
        l.ebc_code,
        l.enterprise_key,
        min(l.export_date) as export_date,
        count(*) as released_lines,
        sum(l.value_cny) as value_cny,
        sum(l.value_usd) as value_usd,
        extract(epoch from max(l.released_at) - min(l.declared_at)) / 3600.0 as declared_to_released_hours,
        max(l._loaded_at) as _loaded_at
    from {{ ref('fct_export_declaration_lines') }} as l
    where {{ in_incremental_scope('l.inventory_guid') }}
    group by l.inventory_guid, l.route_key, l.trade_mode_key, l.ebc_code, l.enterprise_key
)

select
    s.inventory_guid,
    s.route_key,
    s.trade_mode_key,
    s.ebc_code,
    s.enterprise_key,
    s.export_date,
    s.released_lines,
    s.value_cny,
    s.value_usd,
    s.declared_to_released_hours,
    p.is_delivered,
    p.hours_released_to_departed,
    p.hours_departed_to_delivered,
    p.hours_order_to_delivered,
    least(s._loaded_at, p._loaded_at) as _loaded_at
from shipments as s
left join {{ ref('fct_parcel_shipments') }} as p
    on p.inventory_guid = s.inventory_guid
   and {{ in_incremental_scope('p.inventory_guid') }}
