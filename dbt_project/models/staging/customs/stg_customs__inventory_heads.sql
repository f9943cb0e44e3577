-- One row per inventory list (guid): the latest version wins (appTime, then load order);
-- a latest version with appType=3 is a deletion and removes the document.
-- (distinct on, not a window filter: the planner estimates it from guid statistics.)
with versions as (
    select distinct on (guid) *
    from {{ source('customs', 'ceb_inventory_head') }}
    order by guid, app_time desc, _batch_id desc, _record_no desc
)

select
    guid as inventory_guid,
    app_type,
    {{ ceb_timestamp('app_time') }} as declared_at,
    customs_code,
    ebp_code,
    order_no,
    logistics_code,
    logistics_no,
    cop_no,
    invt_no,
    port_code,
    {{ ceb_date('ie_date') }} as export_date,
    statistics_flag,
    agent_code,
    ebc_code,
    owner_code,
    trade_mode,
    traf_mode,
    country as destination_country_code,
    pod,
    {{ to_numeric('freight') }} as freight,
    f_currency as freight_currency_code,
    {{ to_numeric('gross_weight') }} as gross_weight_kg,
    {{ to_numeric('net_weight') }} as net_weight_kg,
    {{ to_numeric('pack_no') }}::integer as package_count,
    _batch_id,
    _record_no,
    _source
from versions
where app_type <> '3'
