"""Amount fields: rounding up in the customer's favour, the currency format, the limits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sts

SETTINGS = settings(max_examples=300, deadline=None)


def _value(field: int) -> int:
    """Independent evaluation of IEC 62055-41 6.3.6.2: m * 10^e + sum 2^14 * 10^(n-1)."""
    e, m = field >> 14, field & 0x3FFF
    return int(m * 10**e + sum(2**14 * 10 ** (n - 1) for n in range(1, e + 1)))


@SETTINGS
@given(st.integers(0, sts.MAX_AMOUNT))
def test_amounts_round_up_to_the_nearest_representable_value(amount: int) -> None:
    field = sts.encode_amount(amount)
    credited = sts.decode_amount(field)
    assert credited == _value(field) >= amount
    # Field values are ordered like the amounts they carry, so the previous field is the next
    # smaller representable amount: it must not be enough.
    if field:
        assert _value(field - 1) < amount


def test_every_field_value_is_the_encoding_of_what_it_decodes_to() -> None:
    for field in range(0x10000):
        assert sts.encode_amount(sts.decode_amount(field)) == field


@pytest.mark.parametrize("amount", [-1, sts.MAX_AMOUNT + 1, 1.5, True, "10"])
def test_out_of_range_amounts_are_refused(amount: object) -> None:
    with pytest.raises(sts.AmountRangeError):
        sts.encode_amount(amount)  # type: ignore[arg-type]


currency_fields = st.tuples(st.integers(0, 15), st.integers(0, 0xFFFF))


@SETTINGS
@given(currency_fields)
def test_currency_fields_round_trip(fields: tuple[int, int]) -> None:
    assert sts.encode_currency(sts.decode_currency(*fields)) == fields


@SETTINGS
@given(st.decimals(min_value=0, max_value=Decimal("1e12"), places=6, allow_nan=False))
def test_positive_currency_rounds_up(amount: Decimal) -> None:
    se, field = sts.encode_currency(amount)
    assert se & 8 == 0
    assert sts.decode_currency(se, field) >= amount


@SETTINGS
@given(st.decimals(min_value=Decimal("-1e12"), max_value=0, places=6, allow_nan=False))
def test_negative_currency_magnitude_rounds_down(amount: Decimal) -> None:
    se, field = sts.encode_currency(amount)
    decoded = sts.decode_currency(se, field)
    assert decoded >= amount  # a smaller debit
    assert abs(decoded) <= abs(amount)


def test_currency_one_unit_either_way() -> None:
    # Published: +1 -> e 1, m 8362 (1.00004); -1 -> e 1, m 8361 (0.99994 debited)
    assert sts.encode_currency("1") == (0, 0x4000 | 8362)
    assert sts.encode_currency("-1") == (8, 0x4000 | 8361)
    assert sts.decode_currency(8, 0x4000 | 8361) == Decimal("-0.99994")


@pytest.mark.parametrize("amount", [1.5, "abc", "NaN", "Infinity", "1e40"])
def test_bad_currency_amounts_are_refused(amount: object) -> None:
    with pytest.raises(sts.AmountRangeError):
        sts.encode_currency(amount)  # type: ignore[arg-type]
