-- Released declaration lines (fct_export_declaration_lines) summed per export date, trade mode
-- and declaring enterprise (ebcCode and the registry version valid on the date): what the daily
-- export volume, the enterprise scorecard and the progress marts add up, a few hundred rows a
-- day instead of every line of the history. A list's lines share date, trade mode and
-- enterprise, so released_inventories adds up across rows.
-- Incremental by export date: a run rebuilds the dates whose lines may have changed since its
-- watermark (export_date_changes: the lists loaded or replied to, a late parity, a registry change).
-- The version checks of its scope read the dimension:
-- depends_on: {{ ref('dim_enterprise') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['export_date']}],
    pre_hook="{{ stage_incremental_scope('export_date', export_date_changes()) }}",
) }}

select
    f.export_date,
    f.trade_mode_key,
    f.ebc_code,
    f.enterprise_key,
    count(*) as released_lines,
    count(distinct f.inventory_guid) as released_inventories,
    sum(f.value_cny) as value_cny,
    sum(f.value_usd) as value_usd,
    max(f._loaded_at) as _loaded_at
from {{ ref('fct_export_declaration_lines') }} as f
where {{ in_incremental_scope('f.export_date') }}
group by f.export_date, f.trade_mode_key, f.ebc_code, f.enterprise_key
