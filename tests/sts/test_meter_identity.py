"""Meter numbers: Luhn check digits, DRN/IIN validation and the PANBlock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sts
from sts.meter_identity import validate_iin

SETTINGS = settings(max_examples=200, deadline=None)
digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=19)


def _luhn_valid(number: str) -> bool:
    """Independent Luhn check: sum with every second digit from the right doubled."""
    total = 0
    for position, char in enumerate(reversed(number)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


@SETTINGS
@given(digit_strings)
def test_appending_the_check_digit_makes_a_luhn_valid_number(digits: str) -> None:
    assert _luhn_valid(digits + sts.luhn_check_digit(digits))


@SETTINGS
@given(st.text(alphabet="0123456789", min_size=10, max_size=10), st.data())
def test_any_single_digit_error_in_a_drn_is_caught(body: str, data: st.DataObject) -> None:
    drn = body + sts.luhn_check_digit(body)
    assert sts.validate_drn(drn) == drn
    position = data.draw(st.integers(0, 10))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != drn[position]]))
    wrong = drn[:position] + replacement + drn[position + 1 :]
    with pytest.raises(sts.CheckDigitError) as raised:
        sts.validate_drn(wrong)
    assert raised.value.expected == sts.luhn_check_digit(wrong[:-1])


@pytest.mark.parametrize(
    ("drn", "reason"),
    [
        ("1234567890", "11 or 13 digits"),
        ("123456789012", "11 or 13 digits"),
        ("0123456789X", "only the digits"),
        ("", "only the digits"),
        ("０１２３４５６７８９７", "only the digits"),  # full-width digits are not ASCII digits
    ],
)
def test_malformed_drns_are_refused_with_the_reason(drn: str, reason: str) -> None:
    with pytest.raises(sts.MeterIdentityError) as raised:
        sts.validate_drn(drn)
    assert reason in str(raised.value)
    assert raised.value.field == "drn"
    assert not isinstance(raised.value, sts.CheckDigitError)


def test_a_drn_must_be_a_string() -> None:
    with pytest.raises(sts.MeterIdentityError):
        sts.validate_drn(1234567890)  # type: ignore[arg-type]


def test_thirteen_digit_drns_go_with_a_four_digit_iin() -> None:
    meter = sts.MeterNumber("0000", "0100000000008")
    assert meter.pan == "000001000000000082"
    assert meter.pan_block.hex() == "0000100000000008"
    assert sts.parse_meter_pan("000001000000000082") == meter
    with pytest.raises(sts.MeterIdentityError):
        validate_iin("600727", drn_length=13)
    with pytest.raises(sts.MeterIdentityError):
        sts.MeterNumber("0000", "01234567897")


def test_a_meter_pan_with_a_bad_check_digit_names_the_right_one() -> None:
    with pytest.raises(sts.CheckDigitError) as raised:
        sts.parse_meter_pan("600727000000000008")
    assert raised.value.expected == "9"
    assert raised.value.field == "meter_pan"
