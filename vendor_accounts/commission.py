"""Vendor commission: a share of each sale, credited to the vendor's float with the vend itself.

The choice: **credited per vend**, not accrued and settled monthly. The commission is a leg of the
vend's own journal entry (``commission_expense`` debit, the float debited by the tender less the
commission), because

* the float then always shows what the vendor can really spend; a monthly settlement would leave
  the vendor short all month and hand over a lump at month end that nobody can trace to a sale;
* a reversal negates the vend's entry leg for leg, so the commission on a reversed vend disappears
  exactly, with no clawback across a month boundary;
* there is no settlement job to schedule, rerun or forget, and nothing is accrued outside the
  ledger, so ``float verify`` proves the commission too;
* statements show the commission on the line of the sale that earned it.

The cost is one more leg per vend, written in the same two statements as the others.

Rates: ``basis_points`` of the sales value (the whole tender, VAT included, as the customer paid
it) and/or ``per_kwh_e4``, 1/10 000 of the currency unit per kWh sold (the unit tariff prices
use). Each part is rounded down to the cent (the utility never pays a fraction it does not owe),
and the commission never exceeds the tender.
"""

from __future__ import annotations

from dataclasses import dataclass

from vendor_accounts.exceptions import InvalidInput

__all__ = ["CommissionRate", "commission_cents"]

BP_DENOMINATOR = 10_000
# units are 0.1 kWh and the rate 1/10 000 currency per kWh: cents = tenths * e4 / 1000.
_TENTHS_E4_PER_CENT = 1_000


@dataclass(frozen=True)
class CommissionRate:
    basis_points: int = 0
    per_kwh_e4: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.basis_points <= BP_DENOMINATOR:
            raise InvalidInput(
                "commission basis points must be 0..10000",
                field="commission_bp",
                value=self.basis_points,
            )
        if self.per_kwh_e4 < 0:
            raise InvalidInput(
                "per-kWh commission must not be negative",
                field="commission_kwh_e4",
                value=self.per_kwh_e4,
            )


def commission_cents(
    rate: CommissionRate, *, amount_cents: int, units_tenths: int | None = None
) -> int:
    """The commission on one sale of ``amount_cents`` that bought ``units_tenths`` of 0.1 kWh."""
    share = amount_cents * rate.basis_points // BP_DENOMINATOR
    if rate.per_kwh_e4:
        if units_tenths is None or units_tenths < 0:
            # Silently paying no per-kWh commission would be a quiet loss to the vendor.
            raise InvalidInput(
                "this vendor earns per-kWh commission: pass units_tenths",
                field="units_tenths",
                value=units_tenths,
            )
        share += units_tenths * rate.per_kwh_e4 // _TENTHS_E4_PER_CENT
    return min(share, amount_cents)
