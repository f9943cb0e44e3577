"""Validation rules that are code shared with the sandbox: the credit code check in SQL."""

import random

from parkdw import warehouse
from parkdw.codes import CREDIT_CODE_ALPHABET, credit_code_check_char_sql, is_valid_credit_code
from parkdw.sandbox import world


def test_credit_code_check_character_in_sql_agrees_with_the_python_rule(wh):
    rng = random.Random(5)
    valid = [world._credit_code(rng) for _ in range(300)]
    # One character changed (check or body), and two adjacent ones swapped.
    broken = [c[:i] + rng.choice(CREDIT_CODE_ALPHABET.replace(c[i], "")) + c[i + 1:]
              for c in valid[:150] for i in [rng.randrange(18)]]
    swapped = [c[:i] + c[i + 1] + c[i] + c[i + 2:] for c in valid[150:] for i in [rng.randrange(16)] if c[i] != c[i + 1]]
    codes = valid + broken + swapped
    with warehouse.connect(warehouse=wh) as conn:
        rows = conn.execute(f"""select code, substr(code, 18, 1) = {credit_code_check_char_sql('code')}
                                from unnest(%s::text[]) as code""", (codes,)).fetchall()
    assert [ok for _, ok in rows] == [is_valid_credit_code(c) for c in codes]
    assert sum(ok for _, ok in rows) == len(valid)  # every corruption caught
