-- Each e-commerce platform's name and time in every order (CEB303) and inventory list (CEB603)
-- it declared, latest versions only: dim_platform picks the latest name and the first time
-- from these narrow rows instead of re-resolving every order and list of the history.
-- Incremental by document: a run rebuilds the orders and lists whose document loaded since its
-- watermark (resends, corrections, appType=3 deletions).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['document_guid']}, {'columns': ['ebp_code', 'seen_at']}],
    pre_hook="{{ stage_incremental_scope('document_guid', order_document_changes() ~ ' union all ' ~ inventory_document_changes()) }}",
) }}

select 'order' as document_kind, o.order_guid as document_guid, o.ebp_code, o.ebp_name, o.ordered_at as seen_at, o._loaded_at
from {{ scoped_relation(ref('stg_customs__orders'), 'order_guid') }} as o
where o.ebp_code is not null
union all
select 'inventory', h.inventory_guid, h.ebp_code, h.ebp_name, h.declared_at, h._loaded_at
from {{ scoped_relation(ref('stg_customs__inventory_heads'), 'inventory_guid') }} as h
where h.ebp_code is not null
