-- CNY central parity per business day and currency, as CNY per ONE unit of the currency
-- (a "100JPY/CNY" quote is divided by 100).
with parsed as (
    select
        rate_date::date as rate_date,
        currency_pair,
        coalesce(nullif(substring(currency_pair from '^(\d+)[A-Z]{3}/'), ''), '1')::integer as quote_units,
        substring(currency_pair from '([A-Z]{3})/CNY$') as currency_iso,
        {{ to_numeric('rate') }} as quoted_rate,
        _batch_id,
        row_number() over (partition by rate_date, currency_pair order by _batch_id desc, _record_no desc) as rn
    from {{ source('reference', 'fx_central_parity') }}
)

select
    rate_date,
    currency_iso,
    quote_units,
    quoted_rate,
    quoted_rate / quote_units as cny_per_unit,
    _batch_id
from parsed
where rn = 1
