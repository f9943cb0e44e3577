-- One row per settlement record (record_id), types cast from text.
-- A record delivered again (a re-sent or corrected file) is superseded by its latest load.
-- An FX_ADJUSTMENT revises the CNY amount of the PAYMENT it names (original_pay_no) from the
-- provisional to the final NEXT_DAY parity: amount_cny_final folds it into that payment.
-- The two steps are macros (macros/payments.sql).
-- An incremental table, not a view: its tests read it many times, and each read of a view re-ran
-- the version anti-join and the group windows over every record. A run recomputes the revision
-- groups that changed, as fct_payment_settlements does (changed_settlement_revisions).
{{ config(
    materialized='incremental',
    unique_key='settlement_record_key',
    incremental_strategy='merge',
    on_schema_change='fail',
    indexes=[{'columns': ['settlement_record_key'], 'unique': True}, {'columns': ['_group_loaded_at']}],
    post_hook="{{ analyze_after_build() }}",
) }}

{% if is_incremental() %}
{{ changed_settlement_revisions() }}
{% else %}
{{ settlement_revisions(settlement_records()) }}
{% endif %}
