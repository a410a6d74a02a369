"""Meter identity: IIN, DRN, meter PAN and the PANBlock (IEC 62055-41 6.1, 6.5.3.1).

The 18-digit meter PAN is IIN + DRN + a Luhn check digit. The DRN (decoder reference number) is
the meter's own number, 11 digits (2-digit manufacturer code, 8-digit serial, check digit) or 13
digits (4-digit manufacturer code); with a 13-digit DRN the IIN shrinks to 4 digits ("0000") so
the PAN stays 18 digits. A mistyped meter number must be caught at the edge (CSV import, SOAP
input) before a token is issued for a meter that does not exist, hence the check-digit errors say
what the right digit would have been.

The PANBlock feeding DKGA02 is the 16 least significant digits of IIN + DRN, read as hex nibbles.
"""

from __future__ import annotations

from dataclasses import dataclass

from sts.exceptions import CheckDigitError, MeterIdentityError

__all__ = [
    "MeterNumber",
    "luhn_check_digit",
    "pan_block",
    "parse_meter_pan",
    "validate_drn",
    "validate_iin",
]

PAN_LENGTH = 18
DRN_LENGTHS = (11, 13)


def _require_digits(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise MeterIdentityError(field, value, "must be a string of digits")
    # str.isdigit() also accepts superscripts and other scripts' digits; only ASCII will do here.
    if not value or not (value.isascii() and value.isdigit()):
        raise MeterIdentityError(field, value, "must contain only the digits 0-9")
    return value


def luhn_check_digit(digits: str) -> str:
    """The Luhn (mod 10) check digit to append to ``digits``.

    >>> luhn_check_digit("1111111111")
    '5'
    """
    _require_digits("digits", digits)
    total = 0
    # The digit next to the check digit is doubled, then every second one going left.
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def _check(field: str, number: str) -> None:
    expected = luhn_check_digit(number[:-1])
    if number[-1] != expected:
        raise CheckDigitError(field, number, expected=expected, found=number[-1])


def validate_drn(drn: str) -> str:
    """Check a DRN (11 or 13 digits including its Luhn check digit); return it unchanged.

    Raises ``MeterIdentityError`` for wrong length or non-digits and ``CheckDigitError`` (with
    ``expected``, the digit that would be correct) for a bad check digit.
    """
    _require_digits("drn", drn)
    if len(drn) not in DRN_LENGTHS:
        raise MeterIdentityError("drn", drn, f"must be 11 or 13 digits, not {len(drn)}")
    _check("drn", drn)
    return drn


def validate_iin(iin: str, drn_length: int = 11) -> str:
    """Check an IIN: 6 digits with an 11-digit DRN, 4 digits with a 13-digit DRN."""
    _require_digits("iin", iin)
    if drn_length not in DRN_LENGTHS:
        raise MeterIdentityError("drn", drn_length, "DRN length must be 11 or 13")
    wanted = PAN_LENGTH - 1 - drn_length
    if len(iin) != wanted:
        raise MeterIdentityError(
            "iin", iin, f"must be {wanted} digits with a {drn_length}-digit DRN, not {len(iin)}"
        )
    return iin


def _check_format(iin: str, drn: str) -> None:
    _require_digits("drn", drn)
    if len(drn) not in DRN_LENGTHS:
        raise MeterIdentityError("drn", drn, f"must be 11 or 13 digits, not {len(drn)}")
    validate_iin(iin, len(drn))


def pan_block(iin: str, drn: str) -> bytes:
    """The 8-byte PANBlock: the last 16 digits of IIN + DRN as BCD (5 IIN digits for an
    11-digit DRN, 3 for a 13-digit DRN).

    Only the format is checked here, not the DRN check digit: key derivation must reproduce
    whatever number is printed on the meter, and validation belongs to the input edge
    (``validate_drn`` / ``MeterNumber``).
    """
    _check_format(iin, drn)
    return bytes.fromhex((iin + drn)[-16:])


@dataclass(frozen=True, slots=True)
class MeterNumber:
    """A validated meter identity: IIN + DRN (with its check digit)."""

    iin: str
    drn: str

    def __post_init__(self) -> None:
        validate_drn(self.drn)
        validate_iin(self.iin, len(self.drn))

    @property
    def pan(self) -> str:
        """The 18-digit meter PAN: IIN + DRN + Luhn check digit over both."""
        body = self.iin + self.drn
        return body + luhn_check_digit(body)

    @property
    def pan_block(self) -> bytes:
        return pan_block(self.iin, self.drn)

    @classmethod
    def from_pan(cls, pan: str) -> MeterNumber:
        return parse_meter_pan(pan)


def parse_meter_pan(pan: str) -> MeterNumber:
    """Split an 18-digit meter PAN into IIN and DRN, checking both check digits.

    A PAN starting with IIN "0000" carries a 13-digit DRN; any other IIN is 6 digits with an
    11-digit DRN.
    """
    _require_digits("meter_pan", pan)
    if len(pan) != PAN_LENGTH:
        raise MeterIdentityError("meter_pan", pan, f"must be 18 digits, not {len(pan)}")
    _check("meter_pan", pan)
    iin_length = 4 if pan.startswith("0000") else 6
    return MeterNumber(iin=pan[:iin_length], drn=pan[iin_length:-1])
