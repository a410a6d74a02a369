"""Amount fields of STS tokens (IEC 62055-41 6.3.6, 6.3.9, 6.3.10, 6.3.21).

Units amounts (class 0 subclasses 0-3, in 0.1 kWh / 0.1 m3 / 0.1 time unit) and the power limits
of class 2 (in watts) share one 16-bit floating format: exponent e in bits 15-14, mantissa m in
bits 13-0, value = m * 10^e + sum(2^14 * 10^(n-1) for n = 1..e). The offsets make the four ranges
contiguous; values that fall between two representable ones are always rounded UP, in the
customer's favour (a vend never credits less than was paid for).

Currency amounts (subclasses 4-7) count 0.00001 currency units with a 5-bit exponent whose two
low bits sit in the amount field (bits 14, 15) and three high bits in the S&E nibble that
replaces RND, whose top bit is the sign. Positive amounts round up; for negative amounts the
magnitude rounds down, again in the customer's favour.

All arithmetic is on integers (Decimal only at the edge), so nothing is lost to binary floats.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sts.exceptions import AmountRangeError

__all__ = [
    "MAX_AMOUNT",
    "MAX_CURRENCY_EXPONENT",
    "decode_amount",
    "decode_currency",
    "encode_amount",
    "encode_currency",
    "is_exact_amount",
]

_MANTISSA_MAX = (1 << 14) - 1
MAX_CURRENCY_EXPONENT = 31
_CURRENCY_SCALE = 5  # the currency field counts units of 10^-5


# Powers of ten up to the largest currency exponent (int ** int is not an int to a type checker).
_POW10: tuple[int, ...] = tuple(int(10**n) for n in range(MAX_CURRENCY_EXPONENT + 2))


def _offset(exponent: int) -> int:
    """sum(2^14 * 10^(n-1), n = 1..exponent): the value of mantissa 0 at this exponent."""
    return (1 << 14) * ((_POW10[exponent] - 1) // 9)


# Per exponent: (value of mantissa 0, 10^exponent, value of the largest mantissa). Precomputed
# because every token issued goes through here.
_LEVELS: tuple[tuple[int, int, int], ...] = tuple(
    (_offset(e), _POW10[e], _MANTISSA_MAX * _POW10[e] + _offset(e))
    for e in range(MAX_CURRENCY_EXPONENT + 1)
)

MAX_AMOUNT = _LEVELS[3][2]  # 18 201 624 (0.1 units) or watts


def _value(exponent: int, mantissa: int) -> int:
    offset, scale, _ = _LEVELS[exponent]
    return mantissa * scale + offset


def _round_up(value: int, max_exponent: int) -> tuple[int, int]:
    """Smallest representable (exponent, mantissa) whose value is >= ``value``."""
    for exponent in range(max_exponent + 1):
        offset, scale, top = _LEVELS[exponent]
        if value <= top:
            # At or below this exponent's first value (a gap between ranges): mantissa 0.
            if value <= offset:
                return exponent, 0
            return exponent, -((offset - value) // scale)  # ceiling division
    raise ValueError(value)


def _round_down(value: int, max_exponent: int) -> tuple[int, int]:
    """Largest representable (exponent, mantissa) whose value is <= ``value``."""
    exponent = 0
    while exponent < max_exponent and _LEVELS[exponent + 1][0] <= value:
        exponent += 1
    offset, scale, _ = _LEVELS[exponent]
    return exponent, min(_MANTISSA_MAX, (value - offset) // scale)


def encode_amount(amount: int, *, field: str = "amount") -> int:
    """The 16-bit field for ``amount`` (0.1 units, or watts), rounded up to the next
    representable value. Raises ``AmountRangeError`` below 0 or above ``MAX_AMOUNT``."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise AmountRangeError(field, amount, "must be an integer")
    if amount < 0 or amount > MAX_AMOUNT:
        raise AmountRangeError(field, amount, f"must be between 0 and {MAX_AMOUNT}")
    exponent, mantissa = _round_up(amount, 3)
    return exponent << 14 | mantissa


def decode_amount(field_value: int) -> int:
    """The amount (0.1 units, or watts) a 16-bit field stands for."""
    if not 0 <= field_value <= 0xFFFF:
        raise AmountRangeError("amount_field", field_value, "must be a 16-bit value")
    return _value(field_value >> 14, field_value & _MANTISSA_MAX)


def is_exact_amount(amount: int) -> bool:
    """Whether ``amount`` is carried without rounding."""
    return 0 <= amount <= MAX_AMOUNT and decode_amount(encode_amount(amount)) == amount


def _to_decimal(amount: Decimal | int | str) -> Decimal:
    if isinstance(amount, bool | float):
        # Binary floats cannot hold currency exactly; refuse rather than guess.
        raise AmountRangeError("currency_amount", amount, "must be a Decimal, int or str")
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise AmountRangeError("currency_amount", amount, "is not a decimal number") from None
    if not value.is_finite():
        raise AmountRangeError("currency_amount", amount, "must be finite")
    return value


def encode_currency(amount: Decimal | int | str) -> tuple[int, int]:
    """(S&E nibble, 16-bit amount field) for a currency amount in currency units.

    Positive amounts round up to the next representable value; negative amounts round their
    magnitude down. Raises ``AmountRangeError`` when the magnitude exceeds the largest
    representable value.
    """
    value = _to_decimal(amount)
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    numerator = int("".join(map(str, digits)) or "0")
    # Magnitude in 10^-5 units as an exact fraction numerator / denominator.
    shift = exponent + _CURRENCY_SCALE
    if shift >= 0:
        numerator *= 10**shift
        denominator = 1
    else:
        denominator = 10**-shift
    largest = _LEVELS[MAX_CURRENCY_EXPONENT][2]
    if sign:
        magnitude = numerator // denominator
        if magnitude > largest:
            raise AmountRangeError("currency_amount", amount, "magnitude too large to encode")
        e, m = _round_down(magnitude, MAX_CURRENCY_EXPONENT)
    else:
        magnitude = -(-numerator // denominator)
        if magnitude > largest:
            raise AmountRangeError("currency_amount", amount, "too large to encode")
        e, m = _round_up(magnitude, MAX_CURRENCY_EXPONENT)
    se_nibble = sign << 3 | e >> 2
    field_value = (e & 1) << 14 | ((e >> 1) & 1) << 15 | m
    return se_nibble, field_value


def decode_currency(se_nibble: int, field_value: int) -> Decimal:
    """The currency amount (in currency units) of an S&E nibble and amount field.

    A set sign bit with magnitude 0 decodes to Decimal("-0") so that re-encoding reproduces
    the same bits.
    """
    if not 0 <= se_nibble <= 15:
        raise AmountRangeError("se_nibble", se_nibble, "must be 0..15")
    if not 0 <= field_value <= 0xFFFF:
        raise AmountRangeError("amount_field", field_value, "must be a 16-bit value")
    exponent = (field_value >> 14 & 1) | (field_value >> 15 & 1) << 1 | (se_nibble & 7) << 2
    magnitude = _value(exponent, field_value & _MANTISSA_MAX)
    sign = "-" if se_nibble & 8 else ""
    # Built from a string so that even 35-digit magnitudes stay exact.
    return Decimal(f"{sign}{magnitude}E-{_CURRENCY_SCALE}")
