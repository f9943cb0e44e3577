-- E-commerce platforms (ebpCode) as they name themselves in their latest declarations
-- (orders and inventory lists, int_platform_documents; ties on the time: the greatest name).
-- Per platform by index lookups on (ebp_code, seen_at), not a sort of every document.
with recursive platforms as (
    (select ebp_code from {{ ref('int_platform_documents') }} order by ebp_code limit 1)
    union all
    select (select d.ebp_code from {{ ref('int_platform_documents') }} as d
            where d.ebp_code > p.ebp_code order by d.ebp_code limit 1)
    from platforms as p
    where p.ebp_code is not null
)

select
    p.ebp_code as platform_key,
    p.ebp_code,
    (coalesce(
        (select array[d.ebp_name] from {{ ref('int_platform_documents') }} as d
         where d.ebp_code = p.ebp_code and d.seen_at is not null
         order by d.seen_at desc, d.ebp_name desc nulls last limit 1),
        (select array[d.ebp_name] from {{ ref('int_platform_documents') }} as d
         where d.ebp_code = p.ebp_code and d.seen_at is null
         order by d.ebp_name desc nulls last limit 1)
    ))[1] as platform_name,
    (select min(d.seen_at) from {{ ref('int_platform_documents') }} as d where d.ebp_code = p.ebp_code)
        as first_seen_at
from platforms as p
where p.ebp_code is not null
