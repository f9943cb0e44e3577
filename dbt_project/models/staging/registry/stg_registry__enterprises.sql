-- One row per enterprise (credit code): its latest known registry state.
with ranked as (
    select
        *,
        row_number() over (
            partition by credit_code
            order by status_date desc, _batch_id desc, _record_no desc
        ) as state_rank
    from {{ source('registry', 'registry_enterprise') }}
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
where state_rank = 1
