-- The HS codes and goods names each inventory list declares (every list, released or not:
-- its winning version's lines with a 10-digit code), with how many lines carry them.
-- dim_hs_product sums these instead of re-reading every inventory line of the history.
-- Incremental by list: a run rebuilds the lists whose document loaded since its watermark
-- (a resend, a correction, an appType=3 deletion: lines come with their head).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['inventory_guid']}],
    pre_hook=["{{ stage_incremental_scope('inventory_guid', inventory_document_changes()) }}", "{{ full_build_plan_settings() }}"],
) }}

select
    l.inventory_guid,
    l.hs_code,
    l.goods_name,
    count(*) as lines,
    max(l._loaded_at) as _loaded_at
from {{ scoped_relation(ref('stg_customs__inventory_lines'), 'inventory_guid') }} as l
where l.hs_code is not null
group by l.inventory_guid, l.hs_code, l.goods_name
