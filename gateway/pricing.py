"""Pricing of a prepaid electricity vend, exact to the cent.

Why this module exists, and why it is shaped this way:

* A vend splits the customer's tender between debt recovery, the monthly fixed charge and energy,
  takes VAT out of the VAT-inclusive parts and walks the stepped tariff to find how many units the
  energy money buys. Every vend, quote, receipt and reconciliation must agree on that split to the
  cent, so the rules live in exactly one place.
* It is **pure**: no database, no clock, no settings, no I/O. The caller passes plain frozen values
  (the tariff version in force, the customer's month-to-date position, the utility's policy) and
  gets a frozen :class:`Quote` back. A refused vend raises a :class:`PricingError` and, since
  nothing was touched, the caller has nothing to undo. That makes the rules easy to test
  exhaustively (see the property tests) and safe to call for a quote that is never vended.
* Money is never a float. Amounts are integer cents, VAT rates integer basis points, units integer
  tenths of a kWh, tariff prices integer 1/10 000 of the currency unit per kWh (``price_e4``). While
  walking the tariff the money is carried in 1/100 000 of the currency unit (``e5``), in which the
  price of 0.1 kWh is exactly ``price_e4``, so no remainder is ever rounded away between steps.

The rules, in the order :func:`price_vend` applies them:

1. the tender must lie within ``policy.min_vend_cents .. policy.max_vend_cents``
   (:class:`VendAmountError`);
2. debt recovered = min(debt outstanding, floor(tender x recovery rate)); debt carries no VAT;
3. fixed charge = min(monthly fixed charge not yet paid this month, tender - debt recovered);
4. energy (VAT-inclusive) = tender - debt recovered - fixed charge;
5. the VAT-exclusive part of a VAT-inclusive amount x is x x 10000 / (10000 + v) rounded half up to
   the cent, VAT is the rest; applied to the energy and to the fixed charge separately;
6. units: walk the steps from the units already bought this month (free basic electricity
   excluded), buying whole steps while the money covers them and, in the step where it runs out,
   floor(money left / price of 0.1 kWh); money left below 0.1 kWh is not returned;
7. energy that buys less than 0.1 kWh refuses the vend (:class:`VendTooSmallError`);
8. a registered meter gets its monthly free basic electricity (FBE) once per calendar month, with
   its first vend of the month (``Quote.fbe_units_tenths``) or alone (:func:`issue_fbe`);
9. months are calendar months in the utility's timezone (:func:`month_key`).

Exception tree::

    PricingError                 code, field, value
     ├── InvalidInputError       a tariff, position or policy value that cannot be priced
     ├── VendAmountError         tender outside the policy's min/max vend amounts
     ├── VendTooSmallError       the energy part buys less than 0.1 kWh
     └── FbeNotDueError          standalone FBE asked for but not due this month
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.money import format_cents, format_price_e4, format_tenths

__all__ = [
    "CustomerPosition",
    "FbeIssue",
    "FbeNotDueError",
    "InvalidInputError",
    "PricingError",
    "PricingPolicy",
    "Quote",
    "Step",
    "StepPurchase",
    "TariffSteps",
    "VendAmountError",
    "VendTooSmallError",
    "describe_tariff",
    "fbe_due_tenths",
    "format_cents",
    "format_price_e4",
    "format_tenths",
    "issue_fbe",
    "month_key",
    "price_vend",
    "vat_exclusive_cents",
]

BP_DENOMINATOR = 10_000
"""Basis points in one whole (10000 bp = 100 %)."""

E5_PER_CENT = 1_000
"""Money while walking the tariff is in 1/100 000 of the currency unit: 1 cent = 1000 e5."""


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class PricingError(Exception):
    """Root of every pricing error; ``code``, ``field`` and ``value`` say what was refused."""

    default_code = "pricing-error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: object = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.field = field
        self.value = value


class InvalidInputError(PricingError):
    """A tariff, customer position or policy value that cannot be priced (wrong type or range)."""

    default_code = "invalid-input"


class VendAmountError(PricingError):
    """The tender lies outside the policy's minimum and maximum vend amounts."""

    default_code = "vend-amount"

    def __init__(self, message: str, *, value: int, min_cents: int, max_cents: int) -> None:
        super().__init__(message, field="tender_cents", value=value)
        self.min_cents = min_cents
        self.max_cents = max_cents


