-- The park's export corridors, and the customs transport mode of their international leg.
-- A view: it comes from seeds only, so it is as cheap to compute as to read and never needs a rebuild.
{{ config(materialized='view') }}
select
    route_code as route_key,
    route_code,
    route_name,
    corridor,
    traf_mode,
    international_leg,
    gateway,
    typical_transit_days_min,
    typical_transit_days_max
from {{ ref('logistics_route') }}
