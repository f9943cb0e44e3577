-- Customs outcome per inventory list from its CEB604 reply history, whatever order the replies
-- arrived in: released when a release (800) or clearance (899) reply exists. A final outcome
-- (released, rejected 100, cancelled 399) outranks progress replies (2, 3, 120...) that arrive
-- or are stamped after it, so a late "stored" reply never regresses a released list.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['inventory_guid']}],
    pre_hook="{{ stage_incremental_scope('inventory_guid', inventory_release_scope()) }}",
) }}

with events as (
    select
        *,
        case
            when return_status in ('800', '899') then 3
            when return_status in ('100', '399') then 2
            else 1
        end as status_rank
    from {{ ref('stg_customs__inventory_returns') }}
    where {{ in_incremental_scope('inventory_guid') }}
)

select
    inventory_guid,
    min(returned_at) filter (where return_status in ('800', '899')) as released_at,
    (array_agg(return_status order by status_rank desc, returned_at desc, return_status desc))[1] as latest_status,
    (array_agg(returned_at order by status_rank desc, returned_at desc, return_status desc))[1] as latest_status_at,
    bool_or(return_status = '100') as was_rejected,
    -- a progress reply stamped after the final outcome: a regression the ranking resolved
    coalesce(max(returned_at) filter (where status_rank = 1)
             > min(returned_at) filter (where status_rank > 1), false) as had_regressing_reply,
    -- a progress reply delivered (loaded) after the final outcome: out-of-order arrival
    coalesce(max(_batch_id) filter (where status_rank = 1)
             > min(_batch_id) filter (where status_rank > 1), false) as had_out_of_order_reply,
    count(*) as reply_count,
    max(_batch_id) as last_reply_batch_id,
    max(_loaded_at) as _loaded_at
from events
group by inventory_guid
