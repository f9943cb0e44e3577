select
    customs_code as currency_key,
    customs_code,
    iso4217_alpha,
    iso4217_numeric,
    name_en_iso as name_en,
    name_zh,
    verified = 'yes' as code_verified
from {{ ref('customs_currency') }}
