-- Destination countries: customs 3-digit code -> ISO, region (the customs code's first digit is
-- its continent), ASEAN / RCEP membership and Belt and Road cooperation with valid-from/-to dates.
-- A view: it comes from seeds only, so it is as cheap to compute as to read and never needs a rebuild.
{{ config(materialized='view') }}
with blocs as (
    select
        iso_alpha2,
        min(valid_from) filter (where bloc = 'ASEAN') as asean_valid_from,
        min(valid_from) filter (where bloc = 'RCEP') as rcep_valid_from
    from {{ ref('trade_bloc_membership') }}
    group by iso_alpha2
)

select
    c.customs_code as country_key,
    c.customs_code,
    c.iso_alpha2,
    c.iso_alpha3,
    c.name_en,
    c.name_zh,
    case left(c.customs_code, 1)
        when '1' then 'Asia' when '2' then 'Africa' when '3' then 'Europe'
        when '4' then 'Latin America' when '5' then 'North America' when '6' then 'Oceania'
        else 'Other'
    end as region,
    bl.asean_valid_from is not null as is_asean,
    bl.asean_valid_from,
    bl.rcep_valid_from is not null as is_rcep,
    bl.rcep_valid_from,
    b.customs_code is not null as has_belt_and_road_agreement,
    b.region as belt_and_road_region,
    -- from the signing year when known, else from the initiative's launch (2013-09-07)
    case when b.customs_code is not null
         then coalesce(make_date(nullif(b.signing_year, '')::integer, 1, 1), date '2013-09-07') end as belt_and_road_valid_from,
    case when b.exit_date ~ '^\d{4}-\d{2}$' then (b.exit_date || '-01')::date
         when b.exit_date ~ '^\d{4}-\d{2}-\d{2}$' then b.exit_date::date end as belt_and_road_valid_to,
    b.confidence as belt_and_road_confidence,
    c.verified = 'yes' as code_verified
from {{ ref('customs_country') }} as c
left join {{ ref('belt_and_road') }} as b on b.customs_code = c.customs_code
left join blocs as bl on bl.iso_alpha2 = c.iso_alpha2
