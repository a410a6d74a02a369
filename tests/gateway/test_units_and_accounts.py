"""Units purchase values and ConfirmCustomer by account number, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway import errors, pricing
from gateway.vend.models import VendTransaction
from gateway.vend.service import DatabaseVendingService
from gateway.vend.units import tender_for_units
from tests.conftest import TestDatabase
from tests.gateway.test_vend_flow import (
    BANK,
    Clock,
    available,
    counts,
    header,
    principal,
    simulator,
    tokens_of,
)

METER = "01234567897"  # DOMESTIC steps, no debt
DEBTOR = "04000000036"  # 500.00 debt recovered at 20 %


@pytest.fixture
def service(demo_db: TestDatabase) -> DatabaseVendingService:
    return DatabaseVendingService(demo_db.runtime, clock=Clock())


POLICY = pricing.PricingPolicy(vat_rate_bp=1500, min_vend_cents=500, max_vend_cents=500000)
FLAT = pricing.TariffSteps.flat("FLAT", "flat", 20000)  # 2.00 per kWh excl. VAT


def test_the_tender_is_the_smallest_that_buys_the_units() -> None:
    position = pricing.CustomerPosition()
    for wanted in (1, 73, 100, 673, 1000, 12345):
        tender = tender_for_units(wanted, FLAT, position, POLICY)
        assert pricing.price_vend(tender, FLAT, position, POLICY).units_tenths >= wanted
        if tender > POLICY.min_vend_cents:
            below = pricing.price_vend(tender - 1, FLAT, position, POLICY).units_tenths
            assert below < wanted


def test_too_many_units_and_bad_units_are_refused() -> None:
    with pytest.raises(errors.VendAmount) as refused:
        tender_for_units(10**7, FLAT, pricing.CustomerPosition(), POLICY)
    assert refused.value.code == "units-out-of-range"
    assert refused.value.detail["max_cents"] == 500000
    for bad in (0, -5, 10**9):
        with pytest.raises(errors.SchemaError):
            tender_for_units(bad, FLAT, pricing.CustomerPosition(), POLICY)


def test_a_units_vend_charges_the_smallest_tender_and_the_meter_credits_the_units(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    trial = service.trial_credit_vend_units(who, header(), METER, 673, "cash")
    # 100.00 buys 67.3 kWh (the worked example) with change in the last step: 99.84 is enough.
    assert trial.tender_cents == 9984
    assert tokens_of(trial, "credit") == ["0" * 20]
    before = available(demo_db, BANK)
    h = header()
    receipt = service.credit_vend_units(who, h, METER, 673, "cash")
    assert (receipt.tender_cents, receipt.units_tenths) == (9984, 673)
    assert available(demo_db, BANK) == receipt.avail_credit_cents < before
    meter = simulator(demo_db, METER)
    assert meter.accept(tokens_of(receipt, "credit")[0]).accepted
    assert meter.credit_tenths() == 673
    # A retry replays; the same msgID with other units is refused; nothing is sold twice.
    assert service.credit_vend_units(who, h, METER, 673, "cash") == receipt
    with pytest.raises(errors.DuplicateMsgID):
        service.credit_vend_units(who, h, METER, 674, "cash")
    with demo_db.sessions() as session:
        [tx] = session.scalars(select(VendTransaction)).all()
        assert (tx.tender_cents, tx.pay_type) == (9984, "cash")


def test_units_are_priced_after_debt_recovery(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    trial = service.trial_credit_vend_units(who, header(), DEBTOR, 500, "card")
    receipt = service.credit_vend_units(who, header(), DEBTOR, 500, "card")
    assert receipt.tender_cents == trial.tender_cents
    assert receipt.units_tenths >= 500
    debt = [line for line in receipt.lines if line.type == "debt"]
    assert debt and debt[0].amount_cents == receipt.tender_cents * 2000 // 10000
    # The next 50 kWh are in the dearer step: they cost more than the first 50.
    second = service.trial_credit_vend_units(who, header(), DEBTOR, 500, "card")
    assert second.tender_cents > receipt.tender_cents


def test_a_refused_units_vend_changes_nothing(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    before = (available(demo_db, BANK), counts(demo_db))
    with pytest.raises(errors.VendAmount):
        service.credit_vend_units(who, header(), METER, 10**6, "cash")
    with pytest.raises(errors.BlockedMeter):
        service.credit_vend_units(who, header(), "04000000010", 100, "cash")
    assert (available(demo_db, BANK), counts(demo_db)) == before


def test_confirm_customer_by_account(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    [info] = service.confirm_customer_by_account(who, header(), "ACC-0004")
    assert (info.meter.meter_number, info.customer_name, info.arrears_cents) == (
        DEBTOR,
        "Pieter van Wyk",
        50000,
    )
    assert info == service.confirm_customer(who, header(), DEBTOR)
    with pytest.raises(errors.ConfirmCustomer) as unknown:
        service.confirm_customer_by_account(who, header(), "ACC-9999")
    assert unknown.value.fault_type == "ConfirmCustomerEx"
    assert unknown.value.code == "unknown-account"
    with pytest.raises(errors.SchemaError):
        service.confirm_customer_by_account(who, header(), "")


def test_last_response_advice_hands_back_a_units_vend(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who, h = principal(demo_db, BANK), header()
    receipt = service.credit_vend_units(who, h, METER, 100, "cash")
    assert service.last_response_advice(who, header(), h.msg_id) == receipt