class VendTooSmallError(PricingError):
    """What is left of the tender for energy buys less than 0.1 kWh; the vend is refused."""

    default_code = "vend-too-small"

    def __init__(self, message: str, *, value: int, energy_cents: int) -> None:
        super().__init__(message, field="tender_cents", value=value)
        self.energy_cents = energy_cents


class FbeNotDueError(PricingError):
    """Free basic electricity asked for alone, but the meter is not registered or has had it."""

    default_code = "fbe-not-due"


# --------------------------------------------------------------------------------------------
# Validation helpers (private)
# --------------------------------------------------------------------------------------------


def _require_int(
    field: str, value: object, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    # ``type(...) is int`` on purpose: a bool is an int to isinstance, and a float must never pass.
    if type(value) is not int:
        raise InvalidInputError(f"{field} must be an int, got {value!r}", field=field, value=value)
    if minimum is not None and value < minimum:
        raise InvalidInputError(f"{field} must be >= {minimum}", field=field, value=value)
    if maximum is not None and value > maximum:
        raise InvalidInputError(f"{field} must be <= {maximum}", field=field, value=value)
    return value


def _require_bool(field: str, value: object) -> bool:
    if type(value) is not bool:
        raise InvalidInputError(f"{field} must be a bool, got {value!r}", field=field, value=value)
    return value


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a tariff version.

    ``upto_tenths`` is the cumulative monthly consumption, in 0.1 kWh, where this step ends (None
    for the last, unbounded step); ``price_e4`` is the VAT-exclusive price per kWh in 1/10 000 of
    the currency unit (1.5500 per kWh = 15500).
    """

    upto_tenths: int | None
    price_e4: int

    def __post_init__(self) -> None:
        if self.upto_tenths is not None:
            _require_int("upto_tenths", self.upto_tenths, minimum=1)
        _require_int("price_e4", self.price_e4, minimum=1)


@dataclass(frozen=True)
class TariffSteps:
    """The tariff version in force: its ordered steps and its VAT-inclusive monthly fixed charge."""

    code: str
    description: str
    steps: tuple[Step, ...]
    monthly_fixed_charge_cents: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code:
            raise InvalidInputError(
                "tariff code must be a non-empty str", field="code", value=self.code
            )
        if not isinstance(self.description, str):
            raise InvalidInputError(
                "tariff description must be a str", field="description", value=self.description
            )
        _require_int("monthly_fixed_charge_cents", self.monthly_fixed_charge_cents, minimum=0)
        if not isinstance(self.steps, tuple) or not self.steps:
            raise InvalidInputError(
                "a tariff needs a non-empty tuple of steps", field="steps", value=self.steps
            )
        previous = 0
        for index, step in enumerate(self.steps):
            if not isinstance(step, Step):
                raise InvalidInputError(f"steps[{index}] is not a Step", field="steps", value=step)
            last = index == len(self.steps) - 1
            if step.upto_tenths is None:
                if not last:
                    raise InvalidInputError(
                        "only the last step may be unbounded", field="steps", value=self.steps
                    )
            else:
                if last:
                    raise InvalidInputError(
                        "the last step must be unbounded (upto_tenths=None)",
                        field="steps",
                        value=self.steps,
                    )
                if step.upto_tenths <= previous:
                    raise InvalidInputError(
                        "step bounds must strictly increase", field="steps", value=self.steps
                    )
                previous = step.upto_tenths

    @classmethod
    def flat(
        cls, code: str, description: str, price_e4: int, monthly_fixed_charge_cents: int = 0
    ) -> TariffSteps:
        """A flat tariff: one unbounded step."""
        return cls(code, description, (Step(None, price_e4),), monthly_fixed_charge_cents)


@dataclass(frozen=True)
class CustomerPosition:
    """The customer's month-to-date position, as the caller read it for the current month."""

    debt_cents: int = 0
    recovery_rate_bp: int = 0
    units_this_month_tenths: int = 0
    """Units already bought this calendar month, free basic electricity excluded."""
    fixed_charge_paid_this_month_cents: int = 0
    fbe_registered: bool = False
    fbe_taken_this_month: bool = False

    def __post_init__(self) -> None:
        _require_int("debt_cents", self.debt_cents, minimum=0)
        _require_int("recovery_rate_bp", self.recovery_rate_bp, minimum=0, maximum=BP_DENOMINATOR)
        _require_int("units_this_month_tenths", self.units_this_month_tenths, minimum=0)
        _require_int(
            "fixed_charge_paid_this_month_cents", self.fixed_charge_paid_this_month_cents, minimum=0
        )
        _require_bool("fbe_registered", self.fbe_registered)
        _require_bool("fbe_taken_this_month", self.fbe_taken_this_month)


@dataclass(frozen=True)
class PricingPolicy:
    """The utility's pricing policy (from settings, read by the caller)."""

    vat_rate_bp: int
    min_vend_cents: int
    max_vend_cents: int
    fbe_monthly_tenths: int = 0

    def __post_init__(self) -> None:
        _require_int("vat_rate_bp", self.vat_rate_bp, minimum=0)
        _require_int("min_vend_cents", self.min_vend_cents, minimum=1)
        _require_int("max_vend_cents", self.max_vend_cents, minimum=self.min_vend_cents)
        _require_int("fbe_monthly_tenths", self.fbe_monthly_tenths, minimum=0)


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepPurchase:
    """Units bought in one tariff step: ``tenths`` of a kWh at ``price_e4``, costing ``cost_e5``.

    ``cost_e5`` is exact, in 1/100 000 of the currency unit (= ``tenths * price_e4``); it is not
    rounded to cents because a partial step rarely costs whole cents.
    """

    tenths: int
    price_e4: int
    cost_e5: int


JsonDict = dict[str, str | list[dict[str, str]]]


@dataclass(frozen=True)
class Quote:
    """The priced vend. Every amount is in cents; ``tender = debt + fixed charge + energy``."""

    tender_cents: int
    tariff_code: str
    units_tenths: int
    energy_cents: int
    """Energy part of the tender, VAT-inclusive."""
    energy_vat_cents: int
    fixed_charge_cents: int
    """Fixed charge part of the tender, VAT-inclusive."""
    fixed_charge_vat_cents: int
    debt_recovered_cents: int
    debt_remaining_cents: int
    fbe_units_tenths: int
    steps: tuple[StepPurchase, ...]
    unspent_e5: int
    """VAT-exclusive energy money (in 1/100 000) below the price of 0.1 kWh; not returned."""

    @property
    def energy_excl_vat_cents(self) -> int:
        return self.energy_cents - self.energy_vat_cents

    @property
    def fixed_charge_excl_vat_cents(self) -> int:
        return self.fixed_charge_cents - self.fixed_charge_vat_cents

    @property
    def vat_cents(self) -> int:
        """All VAT in the vend (energy and fixed charge)."""
        return self.energy_vat_cents + self.fixed_charge_vat_cents

    def to_json_dict(self) -> JsonDict:
        """The quote as printed by ``vendgw quote --json``: amounts and kWh as decimal strings."""
        return {
            "units_kwh": format_tenths(self.units_tenths),
            "energy": format_cents(self.energy_cents),
            "energy_vat": format_cents(self.energy_vat_cents),
            "fixed_charge": format_cents(self.fixed_charge_cents),
            "fixed_charge_vat": format_cents(self.fixed_charge_vat_cents),
            "debt_recovered": format_cents(self.debt_recovered_cents),
            "debt_remaining": format_cents(self.debt_remaining_cents),
            "fbe_units_kwh": format_tenths(self.fbe_units_tenths),
            "tariff": self.tariff_code,
            "steps": [
                {"kwh": format_tenths(s.tenths), "price": format_price_e4(s.price_e4)}
                for s in self.steps
            ],
        }


@dataclass(frozen=True)
class FbeIssue:
    """A standalone issue of free basic electricity: units only, no money."""

    units_tenths: int

    def to_json_dict(self) -> dict[str, str]:
        return {"fbe_units_kwh": format_tenths(self.units_tenths)}


# --------------------------------------------------------------------------------------------
# Pricing
# --------------------------------------------------------------------------------------------


def vat_exclusive_cents(inclusive_cents: int, vat_rate_bp: int) -> int:
    """The VAT-exclusive part of a VAT-inclusive amount, rounded half up to the cent.

    x * 10000 / (10000 + v), with the exact half rounded up; the VAT is ``x - result``.
    """
    _require_int("inclusive_cents", inclusive_cents, minimum=0)
    _require_int("vat_rate_bp", vat_rate_bp, minimum=0)
    denominator = BP_DENOMINATOR + vat_rate_bp
    return (2 * inclusive_cents * BP_DENOMINATOR + denominator) // (2 * denominator)


def _remaining_steps(tariff: TariffSteps, start_tenths: int) -> Iterator[tuple[int | None, int]]:
    """(tenths left in the step or None if unbounded, price_e4) for each step from ``start``."""
    for step in tariff.steps:
        if step.upto_tenths is None:
            yield None, step.price_e4
        elif step.upto_tenths > start_tenths:
            yield step.upto_tenths - start_tenths, step.price_e4
            start_tenths = step.upto_tenths


def _walk_steps(
    tariff: TariffSteps, start_tenths: int, money_e5: int
) -> tuple[tuple[StepPurchase, ...], int]:
    """Spend ``money_e5`` on the steps from ``start_tenths``; return the purchases and what is left.

    In e5 the price of 0.1 kWh is exactly ``price_e4``, so every cost below is exact.
    """
    bought: list[StepPurchase] = []
    for room_tenths, price_e4 in _remaining_steps(tariff, start_tenths):
        affordable = money_e5 // price_e4
        tenths = affordable if room_tenths is None else min(room_tenths, affordable)
        if tenths > 0:
            cost = tenths * price_e4
            bought.append(StepPurchase(tenths=tenths, price_e4=price_e4, cost_e5=cost))
            money_e5 -= cost
        if room_tenths is None or tenths < room_tenths:
            break  # the money ran out inside this step (or the step is the unbounded last one)
    return tuple(bought), money_e5


def fbe_due_tenths(position: CustomerPosition, policy: PricingPolicy) -> int:
    """The free basic electricity due with this month's next issue (0 if none is due)."""
    if position.fbe_registered and not position.fbe_taken_this_month:
        return policy.fbe_monthly_tenths
    return 0


def price_vend(
    tender_cents: int, tariff: TariffSteps, position: CustomerPosition, policy: PricingPolicy
) -> Quote:
    """Price a vend of ``tender_cents`` (see the module docstring for the rules).

    Raises :class:`VendAmountError` when the tender is outside the policy's limits and
    :class:`VendTooSmallError` when the energy part buys less than 0.1 kWh. Pure: the caller
    persists the quote's effects (debt, fixed charge paid, units this month, FBE taken) itself.
    """
    _require_int("tender_cents", tender_cents)
    if not policy.min_vend_cents <= tender_cents <= policy.max_vend_cents:
        raise VendAmountError(
            f"vend amount {format_cents(tender_cents)} is outside "
            f"{format_cents(policy.min_vend_cents)}..{format_cents(policy.max_vend_cents)}",
            value=tender_cents,
            min_cents=policy.min_vend_cents,
            max_cents=policy.max_vend_cents,
        )

    recovery_cap = tender_cents * position.recovery_rate_bp // BP_DENOMINATOR
    debt_recovered = min(position.debt_cents, recovery_cap)
    paid = position.fixed_charge_paid_this_month_cents
    fixed_due = max(0, tariff.monthly_fixed_charge_cents - paid)
    fixed_charge = min(fixed_due, tender_cents - debt_recovered)
    energy = tender_cents - debt_recovered - fixed_charge

    fixed_excl = vat_exclusive_cents(fixed_charge, policy.vat_rate_bp)
    energy_excl = vat_exclusive_cents(energy, policy.vat_rate_bp)

    steps, unspent_e5 = _walk_steps(
        tariff, position.units_this_month_tenths, energy_excl * E5_PER_CENT
    )
    units = sum(s.tenths for s in steps)
    if units < 1:
        raise VendTooSmallError(
            f"the energy part {format_cents(energy)} of a vend of {format_cents(tender_cents)} "
            "buys less than 0.1 kWh",
            value=tender_cents,
            energy_cents=energy,
        )

    return Quote(
        tender_cents=tender_cents,
        tariff_code=tariff.code,
        units_tenths=units,
        energy_cents=energy,
        energy_vat_cents=energy - energy_excl,
        fixed_charge_cents=fixed_charge,
        fixed_charge_vat_cents=fixed_charge - fixed_excl,
        debt_recovered_cents=debt_recovered,
        debt_remaining_cents=position.debt_cents - debt_recovered,
        fbe_units_tenths=fbe_due_tenths(position, policy),
        steps=steps,
        unspent_e5=unspent_e5,
    )


def issue_fbe(position: CustomerPosition, policy: PricingPolicy) -> FbeIssue:
    """A standalone free basic electricity issue (no money), or :class:`FbeNotDueError`."""
    if not position.fbe_registered:
        raise FbeNotDueError(
            "the meter is not registered for free basic electricity",
            field="fbe_registered",
            value=False,
            code="fbe-not-registered",
        )
    if position.fbe_taken_this_month:
        raise FbeNotDueError(
            "free basic electricity was already issued this month",
            field="fbe_taken_this_month",
            value=True,
            code="fbe-already-taken",
        )
    if policy.fbe_monthly_tenths == 0:
        raise FbeNotDueError(
            "the policy grants no free basic electricity",
            field="fbe_monthly_tenths",
            value=0,
            code="fbe-none",
        )
    return FbeIssue(units_tenths=policy.fbe_monthly_tenths)


def month_key(instant: datetime, tz: str) -> str:
    """The calendar month ("YYYY-MM") of an aware ``instant`` in the utility's timezone ``tz``."""
    if not isinstance(instant, datetime) or instant.utcoffset() is None:
        raise InvalidInputError(
            "month_key needs a timezone-aware datetime", field="instant", value=instant
        )
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise InvalidInputError(f"unknown timezone {tz!r}", field="tz", value=tz) from exc
    local = instant.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


# --------------------------------------------------------------------------------------------
# Formatting and parsing
# --------------------------------------------------------------------------------------------


def _format_kwh_bound(tenths: int) -> str:
    return str(tenths // 10) if tenths % 10 == 0 else format_tenths(tenths)


def describe_tariff(tariff: TariffSteps) -> str:
    """The tariff's steps in words for a receipt.

    "DOMESTIC: 0-50 kWh @ 1.2000, 50-350 kWh @ 1.5500, >350 kWh @ 2.1000 per kWh excl. VAT"; a flat
    tariff reads "COMMERCIAL: all kWh @ 2.0000 per kWh excl. VAT", and a fixed charge adds
    "; fixed charge 100.00 per month incl. VAT".
    """
    parts: list[str] = []
    lower = 0
    for step in tariff.steps:
        price = format_price_e4(step.price_e4)
        if step.upto_tenths is None:
            if lower == 0:
                parts.append(f"all kWh @ {price}")
            else:
                parts.append(f">{_format_kwh_bound(lower)} kWh @ {price}")
        else:
            parts.append(
                f"{_format_kwh_bound(lower)}-{_format_kwh_bound(step.upto_tenths)} kWh @ {price}"
            )
            lower = step.upto_tenths
    text = f"{tariff.code}: {', '.join(parts)} per kWh excl. VAT"
    if tariff.monthly_fixed_charge_cents:
        fixed = format_cents(tariff.monthly_fixed_charge_cents)
        text += f"; fixed charge {fixed} per month incl. VAT"
    return text
