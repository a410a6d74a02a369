"""Tests of gateway.pricing: the worked examples, every refusal, and the invariants as properties.

The properties check the pricing against an independent restatement of the rules (a Fraction for
the half-up VAT split, an overlap sum for the cost of n tenths of a kWh), never against itself.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from fractions import Fraction
from math import floor
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pricing import (
    CustomerPosition,
    FbeIssue,
    FbeNotDueError,
    InvalidInputError,
    PricingError,
    PricingPolicy,
    Quote,
    Step,
    StepPurchase,
    TariffSteps,
    VendAmountError,
    VendTooSmallError,
    describe_tariff,
    fbe_due_tenths,
    issue_fbe,
    month_key,
    price_vend,
    vat_exclusive_cents,
)
from gateway.vend.flow import VendClock

POLICY = PricingPolicy(
    vat_rate_bp=1500, min_vend_cents=500, max_vend_cents=500000, fbe_monthly_tenths=500
)
DOMESTIC = TariffSteps(
    code="DOMESTIC",
    description="Domestic stepped tariff",
    steps=(Step(500, 12000), Step(3500, 15500), Step(None, 21000)),
)
COMMERCIAL = TariffSteps.flat(
    "COMMERCIAL", "Commercial flat tariff", price_e4=20000, monthly_fixed_charge_cents=10000
)
NOTHING_YET = CustomerPosition()

PROPERTY_SETTINGS = settings(deadline=None, database=None, max_examples=150)


# ---------------------------------------------------------------------------------------------
# The worked examples
# ---------------------------------------------------------------------------------------------


def test_domestic_first_vend_of_the_month() -> None:
    quote = price_vend(10000, DOMESTIC, NOTHING_YET, POLICY)

    assert quote.energy_cents == 10000
    assert quote.energy_vat_cents == 1304
    assert quote.energy_excl_vat_cents == 8696
    assert quote.steps == (
        StepPurchase(tenths=500, price_e4=12000, cost_e5=6_000_000),  # 50 kWh for 60.00
        StepPurchase(tenths=173, price_e4=15500, cost_e5=2_681_500),  # 26.96 buys 17.3 kWh
    )
    assert quote.units_tenths == 673
    assert quote.unspent_e5 == 8696_000 - 6_000_000 - 2_681_500
    assert quote.to_json_dict() == {
        "units_kwh": "67.3",
        "energy": "100.00",
        "energy_vat": "13.04",
        "fixed_charge": "0.00",
        "fixed_charge_vat": "0.00",
        "debt_recovered": "0.00",
        "debt_remaining": "0.00",
        "fbe_units_kwh": "0.0",
        "tariff": "DOMESTIC",
        "steps": [{"kwh": "50.0", "price": "1.2000"}, {"kwh": "17.3", "price": "1.5500"}],
    }


def test_domestic_with_debt_recovers_twenty_percent() -> None:
    position = CustomerPosition(debt_cents=50000, recovery_rate_bp=2000)

    quote = price_vend(10000, DOMESTIC, position, POLICY)

    assert quote.debt_recovered_cents == 2000
    assert quote.debt_remaining_cents == 48000
    assert quote.energy_cents == 8000
    assert quote.energy_vat_cents == 1043
    assert quote.units_tenths == 561
    assert quote.to_json_dict()["debt_remaining"] == "480.00"


def test_commercial_first_and_second_vend_of_the_month() -> None:
    first = price_vend(30000, COMMERCIAL, NOTHING_YET, POLICY)

    assert first.fixed_charge_cents == 10000
    assert first.fixed_charge_vat_cents == 1304
    assert first.energy_cents == 20000
    assert first.energy_vat_cents == 2609
    assert first.units_tenths == 869
    assert first.vat_cents == 1304 + 2609

    after_first = CustomerPosition(
        units_this_month_tenths=first.units_tenths,
        fixed_charge_paid_this_month_cents=first.fixed_charge_cents,
    )
    second = price_vend(10000, COMMERCIAL, after_first, POLICY)

    assert second.fixed_charge_cents == 0
    assert second.units_tenths == 434


def test_domestic_crossing_into_the_top_step() -> None:
    position = CustomerPosition(units_this_month_tenths=3400)

    quote = price_vend(10000, DOMESTIC, position, POLICY)

    assert [(s.tenths, s.price_e4) for s in quote.steps] == [(100, 15500), (340, 21000)]
    assert quote.units_tenths == 440


def test_a_whole_step_is_bought_when_the_money_covers_it_exactly() -> None:
    # 69.00 incl. VAT is exactly 60.00 excl. VAT: the whole first step and nothing more.
    quote = price_vend(6900, DOMESTIC, NOTHING_YET, POLICY)

    assert quote.energy_excl_vat_cents == 6000
    assert quote.steps == (StepPurchase(tenths=500, price_e4=12000, cost_e5=6_000_000),)
    assert quote.unspent_e5 == 0


def test_a_position_past_a_step_bound_starts_in_the_right_step() -> None:
    at_bound = price_vend(10000, DOMESTIC, CustomerPosition(units_this_month_tenths=500), POLICY)
    way_past = price_vend(10000, DOMESTIC, CustomerPosition(units_this_month_tenths=9000), POLICY)

    assert [s.price_e4 for s in at_bound.steps] == [15500]
    assert [s.price_e4 for s in way_past.steps] == [21000]


def test_fixed_charge_takes_what_is_left_after_debt_and_only_what_is_unpaid() -> None:
    partly_paid = CustomerPosition(fixed_charge_paid_this_month_cents=7000)
    overpaid = CustomerPosition(fixed_charge_paid_this_month_cents=12000)  # tariff changed

    assert price_vend(30000, COMMERCIAL, partly_paid, POLICY).fixed_charge_cents == 3000
    assert price_vend(30000, COMMERCIAL, overpaid, POLICY).fixed_charge_cents == 0


def test_quote_is_frozen() -> None:
    quote = price_vend(10000, DOMESTIC, NOTHING_YET, POLICY)

    with pytest.raises(dataclasses.FrozenInstanceError):
        quote.units_tenths = 1  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Rounding half up at the exact .5 boundary
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inclusive", "vat_bp", "exclusive"),
    [
        (314, 48, 313),  # 314 * 10000 / 10048 = 312.5 exactly -> 313 (half-even would give 312)
        (4, 6000, 3),  # 4 * 10000 / 16000 = 2.5 exactly -> 3 (floor and half-even give 2)
        (404, 6000, 253),  # 252.5 -> 253
        (10000, 1500, 8696),  # 8695.652... -> 8696
        (8000, 1500, 6957),  # 6956.521... -> 6957
        (0, 1500, 0),
        (100, 0, 100),
    ],
)
def test_vat_exclusive_rounds_half_up(inclusive: int, vat_bp: int, exclusive: int) -> None:
    assert vat_exclusive_cents(inclusive, vat_bp) == exclusive


def test_half_up_boundary_through_a_vend() -> None:
    policy = PricingPolicy(vat_rate_bp=6000, min_vend_cents=1, max_vend_cents=100000)
    tariff = TariffSteps.flat("FLAT", "1.0000 per kWh", price_e4=10000)

    quote = price_vend(404, tariff, NOTHING_YET, policy)  # 404 / 1.6 = 252.5 exactly

    assert quote.energy_excl_vat_cents == 253
    assert quote.energy_vat_cents == 151
    assert quote.units_tenths == 25  # 0.10 per 0.1 kWh; the 0.03 left is not returned
    assert quote.unspent_e5 == 3000


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tender", [499, 1, 0, -100, 500001, 10**12])
def test_tender_outside_the_vend_limits_is_refused(tender: int) -> None:
    with pytest.raises(VendAmountError) as info:
        price_vend(tender, DOMESTIC, NOTHING_YET, POLICY)

    error = info.value
    assert isinstance(error, PricingError)
    assert (error.code, error.field, error.value) == ("vend-amount", "tender_cents", tender)
    assert (error.min_cents, error.max_cents) == (500, 500000)


@pytest.mark.parametrize("tender", [500, 500000])
def test_the_vend_limits_themselves_are_allowed(tender: int) -> None:
    assert price_vend(tender, DOMESTIC, NOTHING_YET, POLICY).tender_cents == tender


@pytest.mark.parametrize("tender", [100.0, True, "100.00", None])
def test_a_tender_that_is_not_an_int_is_refused(tender: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        price_vend(tender, DOMESTIC, NOTHING_YET, POLICY)  # type: ignore[arg-type]

    assert (info.value.code, info.value.field) == ("invalid-input", "tender_cents")


def test_a_vend_eaten_by_the_fixed_charge_is_refused() -> None:
    with pytest.raises(VendTooSmallError) as info:
        price_vend(5000, COMMERCIAL, NOTHING_YET, POLICY)

    assert (info.value.code, info.value.field, info.value.value) == (
        "vend-too-small",
        "tender_cents",
        5000,
    )
    assert info.value.energy_cents == 0


def test_a_vend_eaten_by_debt_recovery_is_refused() -> None:
    position = CustomerPosition(debt_cents=10**7, recovery_rate_bp=10000)

    with pytest.raises(VendTooSmallError):
        price_vend(10000, DOMESTIC, position, POLICY)


def test_energy_below_one_tenth_of_a_kwh_is_refused_and_exactly_one_tenth_is_sold() -> None:
    policy = PricingPolicy(vat_rate_bp=1500, min_vend_cents=1, max_vend_cents=100000)
    position = CustomerPosition(units_this_month_tenths=4000)  # top step: 0.21 per 0.1 kWh

    # 0.23 incl. VAT is 0.20 excl. (20.0): less than 0.21, the price of 0.1 kWh in the top step.
    with pytest.raises(VendTooSmallError) as info:
        price_vend(23, DOMESTIC, position, policy)
    assert info.value.energy_cents == 23

    # 0.24 incl. VAT is 0.21 excl. (20.87 rounded half up): exactly 0.1 kWh, nothing left over.
    quote = price_vend(24, DOMESTIC, position, policy)
    assert quote.steps == (StepPurchase(tenths=1, price_e4=21000, cost_e5=21000),)
    assert quote.unspent_e5 == 0


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ((), "steps"),
        ((Step(500, 12000),), "steps"),  # the last step must be unbounded
        ((Step(None, 12000), Step(None, 15500)), "steps"),  # only the last may be unbounded
        ((Step(500, 12000), Step(500, 15500), Step(None, 1)), "steps"),  # must increase
        ((Step(500, 12000), Step(400, 15500), Step(None, 1)), "steps"),
        ([Step(None, 12000)], "steps"),  # a list is not a tuple
    ],
)
def test_malformed_tariffs_are_refused(steps: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        TariffSteps("BAD", "bad", steps)  # type: ignore[arg-type]

    assert info.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"upto_tenths": None, "price_e4": 0}, "price_e4"),
        ({"upto_tenths": None, "price_e4": 1.2}, "price_e4"),
        ({"upto_tenths": 0, "price_e4": 12000}, "upto_tenths"),
        ({"upto_tenths": 50.0, "price_e4": 12000}, "upto_tenths"),
    ],
)
def test_malformed_steps_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        Step(**kwargs)  # type: ignore[arg-type]

    assert info.value.field == field


def test_a_tariff_needs_a_code_and_a_non_negative_fixed_charge() -> None:
    with pytest.raises(InvalidInputError) as no_code:
        TariffSteps("", "x", (Step(None, 1),))
    with pytest.raises(InvalidInputError) as negative:
        TariffSteps("X", "x", (Step(None, 1),), monthly_fixed_charge_cents=-1)

    assert no_code.value.field == "code"
    assert negative.value.field == "monthly_fixed_charge_cents"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"debt_cents": -1}, "debt_cents"),
        ({"recovery_rate_bp": 10001}, "recovery_rate_bp"),
        ({"recovery_rate_bp": -1}, "recovery_rate_bp"),
        ({"units_this_month_tenths": -1}, "units_this_month_tenths"),
        ({"fixed_charge_paid_this_month_cents": -1}, "fixed_charge_paid_this_month_cents"),
        ({"debt_cents": 1.5}, "debt_cents"),
        ({"fbe_registered": 1}, "fbe_registered"),
    ],
)
def test_impossible_positions_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        CustomerPosition(**kwargs)  # type: ignore[arg-type]

    assert (info.value.code, info.value.field) == ("invalid-input", field)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"vat_rate_bp": -1, "min_vend_cents": 500, "max_vend_cents": 500000}, "vat_rate_bp"),
        ({"vat_rate_bp": 1500, "min_vend_cents": 0, "max_vend_cents": 500000}, "min_vend_cents"),
        ({"vat_rate_bp": 1500, "min_vend_cents": 500, "max_vend_cents": 499}, "max_vend_cents"),
        ({"vat_rate_bp": 0.15, "min_vend_cents": 500, "max_vend_cents": 500000}, "vat_rate_bp"),
    ],
)
def test_impossible_policies_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        PricingPolicy(**kwargs)  # type: ignore[arg-type]

    assert info.value.field == field


# ---------------------------------------------------------------------------------------------
# Free basic electricity
# ---------------------------------------------------------------------------------------------


def test_fbe_comes_with_the_first_vend_of_the_month_and_does_not_move_the_steps() -> None:
    registered = CustomerPosition(fbe_registered=True)

    quote = price_vend(10000, DOMESTIC, registered, POLICY)

    assert quote.fbe_units_tenths == 500
    assert quote.to_json_dict()["fbe_units_kwh"] == "50.0"
    assert quote.units_tenths == price_vend(10000, DOMESTIC, NOTHING_YET, POLICY).units_tenths


def test_no_fbe_once_taken_or_when_not_registered() -> None:
    taken = CustomerPosition(fbe_registered=True, fbe_taken_this_month=True)

    assert price_vend(10000, DOMESTIC, taken, POLICY).fbe_units_tenths == 0
    assert price_vend(10000, DOMESTIC, NOTHING_YET, POLICY).fbe_units_tenths == 0
    assert fbe_due_tenths(taken, POLICY) == 0


def test_standalone_fbe_issue() -> None:
    issue = issue_fbe(CustomerPosition(fbe_registered=True), POLICY)

    assert issue == FbeIssue(units_tenths=500)
    assert issue.to_json_dict() == {"fbe_units_kwh": "50.0"}


@pytest.mark.parametrize(
    ("position", "policy", "code"),
    [
        (CustomerPosition(), POLICY, "fbe-not-registered"),
        (
            CustomerPosition(fbe_registered=True, fbe_taken_this_month=True),
            POLICY,
            "fbe-already-taken",
        ),
        (
            CustomerPosition(fbe_registered=True),
            dataclasses.replace(POLICY, fbe_monthly_tenths=0),
            "fbe-none",
        ),
    ],
)
def test_standalone_fbe_refused_when_not_due(
    position: CustomerPosition, policy: PricingPolicy, code: str
) -> None:
    with pytest.raises(FbeNotDueError) as info:
        issue_fbe(position, policy)

    assert info.value.code == code


# ---------------------------------------------------------------------------------------------
# Months in the utility's timezone
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2024, 1, 31, 21, 59, 59, tzinfo=UTC), "2024-01"),  # 23:59:59 in Johannesburg
        (datetime(2024, 1, 31, 22, 0, 0, tzinfo=UTC), "2024-02"),  # 00:00 on 1 February there
        (datetime(2023, 12, 31, 22, 30, tzinfo=UTC), "2024-01"),
    ],
)
def test_month_key_uses_the_utility_timezone(instant: datetime, expected: str) -> None:
    assert month_key(instant, "Africa/Johannesburg") == expected
    # The vend path's month is the same rule, not a second one.
    assert VendClock(instant, ZoneInfo("Africa/Johannesburg")).month == expected


def test_month_key_refuses_naive_instants_and_unknown_zones() -> None:
    with pytest.raises(InvalidInputError) as naive:
        month_key(datetime(2024, 1, 31, 23, 0), "Africa/Johannesburg")
    with pytest.raises(InvalidInputError) as zone:
        month_key(datetime(2024, 1, 31, tzinfo=UTC), "Mars/Olympus_Mons")

    assert naive.value.field == "instant"
    assert zone.value.field == "tz"


# ---------------------------------------------------------------------------------------------
# Formatting, parsing, describing
# ---------------------------------------------------------------------------------------------


def test_describe_tariff() -> None:
    assert describe_tariff(DOMESTIC) == (
        "DOMESTIC: 0-50 kWh @ 1.2000, 50-350 kWh @ 1.5500, >350 kWh @ 2.1000 per kWh excl. VAT"
    )
    assert describe_tariff(COMMERCIAL) == (
        "COMMERCIAL: all kWh @ 2.0000 per kWh excl. VAT; fixed charge 100.00 per month incl. VAT"
    )
    odd = TariffSteps("ODD", "", (Step(505, 10000), Step(None, 20000)))
    assert describe_tariff(odd) == "ODD: 0-50.5 kWh @ 1.0000, >50.5 kWh @ 2.0000 per kWh excl. VAT"


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@st.composite
def tariffs(draw: st.DrawFn) -> TariffSteps:
    bounds = draw(st.lists(st.integers(1, 6000), max_size=3, unique=True).map(sorted))
    prices = draw(
        st.lists(st.integers(1, 1_000_000), min_size=len(bounds) + 1, max_size=len(bounds) + 1)
    )
    uptos: list[int | None] = [*bounds, None]
    fixed = draw(st.sampled_from([0, 0, 1, 999, 10000, 50000]))
    return TariffSteps(
        "T", "drawn", tuple(Step(u, p) for u, p in zip(uptos, prices, strict=True)), fixed
    )


positions = st.builds(
    CustomerPosition,
    debt_cents=st.one_of(st.just(0), st.integers(0, 1_000_000)),
    recovery_rate_bp=st.one_of(st.sampled_from([0, 2000, 10000]), st.integers(0, 10000)),
    units_this_month_tenths=st.integers(0, 8000),
    fixed_charge_paid_this_month_cents=st.one_of(st.just(0), st.integers(0, 60000)),
    fbe_registered=st.booleans(),
    fbe_taken_this_month=st.booleans(),
)


@st.composite
def policies(draw: st.DrawFn) -> PricingPolicy:
    low = draw(st.integers(1, 1000))
    return PricingPolicy(
        vat_rate_bp=draw(st.one_of(st.sampled_from([0, 48, 1500, 6000]), st.integers(0, 3000))),
        min_vend_cents=low,
        max_vend_cents=draw(st.integers(low, 600_000)),
        fbe_monthly_tenths=draw(st.integers(0, 1000)),
    )


def oracle_cost_e5(tariff: TariffSteps, start: int, tenths: int) -> int:
    """Cost (in 1/100 000) of ``tenths`` bought from ``start``: each step's overlap x its price."""
    total, lower, end = 0, 0, start + tenths
    for step in tariff.steps:
        upper = end if step.upto_tenths is None else step.upto_tenths
        overlap = min(upper, end) - max(lower, start)
        if overlap > 0:
            total += overlap * step.price_e4
        lower = upper
    return total


