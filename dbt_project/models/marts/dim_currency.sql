-- A view: it comes from seeds only, so it is as cheap to compute as to read and never needs a rebuild.
{{ config(materialized='view') }}
select
    customs_code as currency_key,
    customs_code,
    iso4217_alpha,
    iso4217_numeric,
    name_en_iso as name_en,
    name_zh,
    verified = 'yes' as code_verified
from {{ ref('customs_currency') }}
