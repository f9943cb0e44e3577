-- One row per enterprise (credit code): its latest known registry state.
with ranked as (
    select distinct on (credit_code) *
    from {{ source('registry', 'registry_enterprise') }}
    order by credit_code, status_date desc, _batch_id desc, _record_no desc
)

select
    credit_code,
    customs_code,
    enterprise_name,
    enterprise_type,
    entry_date::date as entry_date,
    status,
    status_date::date as status_date,
    _batch_id,
    _source
from ranked
