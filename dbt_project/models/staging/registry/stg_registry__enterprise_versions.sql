-- One row per enterprise (credit code) and registry status date: the state the registry files
-- give for that date. Every delivered daily file counts, so the history is the registry's own,
-- whatever order the files were loaded in and however often the transform ran; a state
-- delivered more than once is taken from its latest delivery (day folder, then file, then line).
with ranked as (
    select distinct on (credit_code, coalesce(status_date, entry_date)) *
    from {{ source('registry', 'registry_enterprise') }}
    order by credit_code, coalesce(status_date, entry_date), _source desc, _record_no desc
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
