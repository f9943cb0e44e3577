-- Quarantined records per day, feed (the partner source), rule and field: what the loader
-- rejected and why, with the files they came from and how many were replayed since.
{{ config(materialized='view') }}

select
    (q.quarantined_at at time zone 'UTC')::date as quarantine_date,
    q.feed,
    q.rule,
    coalesce(q.field, '(whole file)') as field,
    count(*) as records,
    count(distinct q.source) as source_files,
    count(distinct q.batch_id) as batches,
    count(q.replayed_batch_id) as replayed_records,
    min(q.quarantined_at) as first_quarantined_at,
    max(q.quarantined_at) as last_quarantined_at,
    min(q.reason) as example_reason
from {{ source('audit', 'quarantine') }} as q
group by 1, 2, 3, 4
