"""XMLVend clientIDs are EAN-13 numbers: twelve digits and a mod-10 check digit.

A mistyped clientID must be refused when a vendor is registered, not discovered later when its
terminals cannot log in, so the check digit is verified here and nowhere else.
"""

from __future__ import annotations

from vendor_accounts.exceptions import InvalidClientId

__all__ = ["ean13_check_digit", "validate_client_id"]


def ean13_check_digit(first12: str) -> int:
    """The check digit of twelve digits: weights 1,3,1,3,... from the left; 10 - sum mod 10."""
    if len(first12) != 12 or not first12.isascii() or not first12.isdigit():
        raise InvalidClientId(
            "an EAN-13 body is exactly 12 digits", field="client_id", value=first12
        )
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def validate_client_id(client_id: str) -> str:
    """Return the clientID when it is 13 digits with a correct check digit; raise otherwise."""
    if len(client_id) != 13 or not client_id.isascii() or not client_id.isdigit():
        raise InvalidClientId(
            f"clientID {client_id!r} must be exactly 13 digits", field="client_id", value=client_id
        )
    expected = ean13_check_digit(client_id[:12])
    if int(client_id[12]) != expected:
        raise InvalidClientId(
            f"clientID {client_id}: check digit should be {expected}",
            field="client_id",
            value=client_id,
        )
    return client_id
