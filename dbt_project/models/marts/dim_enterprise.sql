-- Park enterprises, SCD type 2 from the registry snapshot: one row per enterprise version.
-- The first version is valid from the enterprise's entry date (the snapshot starts later).
with versions as (
    select
        *,
        row_number() over (partition by credit_code order by dbt_valid_from) as version_no
    from {{ ref('snap_registry__enterprises') }}
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
    case when version_no = 1 then least(entry_date, dbt_valid_from::date) else dbt_valid_from::date end as valid_from,
    dbt_valid_to::date as valid_to,
    dbt_valid_to is null as is_current,
    _batch_id
from versions
