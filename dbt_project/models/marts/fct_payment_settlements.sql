-- Grain: one settlement record (record_id), its current version.
-- Incremental: a run re-reads the records of every revision group (a payment and its FX
-- adjustments) that loaded within lookback_days of the newest load already in the table, so a
-- late adjustment also updates the payment it revises; the lookback covers loads that commit
-- out of _loaded_at order. A full refresh gives the same rows.
-- The dimensions its keys reference (their relationship tests run with this model):
-- depends_on: {{ ref('dim_date') }}
-- depends_on: {{ ref('dim_currency') }}
{{ config(
    materialized='incremental',
    unique_key='settlement_record_key',
    incremental_strategy='merge',
    on_schema_change='fail'
) }}

select
    s.settlement_record_key,
    s.record_id,
    to_char(s.settlement_date, 'YYYYMMDD')::integer as settlement_date_key,
    s.settlement_date,
    c.customs_code as currency_key,
    s.currency_iso,
    s.payment_institution_code,
    s.ebp_code as platform_code,
    s.ebc_code as enterprise_code,
    s.order_no,
    s.pay_no,
    s.original_pay_no,
    s.transaction_type,
    s.transacted_at,
    s.is_refund,
    s.is_dispute,
    s.is_dispute_reversal,
    s.is_fx_adjustment,
    s.is_fx_revised,
    s.gross_amount,
    s.fee_amount,
    s.net_amount,
    s.fx_rate,
    s.rate_type,
    s.amount_cny,
    s.amount_cny_final,
    s._batch_id,
    s._group_loaded_at
from {{ ref('stg_payments__settlements') }} as s
left join {{ ref('customs_currency') }} as c on c.iso4217_alpha = s.currency_iso
{% if is_incremental() %}
where s._group_loaded_at > (
    select coalesce(max(_group_loaded_at), '-infinity'::timestamptz) from {{ this }}
) - interval '{{ var("lookback_days", 3) }} days'
{% endif %}
