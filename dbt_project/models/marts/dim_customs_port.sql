-- Customs districts and offices (portCode in declarations), from the customs district table.
-- A view: it comes from seeds only, so it is as cheap to compute as to read and never needs a rebuild.
{{ config(materialized='view') }}
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