def oracle_exclusive(inclusive: int, vat_bp: int) -> int:
    return floor(Fraction(inclusive * 10000, 10000 + vat_bp) + Fraction(1, 2))


def units_or_zero(
    tender: int, tariff: TariffSteps, position: CustomerPosition, policy: PricingPolicy
) -> int:
    try:
        return price_vend(tender, tariff, position, policy).units_tenths
    except VendTooSmallError:
        return 0


@PROPERTY_SETTINGS
@given(tariff=tariffs(), position=positions, policy=policies(), data=st.data())
def test_every_quote_adds_up(
    tariff: TariffSteps, position: CustomerPosition, policy: PricingPolicy, data: st.DataObject
) -> None:
    tender = data.draw(st.integers(policy.min_vend_cents, policy.max_vend_cents), label="tender")
    try:
        quote: Quote | None = price_vend(tender, tariff, position, policy)
    except VendTooSmallError as refused:
        quote = None
        energy_excl = oracle_exclusive(refused.energy_cents, policy.vat_rate_bp)
        assert oracle_cost_e5(tariff, position.units_this_month_tenths, 1) > energy_excl * 1000
        return
    assert quote is not None

    # The parts add up to the tender; each part splits into VAT-exclusive + VAT.
    assert quote.debt_recovered_cents + quote.fixed_charge_cents + quote.energy_cents == tender
    for part, vat in (
        (quote.energy_cents, quote.energy_vat_cents),
        (quote.fixed_charge_cents, quote.fixed_charge_vat_cents),
    ):
        assert part >= 0
        assert 0 <= vat <= part
        assert part - vat == oracle_exclusive(part, policy.vat_rate_bp)

    # Debt: never negative, never more than the recovery rate allows.
    assert quote.debt_recovered_cents >= 0
    assert quote.debt_remaining_cents >= 0
    assert quote.debt_recovered_cents + quote.debt_remaining_cents == position.debt_cents
    assert quote.debt_recovered_cents * 10000 <= tender * position.recovery_rate_bp
    fixed_due = max(
        0, tariff.monthly_fixed_charge_cents - position.fixed_charge_paid_this_month_cents
    )
    assert quote.fixed_charge_cents <= fixed_due

    # Units: affordable, and one more tenth would cost more than what is left.
    money_e5 = quote.energy_excl_vat_cents * 1000
    start = position.units_this_month_tenths
    assert quote.units_tenths >= 1
    assert oracle_cost_e5(tariff, start, quote.units_tenths) <= money_e5
    assert oracle_cost_e5(tariff, start, quote.units_tenths + 1) > money_e5
    assert sum(s.tenths for s in quote.steps) == quote.units_tenths
    assert all(s.tenths > 0 and s.cost_e5 == s.tenths * s.price_e4 for s in quote.steps)
    assert sum(s.cost_e5 for s in quote.steps) + quote.unspent_e5 == money_e5
    assert quote.fbe_units_tenths == fbe_due_tenths(position, policy)


@PROPERTY_SETTINGS
@given(tariff=tariffs(), position=positions, policy=policies(), data=st.data())
def test_units_never_decrease_as_the_tender_grows(
    tariff: TariffSteps, position: CustomerPosition, policy: PricingPolicy, data: st.DataObject
) -> None:
    tenders = st.integers(policy.min_vend_cents, policy.max_vend_cents)
    low, high = sorted((data.draw(tenders, label="a"), data.draw(tenders, label="b")))

    assert units_or_zero(low, tariff, position, policy) <= units_or_zero(
        high, tariff, position, policy
    )
    if low < policy.max_vend_cents:  # the next cent up never buys less
        assert units_or_zero(low, tariff, position, policy) <= units_or_zero(
            low + 1, tariff, position, policy
        )
