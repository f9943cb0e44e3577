-- Park enterprises (current state). Type 2 history arrives with the registry snapshot.
select
    {{ surrogate_key(['credit_code']) }} as enterprise_key,
    credit_code,
    customs_code,
    enterprise_name,
    enterprise_type,
    enterprise_type in ('export', 'service') as counts_as_introduced,
    enterprise_type = 'startup' as counts_as_incubated,
    entry_date,
    status,
    status_date,
    _batch_id
from {{ ref('stg_registry__enterprises') }}
