-- Grain: one settlement record (record_id), its current version.
-- Incremental: a run recomputes the revision groups (a payment and its FX adjustments) with a
-- record loaded within lookback_days of the newest load already in the table, from raw
-- (changed_settlement_revisions, macros/payments.sql). A full refresh gives the same rows.
-- The dimensions its keys reference (their relationship tests run with this model):
-- depends_on: {{ ref('dim_date') }}
-- depends_on: {{ ref('dim_currency') }}
{{ config(
    materialized='incremental',
    unique_key='settlement_record_key',
    incremental_strategy='merge',
    on_schema_change='fail',
    indexes=[{'columns': ['settlement_record_key'], 'unique': True}, {'columns': ['_group_loaded_at']}],
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
{% if is_incremental() %}
from ({{ changed_settlement_revisions() }}) as s
{% else %}
from {{ ref('stg_payments__settlements') }} as s
{% endif %}
left join {{ ref('customs_currency') }} as c on c.iso4217_alpha = s.currency_iso
