-- One row per inventory list (guid): the latest version wins (appTime, then load order);
-- a latest version with appType=3 is a deletion and removes the document.
select
    h.guid as inventory_guid,
    h.app_type,
    {{ ceb_timestamp('h.app_time') }} as declared_at,
    h.customs_code,
    h.ebp_code,
    h.ebp_name,
    h.order_no,
    h.logistics_code,
    h.logistics_no,
    h.cop_no,
    h.invt_no,
    h.port_code,
    {{ ceb_date('h.ie_date') }} as export_date,
    h.statistics_flag,
    h.agent_code,
    h.ebc_code,
    h.ebc_name,
    h.owner_code,
    h.trade_mode,
    h.traf_mode,
    h.voyage_no,
    h.bill_no,
    h.country as destination_country_code,
    h.pod,
    {{ ceb_decimal('h.freight') }} as freight,
    h.f_currency as freight_currency_code,
    {{ ceb_decimal('h.gross_weight') }} as gross_weight_kg,
    {{ ceb_decimal('h.net_weight') }} as net_weight_kg,
    {{ ceb_decimal('h.pack_no') }}::integer as package_count,
    h._batch_id,
    h._record_no,
    batch.source as _source,
    h._loaded_at
from {{ source('customs', 'ceb_inventory_head') }} as h
{{ join_batch_source('h') }}
where {{ is_latest_version('h', source('customs', 'ceb_inventory_head')) }}
  and h.app_type <> '3'
