-- The CNY central parity in force on every calendar day, per currency: the day's own rate, or
-- the latest earlier business day's (weekends, holidays). Days more than fx_stale_after_days after the
-- last published rate get no rate, so stale FX surfaces as a failed test, not a silent value.
with rates as (
    select rate_date, currency_iso, cny_per_unit from {{ ref('stg_reference__fx_rates') }}
),

days as (
    select generate_series(min(rate_date), max(rate_date) + {{ var('fx_stale_after_days') }}, interval '1 day')::date as calendar_date
    from rates
),

grid as (
    select d.calendar_date, c.currency_iso
    from days as d
    cross join (select distinct currency_iso from rates) as c
),

marked as (
    select
        g.calendar_date,
        g.currency_iso,
        r.rate_date,
        r.cny_per_unit,
        count(r.rate_date) over (partition by g.currency_iso order by g.calendar_date) as rate_group
    from grid as g
    left join rates as r on r.currency_iso = g.currency_iso and r.rate_date = g.calendar_date
)

select
    calendar_date,
    currency_iso,
    max(rate_date) over (partition by currency_iso, rate_group) as rate_date,
    max(cny_per_unit) over (partition by currency_iso, rate_group) as cny_per_unit
from marked
where rate_group > 0
