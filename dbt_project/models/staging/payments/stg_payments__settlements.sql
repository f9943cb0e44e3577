-- One row per settlement record (record_id), types cast from text.
-- A record delivered again (a re-sent or corrected file) is superseded by its latest load.
-- An FX_ADJUSTMENT revises the CNY amount of the PAYMENT it names (original_pay_no) from the
-- provisional to the final NEXT_DAY parity: amount_cny_final folds it into that payment.
-- The two steps are macros (macros/payments.sql): fct_payment_settlements runs them on the
-- revision groups that changed.
{{ settlement_revisions(settlement_records()) }}
