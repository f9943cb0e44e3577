-- Park enterprises, SCD type 2 from the registry's own history: one row per enterprise version
-- (each status date its files carry, stg_registry__enterprise_versions). Derived from every
-- delivered file rather than a dbt snapshot, which only records the states it happens to see
-- when it runs: a backfill loading older files after newer ones, or several days between two
-- runs, would lose the versions in between. The first version is valid from the entry date.
-- Incremental by enterprise: a run rebuilds the enterprises a registry delivery loaded since its
-- watermark changed (registry_changes: a delivery equal to the previous one changes nothing),
-- so a day with an unchanged registry rebuilds nothing here, nor in the facts' version checks.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['credit_code']}],
    pre_hook="{{ stage_incremental_scope('credit_code', registry_changed_enterprises()) }}",
) }}

with versions as (
    select
        *,
        row_number() over (partition by credit_code order by status_date) as version_no,
        lead(status_date) over (partition by credit_code order by status_date) as next_status_date
    from {{ ref('stg_registry__enterprise_versions') }}
    where {{ in_incremental_scope('credit_code') }}
),

-- Lineage: the first load that delivered the version as it stands (later daily snapshots repeat
-- it; naming the latest would change every row every day while nothing changed).
first_delivery as (
    select v.credit_code, v.status_date, min(r._batch_id) as _batch_id
    from versions as v
    inner join {{ source('registry', 'registry_enterprise') }} as r
        on r.credit_code = v.credit_code
       and coalesce(r.status_date, r.entry_date)::date = v.status_date
       and r.customs_code is not distinct from v.customs_code
       and r.enterprise_name is not distinct from v.enterprise_name
       and r.enterprise_type is not distinct from v.enterprise_type
       and r.entry_date::date is not distinct from v.entry_date
       and r.status is not distinct from v.status
    group by v.credit_code, v.status_date
)

select
    {{ surrogate_key(['v.credit_code', 'v.version_no']) }} as enterprise_key,
    v.credit_code,
    v.customs_code,
    v.enterprise_name,
    v.enterprise_type,
    v.enterprise_type in ('export', 'service') as counts_as_introduced,
    v.enterprise_type = 'startup' as counts_as_incubated,
    v.entry_date,
    v.status,
    v.status_date,
    v.version_no,
    case when v.version_no = 1 then least(v.entry_date, v.status_date) else v.status_date end as valid_from,
    v.next_status_date as valid_to,
    v.next_status_date is null as is_current,
    f._batch_id,
    v._loaded_at
from versions as v
inner join first_delivery as f using (credit_code, status_date)
