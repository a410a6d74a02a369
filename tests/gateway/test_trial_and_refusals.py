"""TrialCreditVend asks the float the debit's own question (status, floor, daily cap), and a
refused debit reaches the client with the float's figures."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from gateway import errors
from gateway.vend.service import DatabaseVendingService
from tests.conftest import TestDatabase
from tests.gateway.test_vend_flow import BANK, SHOP, Clock, header, principal
from vendor_accounts.models import FloatAccount, Vendor

METER = "01234567897"


@pytest.fixture
def service(demo_db: TestDatabase) -> DatabaseVendingService:
    return DatabaseVendingService(demo_db.runtime, clock=Clock())


def refusals(
    service: DatabaseVendingService, client_id: str, amount_cents: int
) -> tuple[errors.GatewayError, errors.GatewayError]:
    who = principal_of[client_id]
    with pytest.raises(errors.GatewayError) as trial:
        service.trial_credit_vend(who, header(client_id), METER, amount_cents, "cash")
    with pytest.raises(errors.GatewayError) as vend:
        service.credit_vend(who, header(client_id), METER, amount_cents, "cash")
    return trial.value, vend.value


principal_of: dict[str, object] = {}


@pytest.fixture(autouse=True)
def _principals(demo_db: TestDatabase) -> None:
    principal_of.update({c: principal(demo_db, c) for c in (BANK, SHOP)})


def same(trial: errors.GatewayError, vend: errors.GatewayError) -> tuple[object, ...]:
    assert (type(trial), trial.code, trial.message, trial.detail) == (
        type(vend),
        vend.code,
        vend.message,
        vend.detail,
    )
    return type(vend), vend.code


def test_a_vendor_at_its_daily_cap_is_refused_alike_by_trial_and_vend(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal_of[BANK]
    service.credit_vend(who, header(BANK), METER, 10000, "cash")
    with demo_db.sessions() as session, session.begin():
        session.execute(
            update(FloatAccount)
            .where(FloatAccount.vendor_id == who.vendor_id)
            .values(daily_cap_cents=15000)
        )
    service.trial_credit_vend(who, header(BANK), METER, 5000, "cash")  # exactly the cap: yes
    trial, vend = refusals(service, BANK, 5001)
    assert same(trial, vend) == (errors.VendorCredit, "daily-cap-exceeded")
    assert vend.fault_type == "VendorCreditEx"
    assert vend.detail["daily_cap_cents"] == 15000 and vend.detail["used_today_cents"] == 10000
    assert "cap 150.00" in vend.message


def test_a_suspended_vendor_is_refused_alike_by_trial_and_vend(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    with demo_db.sessions() as session, session.begin():
        session.execute(update(Vendor).where(Vendor.client_id == BANK).values(status="suspended"))
    trial, vend = refusals(service, BANK, 2000)
    assert same(trial, vend) == (errors.VendorCredit, "vendor-suspended")


def test_below_the_floor_both_say_what_is_available_with_the_floor_and_cap(
    service: DatabaseVendingService,
) -> None:
    trial, vend = refusals(service, SHOP, 10000)  # the shop's float is 50.00, floor 0
    assert same(trial, vend) == (errors.VendorCredit, "insufficient-float")
    assert (
        vend.detail["available_cents"],
        vend.detail["floor_cents"],
        vend.detail["daily_cap_cents"],
    ) == (5000, 0, None)
    assert "available 50.00, floor 0.00, no daily cap" in vend.message


def test_a_vend_amount_refusal_keeps_min_and_max(service: DatabaseVendingService) -> None:
    trial, vend = refusals(service, BANK, 499)
    assert same(trial, vend) == (errors.VendAmount, "vend-amount")
    assert (vend.detail["min_cents"], vend.detail["max_cents"]) == (500, 500000)


def test_fbe_not_due_is_refused_with_a_kebab_code(service: DatabaseVendingService) -> None:
    with pytest.raises(errors.FBEError) as refused:
        service.fbe_vend(principal_of[BANK], header(BANK), METER)  # not registered for FBE
    assert refused.value.code == "fbe-not-registered"
