import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import AmountError, format_cents, format_price_e4, format_tenths, parse_cents


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("100.00", 10000),
        ("100", 10000),
        ("100.5", 10050),
        ("0.01", 1),
        (" 5.00 ", 500),
    ],
)
def test_parse(text: str, cents: int) -> None:
    assert parse_cents(text) == cents


@pytest.mark.parametrize(
    "text",
    [
        "1.005",
        "1e3",
        "1E3",
        "-1.00",
        "+5.00",
        "NaN",
        "nan",
        "Infinity",
        "inf",
        "",
        ".",
        ".50",
        "1.",
        "1,00",
        "1_000",
        "0x10",
        "5.0.0",
        "١٠٠",
        "٥.٠٠",
        "1" * 13,
        "1" * 10_000,
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(AmountError):
        parse_cents(text)


def test_zero_and_negative_only_when_allowed() -> None:
    with pytest.raises(AmountError, match="more than zero"):
        parse_cents("0.00", allow_zero=False)
    assert parse_cents("-2.50", allow_negative=True) == -250


@given(st.integers(min_value=-(10**14 - 1), max_value=10**14 - 1))
def test_format_then_parse_round_trips(cents: int) -> None:
    assert parse_cents(format_cents(cents), allow_negative=True) == cents


def test_format_tenths_and_prices() -> None:
    assert format_tenths(673) == "67.3"
    assert format_tenths(5) == "0.5"
    assert format_price_e4(15500) == "1.5500"
    assert format_price_e4(7) == "0.0007"
