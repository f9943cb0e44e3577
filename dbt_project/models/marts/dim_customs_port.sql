-- Customs districts and offices (portCode in declarations), from the customs district table.
select
    customs_code as port_key,
    customs_code,
    name_zh,
    name_en,
    level,
    parent_code,
    province,
    verified = 'yes' as code_verified
from {{ ref('customs_district') }}
