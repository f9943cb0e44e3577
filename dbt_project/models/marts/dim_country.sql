-- Destination countries: customs 3-digit code -> ISO, region, Belt and Road membership.
select
    c.customs_code as country_key,
    c.customs_code,
    c.iso_alpha2,
    c.iso_alpha3,
    c.name_en,
    c.name_zh,
    b.region as belt_and_road_region,
    b.customs_code is not null and b.status = 'member' as is_belt_and_road,
    b.exit_date as belt_and_road_exit_date,
    c.verified = 'yes' as code_verified
from {{ ref('customs_country') }} as c
left join {{ ref('belt_and_road') }} as b on b.customs_code = c.customs_code
