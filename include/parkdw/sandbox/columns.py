"""Text columns for the sandbox's day-at-a-time generators.

A day's documents are drawn as numpy arrays; the texts they carry (UUIDs, zero-padded numbers)
are made as (n, width) arrays of ASCII characters, a column at a time, and only then split into
Python strings, one per row.
"""

from __future__ import annotations

import numpy as np

_DASHES = (8, 13, 18, 23)  # where str(uuid.UUID) puts its dashes
_HEX_SPANS = ((0, 0, 8), (9, 8, 12), (14, 12, 16), (19, 16, 20), (24, 20, 32))  # (text from, hex from, hex to)


def uuid_bytes(raw: bytes, n: int) -> np.ndarray:
    """n version-4 UUIDs, as an (n, 16) array of bytes, from 16 * n random bytes: the version nibble
    (high half of byte 6) is 4 and the variant bits (top two of byte 8) are 10, as
    uuid.UUID(bytes=..., version=4) sets them."""
    ids = np.frombuffer(raw, np.uint8, 16 * n).reshape(n, 16).copy()
    ids[:, 6] = ids[:, 6] & 0x0F | 0x40
    ids[:, 8] = ids[:, 8] & 0x3F | 0x80
    return ids


def uuid_texts(ids: np.ndarray, upper: bool = False) -> np.ndarray:
    """The UUIDs of an (n, 16) byte array as str(uuid.UUID) spells them (upper-case hex if asked):
    an (n, 36) array of characters."""
    hex_digits = ids.tobytes().hex()
    hex_digits = hex_digits.upper() if upper else hex_digits
    digits = np.frombuffer(hex_digits.encode("ascii"), np.uint8).reshape(len(ids), 32)
    text = np.empty((len(ids), 36), np.uint8)
    text[:, _DASHES] = ord("-")
    for at, low, high in _HEX_SPANS:
        text[:, at:at + high - low] = digits[:, low:high]
    return text


def digit_texts(values: np.ndarray, digits: int) -> np.ndarray:
    """Non-negative integers below 10**digits, zero-padded: an (n, digits) array of characters."""
    text = np.empty((len(values), digits), np.uint8)
    rest = values.astype(np.int64)
    for column in range(digits - 1, -1, -1):
        rest, text[:, column] = np.divmod(rest, 10)
    text += ord("0")
    return text


def reversed_digits(values: np.ndarray, digits: int) -> np.ndarray:
    """int(f"{v:0{digits}d}"[::-1]) of each value."""
    rest, out = values.astype(np.int64), np.zeros(len(values), np.int64)
    for _ in range(digits):
        rest, last = np.divmod(rest, 10)
        out = out * 10 + last
    return out


def mulmod(a: int, x: np.ndarray, modulus: int) -> np.ndarray:
    """(a * x) % modulus exactly in int64, for 0 <= a, x < modulus <= 2**44: x is taken 15 bits at
    a time (Horner), so no product exceeds 2**60."""
    if not 0 <= a < modulus <= 2 ** 44:
        raise ValueError(f"mulmod: need 0 <= a < modulus <= 2**44, got a={a}, modulus={modulus}")
    x = x.astype(np.int64)
    out = np.zeros(len(x), np.int64)
    for shift in (30, 15, 0):
        out = (out * (1 << 15) + a * ((x >> shift) & 0x7FFF)) % modulus
    return out


def texts(chars: np.ndarray) -> list[str]:
    """The rows of an (n, width) array of ASCII characters as strings."""
    n, width = chars.shape
    whole = chars.tobytes().decode("ascii")
    return [whole[i:i + width] for i in range(0, n * width, width)]
