-- A view: it comes from seeds only, so it is as cheap to compute as to read and never needs a rebuild.
{{ config(materialized='view') }}
select
    trade_mode as trade_mode_key,
    trade_mode,
    name_zh_short,
    name_en,
    trade_mode in ('9610', '9710', '9810', '1210') as is_cross_border_ecommerce
from {{ ref('customs_trade_mode') }}
