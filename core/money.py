"""Money as integer minor units: strict parsing of decimal text and formatting back.

Amounts arrive as text (SOAP, CSV, the command line) and become cents once, here; from then on
nothing is a float or a Decimal until it is printed.
"""

from __future__ import annotations

import re

_AMOUNT = re.compile(r"(?P<sign>-?)(?P<whole>[0-9]{1,12})(?:\.(?P<frac>[0-9]{1,2}))?")


class AmountError(ValueError):
    """Text that is not a plain decimal amount with at most two decimals."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{text!r}: {reason}")
        self.text = text
        self.reason = reason


def parse_cents(text: str, *, allow_negative: bool = False, allow_zero: bool = True) -> int:
    """'100.5' -> 10050. Refuses exponents, more than two decimals, signs where not allowed and
    anything longer than twelve whole digits."""
    stripped = text.strip()
    match = _AMOUNT.fullmatch(stripped)
    if match is None:
        raise AmountError(text, "not a decimal amount with at most 2 decimals")
    cents = int(match["whole"]) * 100 + int((match["frac"] or "0").ljust(2, "0"))
    if match["sign"]:
        if not allow_negative:
            raise AmountError(text, "must not be negative")
        cents = -cents
    if cents == 0 and not allow_zero:
        raise AmountError(text, "must be more than zero")
    return cents


def format_cents(cents: int) -> str:
    """10050 -> '100.50'; -5 -> '-0.05'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def format_tenths(tenths: int) -> str:
    """Units in 0.1 kWh as a decimal string: 673 -> '67.3'."""
    sign = "-" if tenths < 0 else ""
    whole, frac = divmod(abs(tenths), 10)
    return f"{sign}{whole}.{frac}"


def format_price_e4(price_e4: int) -> str:
    """A price in 1/10000 of the currency unit per kWh: 15500 -> '1.5500'."""
    whole, frac = divmod(price_e4, 10000)
    return f"{whole}.{frac:04d}"
