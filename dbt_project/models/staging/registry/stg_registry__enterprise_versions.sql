-- One row per enterprise (credit code) and registry status date: the state the registry files
-- give for that date. Every delivered daily file counts, so the history is the registry's own,
-- whatever order the files were loaded in and however often the transform ran; a state
-- delivered more than once is taken from its latest delivery (day folder, then file, then line).
with ranked as (
    select distinct on (r.credit_code, coalesce(r.status_date, r.entry_date)) r.*, batch.source as _source
    from {{ source('registry', 'registry_enterprise') }} as r
    {{ join_batch_source('r') }}
    order by r.credit_code, coalesce(r.status_date, r.entry_date), batch.source desc, r._record_no desc
)

select
    credit_code,
    customs_code,
    enterprise_name,
    enterprise_type,
    entry_date::date as entry_date,
    status,
    coalesce(status_date, entry_date)::date as status_date,
    _batch_id,
    _source,
    _loaded_at
from ranked
