-- Grain: one released export inventory list line (inventory guid + gnum). Dimensions by
-- surrogate key; the enterprise key is the registry version valid on the export date.
-- Incremental: each run rebuilds the inventory lists raw loads touched since its last load.
-- Indexed on export_date: its aggregates (int_export_volume_by_day / _by_month) re-read the
-- days and months in their scope.
-- The dimensions its keys reference (their relationship tests run with this model):
-- depends_on: {{ ref('dim_date') }}
-- depends_on: {{ ref('dim_platform') }}
-- depends_on: {{ ref('dim_country') }}
-- depends_on: {{ ref('dim_currency') }}
-- depends_on: {{ ref('dim_trade_mode') }}
-- depends_on: {{ ref('dim_hs_product') }}
-- depends_on: {{ ref('dim_customs_port') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['inventory_guid']}],
    pre_hook=["{{ stage_incremental_scope('inventory_guid', declaration_line_scope()) }}", "{{ full_build_plan_settings() }}"],
    post_hook="{{ ensure_index('export_date') }}",
) }}

select
    {{ surrogate_key(['l.inventory_guid', 'l.gnum']) }} as declaration_line_key,
    l.inventory_guid,
    l.gnum,
    to_char(l.export_date, 'YYYYMMDD')::integer as export_date_key,
    l.export_date,
    e.enterprise_key,
    l.ebc_code,
    l.ebp_code as platform_key,
    l.destination_country_code as country_key,
    l.currency_customs_code as currency_key,
    l.currency_code as currency_code_delivered,
    l.trade_mode as trade_mode_key,
    l.hs_code as hs_product_key,
    l.port_code as port_key,
    rt.route_key,
    l.traf_mode,
    l.hs_chapter,
    l.order_no,
    l.logistics_no,
    l.declared_at,
    l.released_at,
    l.quantity,
    l.unit_code,
    l.legal_quantity,
    l.total_price as value_original,
    l.fx_cny_per_unit,
    l.fx_rate_date,
    l.value_cny,
    l.value_usd,
    l.gross_weight_kg,
    l.net_weight_kg,
    l._batch_id,
    l._source,
    l._loaded_at
from {{ scoped_relation(ref('int_declaration_lines_cny'), 'inventory_guid') }} as l
left join {{ ref('dim_enterprise') }} as e
    on e.customs_code = l.ebc_code
   and l.export_date >= e.valid_from
   and (e.valid_to is null or l.export_date < e.valid_to)
left join {{ ref('dim_logistics_route') }} as rt on rt.traf_mode = l.traf_mode
