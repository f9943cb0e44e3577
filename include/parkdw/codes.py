"""Identifier rules shared by the sandbox (which makes codes) and validation (which checks them)."""

from __future__ import annotations

# GB 32100-2015 unified social credit code: 17 characters + 1 check character.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_CODE_WEIGHTS))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def is_valid_credit_code(code: str | None) -> bool:
    if not code or len(code) != 18 or any(c not in CREDIT_CODE_ALPHABET for c in code):
        return False
    return credit_code_check_char(code[:17]) == code[17]


def credit_code_check_char_sql(column: str) -> str:
    """The same GB 32100-2015 check character as a SQL expression over a text column (for
    validation queries); it assumes the first 17 characters are in the alphabet."""
    terms = " + ".join(f"(strpos('{CREDIT_CODE_ALPHABET}', substr({column}, {i + 1}, 1)) - 1) * {w}"
                       for i, w in enumerate(_CREDIT_CODE_WEIGHTS))
    return f"substr('{CREDIT_CODE_ALPHABET}', mod(31 - mod({terms}, 31), 31) + 1, 1)"
