-- Calendar of the park's target period (and a year of margin on each side).
-- A view: it comes from the project's vars only, so it is as cheap to compute as to read and never needs a rebuild.
{{ config(materialized='view') }}
select
    to_char(d, 'YYYYMMDD')::integer as date_key,
    d::date as calendar_date,
    extract(isoyear from d)::integer as iso_year,
    extract(year from d)::integer as year,
    extract(quarter from d)::integer as quarter,
    extract(month from d)::integer as month,
    date_trunc('month', d)::date as month_start,
    extract(isodow from d)::integer as iso_day_of_week,
    extract(isodow from d) in (6, 7) as is_weekend
from generate_series(
    date '{{ var("park_period_start") }}' - interval '1 year',
    date '{{ var("park_period_end") }}' + interval '1 year',
    interval '1 day'
) as d
