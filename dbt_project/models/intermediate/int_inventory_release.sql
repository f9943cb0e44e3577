-- Customs outcome per inventory list from its reply history: released when a release (800)
-- or customs clearance (899) reply exists; the latest status is the last event by return time.
select
    inventory_guid,
    min(returned_at) filter (where return_status in ('800', '899')) as released_at,
    (array_agg(return_status order by status_seq desc))[1] as latest_status,
    bool_or(return_status = '100') as was_rejected
from {{ ref('stg_customs__inventory_returns') }}
group by inventory_guid
