-- Grain: one settlement record (record_id), its current version.
-- Incremental: a run recomputes the revision groups (a payment and its FX adjustments) with a
-- record loaded within lookback_days of the newest load already in the table, so a late
-- adjustment also updates the payment it revises; the lookback covers loads that commit out of
-- _loaded_at order. It reads only those groups' records: the changed ones by the raw
-- _loaded_at index, then every record naming a changed pay_no (a group's members all do).
-- A full refresh gives the same rows.
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

{% if is_incremental() %}
with changed_groups as materialized (
    select distinct payment_institution_code, revision_pay_no
    from ({{ settlement_records("p._loaded_at > " ~ load_watermark('_group_loaded_at', var('lookback_days', 3) ~ ' days')) }}) as changed
),

settlements as (
    {{ settlement_revisions(settlement_records(
        "p.pay_no in (select revision_pay_no from changed_groups)"
        ~ " or nullif(trim(p.original_pay_no), '') in (select revision_pay_no from changed_groups)"
        ~ " or (exists (select 1 from changed_groups where revision_pay_no is null)"
        ~ " and case when upper(trim(p.transaction_type)) = 'FX_ADJUSTMENT' then nullif(trim(p.original_pay_no), '')"
        ~ " else p.pay_no end is null)")) }}
)
{% endif %}

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
from settlements as s
{% else %}
from {{ ref('stg_payments__settlements') }} as s
{% endif %}
left join {{ ref('customs_currency') }} as c on c.iso4217_alpha = s.currency_iso
{% if is_incremental() %}
-- records of groups that did not change, read because they name a changed pay_no
where exists (select 1 from changed_groups as g
              where g.payment_institution_code is not distinct from s.payment_institution_code
                and g.revision_pay_no is not distinct from s.revision_pay_no)
{% endif %}
