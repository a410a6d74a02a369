"""The single exception tree of the STS library.

Callers (the gateway's SOAP layer, the CSV import, the CLI) translate these into their own errors in
one place, so every failure the library can raise is an ``StsError`` and carries its details as
attributes, not only in the message::

    StsError
     ├── InvalidFieldError (also ValueError)    field, value, reason
     │    ├── MeterIdentityError                 (IIN / DRN / meter PAN format)
     │    │    └── CheckDigitError               expected, found
     │    ├── AmountRangeError                   (amount or watts not encodable)
     │    └── TidRangeError                      (time outside the base date's 24-bit range)
     ├── KeyExpiredError                         tid, ken
     ├── TokenFormatError (also ValueError)      token (not 20 digits, above 2^66 - 1)
     ├── KeyChangeError                          (inconsistent key-change request)
     └── SecurityModuleError
          └── KeyUnwrapError                     key_id (wrong master key, tampered blob, moved key)

Key material never goes into an exception: fields holding keys report their length only.
"""

from __future__ import annotations

__all__ = [
    "AmountRangeError",
    "CheckDigitError",
    "InvalidFieldError",
    "KeyChangeError",
    "KeyExpiredError",
    "KeyUnwrapError",
    "MeterIdentityError",
    "SecurityModuleError",
    "StsError",
    "TidRangeError",
    "TokenFormatError",
]


class StsError(Exception):
    """Root of every error raised by the ``sts`` package."""


class InvalidFieldError(StsError, ValueError):
    """An input field is malformed or out of range.

    ``value`` is the offending input (never key material: key fields report ``"<N bytes>"``).
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {value!r})")


class MeterIdentityError(InvalidFieldError):
    """IIN, DRN or meter PAN is not well formed."""


class CheckDigitError(MeterIdentityError):
    """The Luhn check digit of a DRN or meter PAN is wrong; ``expected`` is the correct one."""

    def __init__(self, field: str, value: str, expected: str, found: str) -> None:
        self.expected = expected
        self.found = found
        super().__init__(
            field,
            value,
            f"check digit is {found}, the correct check digit would be {expected}",
        )


class AmountRangeError(InvalidFieldError):
    """An amount (0.1 units, currency or watts) cannot be carried by the 16-bit field."""


class TidRangeError(InvalidFieldError):
    """A time or TID lies outside the 24-bit minute range of its base date."""


class KeyExpiredError(StsError):
    """The TID lies after the key's expiry: its top 8 bits exceed the KEN."""

    def __init__(self, tid: int, ken: int) -> None:
        self.tid = tid
        self.ken = ken
        super().__init__(f"key expired: TID {tid} has key-expiry bits {tid >> 16} > KEN {ken}")


class TokenFormatError(StsError, ValueError):
    """The text is not a 20-digit STS token (or its 66-bit value is out of range)."""

    def __init__(self, token: str, reason: str) -> None:
        self.token = token
        self.reason = reason
        super().__init__(f"not an STS token: {reason}")


class KeyChangeError(StsError):
    """A key-change request is inconsistent (another meter, missing SGC, base date going back)."""


class SecurityModuleError(StsError):
    """The security module cannot perform the operation."""


class KeyUnwrapError(SecurityModuleError):
    """A wrapped vending key does not open under this master key and ``key_id``."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(
            f"wrapped vending key for {key_id!r} cannot be unwrapped "
            "(wrong master key, wrong key id, or damaged blob)"
        )
