"""Why a PIN does not redeem: the refusals of a voucher found (or not) by its PIN (pure).

Shared by the vend's redemption step and the guessing limit's screen, which judge a PIN the same
way: `VoucherInvalid` (unknown, not activated, voided, expired) counts towards the limit,
`VoucherUsed` (already redeemed) does not.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from gateway import errors

__all__ = ["refusal", "unknown"]


def refusal(
    serial: int,
    status: str,
    redeemed_at: datetime | None,
    expires_on: date | None,
    today: date,
    tz: ZoneInfo,
) -> errors.GatewayError | None:
    """Why a voucher found by its PIN does not redeem now, or None (pure)."""
    if status == "redeemed":
        assert redeemed_at is not None
        when = redeemed_at.astimezone(tz)
        return errors.VoucherUsed(
            f"the voucher was already redeemed on {when:%Y-%m-%d} at {when:%H:%M}",
            redeemed_at=when.isoformat(timespec="seconds"),
        )
    if status == "voided":
        return errors.VoucherInvalid("the voucher was voided", code="voucher-voided", serial=serial)
    if status != "active":
        return errors.VoucherInvalid(
            "the voucher is not activated", code="voucher-not-activated", serial=serial
        )
    if expires_on is not None and today > expires_on:
        return errors.VoucherInvalid(
            f"the voucher expired on {expires_on.isoformat()}",
            code="voucher-expired",
            serial=serial,
        )
    return None


def unknown() -> errors.VoucherInvalid:
    return errors.VoucherInvalid("the voucher PIN is not valid", code="voucher-unknown")
