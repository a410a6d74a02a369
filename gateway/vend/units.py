"""Units purchase values: the tender that buys a number of units.

XMLVend lets a client ask for energy instead of money (PurchaseValueUnit). The gateway sells
units the one way it sells money: it finds the smallest whole-cent tender whose pricing gives at
least the units asked for, then vends that tender like any other (pipeline's CreditVendUnits
plan, inside the vend's own transaction, so the tender is priced from the figures the vend
itself uses: debt, fixed charge and step position as they are under the meter's lock).

Pricing is monotonic in the tender (a cent more never buys less), so a binary search over the
policy's vend limits finds that tender exactly in about twenty pure pricings.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.settings import Settings
from gateway import errors, pricing
from gateway.tariffs import TariffBook
from gateway.vend import flow
from gateway.vend.meters import MeterInMonth

# Most units one request may ask for: the STS amount field's range (0.1 kWh steps).
MAX_UNITS_TENTHS = 18_201_624


def _units(
    tender_cents: int,
    tariff: pricing.TariffSteps,
    position: pricing.CustomerPosition,
    policy: pricing.PricingPolicy,
) -> int:
    try:
        return pricing.price_vend(tender_cents, tariff, position, policy).units_tenths
    except pricing.VendTooSmallError:
        return 0  # the tender went to debt and the fixed charge: no energy yet


def tender_for_units(
    units_tenths: int,
    tariff: pricing.TariffSteps,
    position: pricing.CustomerPosition,
    policy: pricing.PricingPolicy,
) -> int:
    """The smallest tender in cents, within the vend limits, buying at least `units_tenths`.

    Raises SchemaError for a units value that is not a positive whole number of 0.1 kWh, and
    VendAmount (code units-out-of-range, with the limits) when even the largest vend buys less."""
    if type(units_tenths) is not int or not 0 < units_tenths <= MAX_UNITS_TENTHS:
        raise errors.SchemaError(
            "units must be a positive number of kWh with at most one decimal",
            code="units",
            value=units_tenths,
        )
    low, high = policy.min_vend_cents, policy.max_vend_cents
    if _units(high, tariff, position, policy) < units_tenths:
        raise errors.VendAmount(
            f"{units_tenths / 10:.1f} kWh costs more than the largest vend "
            f"({pricing.format_cents(high)})",
            code="units-out-of-range",
            min_cents=low,
            max_cents=high,
        )
    while low < high:  # invariant: `high` buys enough
        middle = (low + high) // 2
        if _units(middle, tariff, position, policy) >= units_tenths:
            high = middle
        else:
            low = middle + 1
    return high


def tender_in_month(
    session: Session,
    tariffs: TariffBook,
    found: MeterInMonth,
    units_tenths: int,
    clock: flow.VendClock,
    settings: Settings,
) -> int:
    """The tender for `units_tenths` on this meter now: its tariff, debt and month so far."""
    if found.tariff_version_id is None:
        raise errors.SystemError_(
            f"tariff {found.meter.tariff_code} has no version in force on {clock.local.date()}",
            code="no-tariff-version",
        )
    return tender_for_units(
        units_tenths,
        tariffs.steps(session, found.tariff_version_id),
        flow.position(found.meter, found.month),
        flow.pricing_policy(settings),
    )
