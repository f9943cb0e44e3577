{# Settlement records (stg_payments__settlements) as two steps, so the incremental models can run
   the second on the revision groups that changed instead of the whole history. #}

{# The institution is named by the file (settlement_<pay code>_...), not by a column. #}
{% macro settlement_institution(source_name) -%}
    substring({{ source_name }} from 'settlement_([0-9A-Za-z]{10})_[0-9]{8}_[0-9]{8}\.csv$')
{%- endmacro %}

{# A payment and its FX adjustments form one revision group (institution, payment pay_no). #}
{% macro settlement_revision_pay_no(p) -%}
    case when upper(trim({{ p }}.transaction_type)) = 'FX_ADJUSTMENT' then nullif(trim({{ p }}.original_pay_no), '')
         else {{ p }}.pay_no end
{%- endmacro %}

{# The latest version of each settlement record (a record delivered again: its latest load
   wins), types cast, with its revision group. Dates, times and amounts are cast as they are:
   the loader quarantines a record whose value breaks its format (feeds.SETTLEMENTS' formats:
   ASCII digits, a date, an instant with its offset, or empty, which is NULL), so raw holds no
   other; a regex per value cost about a second per column on the month's 1.2 M records.
   An anti-join, not DISTINCT ON: a filter on the result reaches the raw scan. `where` filters
   the raw rows (the latest version of a record must pass it to be kept, so filter on what every
   version of a record shares). #}
{% macro settlement_records(where='true') -%}
    select
        p.record_id,
        {{ settlement_institution('batch.source') }} as payment_institution_code,
        p.settlement_date::date as settlement_date,
        upper(trim(p.transaction_type)) as transaction_type,
        p.pay_no,
        nullif(trim(p.original_pay_no), '') as original_pay_no,
        {{ settlement_revision_pay_no('p') }} as revision_pay_no,
        p.order_no,
        p.ebp_code,
        p.ebc_code,
        p.transaction_time::timestamptz as transacted_at,
        upper(trim(p.currency)) as currency_iso,
        p.gross_amount::numeric as gross_amount,
        p.fee_amount::numeric as fee_amount,
        p.net_amount::numeric as net_amount,
        p.fx_rate::numeric as fx_rate,
        upper(trim(p.rate_type)) as rate_type,
        upper(trim(p.settlement_currency)) as settlement_currency_iso,
        p.settlement_amount_cny::numeric as amount_cny,
        p._batch_id,
        p._record_no,
        batch.source as _source,
        p._loaded_at
    from {{ source('payments', 'payment_settlement') }} as p
    {{ join_batch_source('p') }}
    where {{ is_latest_version('p', source('payments', 'payment_settlement'), key='record_id',
                               order_by=['_loaded_at', '_batch_id', '_record_no']) }}
      and ({{ where }})
{%- endmacro %}

{# The settlement rows of the records in `records` (settlement_records' columns): whole
   revision groups in, exact group totals out. #}
{% macro settlement_revisions(records) -%}
with revisions as (
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
    from ({{ records }}) as records
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
    revision_pay_no,
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
{%- endmacro %}

{# The settlement rows of the revision groups with a record loaded within lookback_days of the
   newest load the calling incremental model holds, so a late adjustment also updates the payment
   it revises (the lookback covers loads that commit out of _loaded_at order). A record loaded
   again changes the groups of all its versions: an adjustment re-sent naming another payment
   leaves the group it named before, which is recomputed too. It reads only those groups' records:
   the changed ones by the raw _loaded_at index, then every record naming a changed pay_no (a
   group's members all do). #}
{% macro changed_settlement_revisions() -%}
{%- set raw = source('payments', 'payment_settlement') -%}
with changed_groups as materialized (
    select distinct {{ settlement_institution('batch.source') }} as payment_institution_code,
           {{ settlement_revision_pay_no('p') }} as revision_pay_no
    from {{ raw }} as p
    {{ join_batch_source('p') }}
    where p.record_id in (
        select r.record_id from {{ raw }} as r
        where r._loaded_at > {{ load_watermark('_group_loaded_at', var('lookback_days', 3) ~ ' days') }})
),

settlements as (
    {{ settlement_revisions(settlement_records(
        "p.pay_no in (select revision_pay_no from changed_groups)"
        ~ " or nullif(trim(p.original_pay_no), '') in (select revision_pay_no from changed_groups)"
        ~ " or (exists (select 1 from changed_groups where revision_pay_no is null)"
        ~ " and case when upper(trim(p.transaction_type)) = 'FX_ADJUSTMENT' then nullif(trim(p.original_pay_no), '')"
        ~ " else p.pay_no end is null)")) }}
)

select s.*
from settlements as s
-- records of groups that did not change, read because they name a changed pay_no
where exists (select 1 from changed_groups as g
              where g.payment_institution_code is not distinct from s.payment_institution_code
                and g.revision_pay_no is not distinct from s.revision_pay_no)
{%- endmacro %}
