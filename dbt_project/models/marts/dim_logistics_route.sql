-- The park's export corridors, and the customs transport mode of their international leg.
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
