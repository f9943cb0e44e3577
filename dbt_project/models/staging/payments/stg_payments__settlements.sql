-- One row per settlement record (record_id), types cast from text.
-- A record delivered again (a re-sent or corrected file) is superseded by its latest load.
-- An FX_ADJUSTMENT revises the CNY amount of the PAYMENT it names (original_pay_no) from the
-- provisional to the final NEXT_DAY parity: amount_cny_final folds it into that payment.
with versions as (
    select distinct on (record_id) *
    from {{ source('payments', 'payment_settlement') }}
    order by record_id, _loaded_at desc, _batch_id desc, _record_no desc
),

typed as (
    select
        record_id,
        -- The institution is named by the file (settlement_<pay code>_...), not by a column.
        substring(_source from 'settlement_([0-9A-Za-z]{10})_[0-9]{8}_[0-9]{8}\.csv$') as payment_institution_code,
        {{ iso_date('settlement_date') }} as settlement_date,
        upper(trim(transaction_type)) as transaction_type,
        pay_no,
        nullif(trim(original_pay_no), '') as original_pay_no,
        order_no,
        ebp_code,
        ebc_code,
        {{ iso_timestamptz('transaction_time') }} as transacted_at,
        upper(trim(currency)) as currency_iso,
        {{ to_numeric('gross_amount') }} as gross_amount,
        {{ to_numeric('fee_amount') }} as fee_amount,
        {{ to_numeric('net_amount') }} as net_amount,
        {{ to_numeric('fx_rate') }} as fx_rate,
        upper(trim(rate_type)) as rate_type,
        upper(trim(settlement_currency)) as settlement_currency_iso,
        {{ to_numeric('settlement_amount_cny') }} as amount_cny,
        _batch_id,
        _record_no,
        _source,
        _loaded_at
    from versions
),

grouped as (
    -- A payment and its FX adjustments form one revision group (institution, payment pay_no).
    select
        *,
        case when transaction_type = 'FX_ADJUSTMENT' then original_pay_no else pay_no end as revision_pay_no
    from typed
),

revisions as (
    select
        *,
        coalesce(sum(amount_cny) filter (where transaction_type = 'FX_ADJUSTMENT')
            over (partition by payment_institution_code, revision_pay_no), 0) as fx_adjustment_cny,
        count(*) filter (where transaction_type = 'FX_ADJUSTMENT')
            over (partition by payment_institution_code, revision_pay_no) as fx_adjustment_count,
        bool_or(transaction_type = 'PAYMENT')
            over (partition by payment_institution_code, revision_pay_no) as revised_payment_loaded,
        -- A record's derived columns change when any record of its group loads: incremental
        -- models filter on this, not on the record's own _loaded_at.
        max(_loaded_at) over (partition by payment_institution_code, revision_pay_no) as _group_loaded_at
    from grouped
)

select
    {{ surrogate_key(['record_id']) }} as settlement_record_key,
    record_id,
    payment_institution_code,
    settlement_date,
    transaction_type,
    transaction_type = 'REFUND' as is_refund,
    transaction_type = 'DISPUTE' as is_dispute,
    transaction_type = 'DISPUTE_REVERSAL' as is_dispute_reversal,
    transaction_type = 'FX_ADJUSTMENT' as is_fx_adjustment,
    pay_no,
    original_pay_no,
    order_no,
    ebp_code,
    ebc_code,
    transacted_at,
    currency_iso,
    gross_amount,
    fee_amount,
    net_amount,
    fx_rate,
    rate_type,
    settlement_currency_iso,
    amount_cny,
    -- CNY at the final rate: a payment plus its adjustments; an adjustment folded into its
    -- payment counts 0 (one whose payment is not loaded keeps its own amount), so the column
    -- sums to the same total as amount_cny.
    case
        when transaction_type = 'PAYMENT' then amount_cny + fx_adjustment_cny
        when transaction_type = 'FX_ADJUSTMENT' and revised_payment_loaded then 0
        else amount_cny
    end as amount_cny_final,
    transaction_type = 'PAYMENT' and fx_adjustment_count > 0 as is_fx_revised,
    _batch_id,
    _record_no,
    _source,
    _loaded_at,
    _group_loaded_at
from revisions
