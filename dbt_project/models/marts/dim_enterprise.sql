-- Park enterprises, SCD type 2 from the registry's own history: one row per enterprise version
-- (each status date its files carry, stg_registry__enterprise_versions). Derived from every
-- delivered file rather than a dbt snapshot, which only records the states it happens to see
-- when it runs: a backfill loading older files after newer ones, or several days between two
-- runs, would lose the versions in between. The first version is valid from the entry date.
with versions as (
    select
        *,
        row_number() over (partition by credit_code order by status_date) as version_no,
        lead(status_date) over (partition by credit_code order by status_date) as next_status_date
    from {{ ref('stg_registry__enterprise_versions') }}
)

select
    {{ surrogate_key(['credit_code', 'version_no']) }} as enterprise_key,
    credit_code,
    customs_code,
    enterprise_name,
    enterprise_type,
    enterprise_type in ('export', 'service') as counts_as_introduced,
    enterprise_type = 'startup' as counts_as_incubated,
    entry_date,
    status,
    status_date,
    version_no,
    case when version_no = 1 then least(entry_date, status_date) else status_date end as valid_from,
    next_status_date as valid_to,
    next_status_date is null as is_current,
    _batch_id
from versions
