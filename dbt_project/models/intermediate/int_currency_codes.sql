-- Every spelling of a currency partners send, mapped to the customs code and ISO 4217:
-- the customs code (142), the ISO alpha code (CNY) or the ISO numeric code (156).
-- No customs code collides with an ISO numeric code in the seed, so each spelling is unambiguous.
-- A table with a unique index, not a view: joined per declaration line, where the planner expects
-- a handful of lines (the latest-version anti-joins hide the real count) and loops over the view's
-- three unions for each line (3.3 of 3.9 s of int_declaration_lines_cny at 2 days of scale 0.5).
{{ config(materialized='table', indexes=[{'columns': ['delivered_code'], 'unique': True}]) }}
select customs_code as delivered_code, customs_code, iso4217_alpha as currency_iso, 'customs' as spelling
from {{ ref('customs_currency') }}
union all
select iso4217_alpha, customs_code, iso4217_alpha, 'iso_alpha'
from {{ ref('customs_currency') }} where iso4217_alpha is not null
union all
select iso4217_numeric, customs_code, iso4217_alpha, 'iso_numeric'
from {{ ref('customs_currency') }} where iso4217_numeric is not null
