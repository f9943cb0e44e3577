-- E-commerce platforms (ebpCode) as they name themselves in their latest declarations.
with named as (
    select ebp_code, ebp_name, ordered_at as seen_at from {{ ref('stg_customs__orders') }}
    union all
    select ebp_code, ebp_name, declared_at from {{ ref('stg_customs__inventory_heads') }}
)

select
    ebp_code as platform_key,
    ebp_code,
    (array_agg(ebp_name order by seen_at desc nulls last))[1] as platform_name,
    min(seen_at) as first_seen_at
from named
where ebp_code is not null
group by ebp_code
