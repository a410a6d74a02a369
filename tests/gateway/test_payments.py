"""Account payments (PayAccount): the debt or the month's service charge goes down, the float is
debited under a vend's rules, the ledger posts it, and nothing is doubled or lost under races."""

from __future__ import annotations

import threading
from dataclasses import replace
from functools import partial

import pytest
from sqlalchemy import func, select

from gateway import errors
from gateway.models import Customer
from gateway.vend.models import VendTransaction
from gateway.vend.service import DatabaseVendingService
from tests.conftest import TestDatabase
from tests.gateway.test_vend_flow import (
    BANK,
    BANK_COMMISSION_BP,
    SHOP,
    Clock,
    available,
    header,
    principal,
)
from tests.support.vendor_accounts import entry_legs
from vendgw.invariants import check_vend_records
from vendor_accounts.ledger import check_invariants
from vendor_accounts.models import JournalEntry

DEBTOR, DEBTOR_METER = "ACC-0004", "04000000036"  # 500.00 of debt, 20 % recovered per vend
COMMERCIAL, COMMERCIAL_METER = "ACC-0005", "04000000044"  # fixed charge 100.00 a month
NO_DEBT = "ACC-0001"


@pytest.fixture
def service(demo_db: TestDatabase) -> DatabaseVendingService:
    return DatabaseVendingService(demo_db.runtime, clock=Clock())


def debt(db: TestDatabase, account_no: str) -> int:
    with db.sessions() as session:
        return session.scalar(select(Customer.debt_cents).where(Customer.account_no == account_no))


def payments(db: TestDatabase) -> int:
    with db.sessions() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(VendTransaction)
                .where(VendTransaction.kind == "payment")
            )
            or 0
        )


def entries(db: TestDatabase) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(JournalEntry)) or 0


def books_balance(db: TestDatabase) -> None:
    """The ledger's invariants and the vend records' (meter months, tokens) both hold."""
    with db.sessions() as session:
        assert check_invariants(session) == []
        assert check_vend_records(session) == []


def test_a_debt_payment_lowers_the_debt_debits_the_float_and_posts_the_ledger(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who, h = principal(demo_db, BANK), header()
    before = available(demo_db, BANK)
    paid = service.pay_account(who, h, DEBTOR, 20000, "cash", "debt")
    commission = 20000 * BANK_COMMISSION_BP // 10000
    assert (paid.debt_before_cents, paid.debt_after_cents) == (50000, 30000)
    assert (paid.customer_name, paid.purpose, paid.amount_cents) == (
        "Pieter van Wyk",
        "debt",
        20000,
    )
    assert paid.avail_credit_cents == before - 20000 + commission == available(demo_db, BANK)
    assert debt(demo_db, DEBTOR) == 30000
    books_balance(demo_db)
    # The ledger: the float against debt_recovered (less the vendor's commission).
    with demo_db.sessions() as session:
        tx = session.scalar(select(VendTransaction).where(VendTransaction.kind == "payment"))
        assert tx is not None and tx.journal_entry_id is not None
        assert (tx.debt_recovered_cents, tx.tender_cents, tx.meter_number) == (
            20000,
            20000,
            DEBTOR_METER,
        )
        assert entry_legs(session, tx.journal_entry_id) == {
            "vendor_float": -(20000 - commission),
            "debt_recovered": 20000,
            "commission_expense": -commission,
        }
    # The vendor's statement shows it as a payment.
    statement = service.vendor_statement(who, header(), 5)
    assert statement.movements[0].kind == "payment"
    assert statement.movements[0].amount_cents == -(20000 - commission)
    # A retry replays; the same msgID for another payment is refused; nothing moves twice.
    assert service.pay_account(who, h, DEBTOR, 20000, "cash", "debt") == paid
    with pytest.raises(errors.DuplicateMsgID):
        service.pay_account(who, h, DEBTOR, 20001, "cash", "debt")
    assert (debt(demo_db, DEBTOR), payments(demo_db)) == (30000, 1)
    # The next vend recovers from what is left.
    receipt = service.credit_vend(who, header(), DEBTOR_METER, 10000, "cash")
    [line] = [line for line in receipt.lines if line.type == "debt"]
    assert line.amount_cents == 2000 and "280.00 outstanding" in line.description


def state(db: TestDatabase) -> tuple[int, ...]:
    return (
        available(db, BANK),
        available(db, SHOP),
        debt(db, DEBTOR),
        payments(db),
        entries(db),
    )


@pytest.mark.parametrize(
    ("client_id", "account", "amount", "purpose", "error", "code"),
    [
        (BANK, DEBTOR, 50001, "debt", errors.Debt, "debt-overpaid"),
        (BANK, NO_DEBT, 100, "debt", errors.Debt, "no-debt"),
        (BANK, "ACC-9999", 100, "debt", errors.ConfirmCustomer, "unknown-account"),
        (BANK, NO_DEBT, 100, "service_charge", errors.ServiceCharge, "no-service-charge"),
        (
            BANK,
            COMMERCIAL,
            10001,
            "service_charge",
            errors.ServiceCharge,
            "service-charge-overpaid",
        ),
        (SHOP, DEBTOR, 6000, "debt", errors.VendorCredit, "insufficient-float"),  # float 50.00
        (BANK, DEBTOR, 0, "debt", errors.SchemaError, "amount"),
        (BANK, DEBTOR, 100, "tip", errors.SchemaError, "payment-purpose"),
    ],
)
def test_refused_payments_are_typed_remembered_and_change_nothing(
    demo_db: TestDatabase,
    service: DatabaseVendingService,
    client_id: str,
    account: str,
    amount: int,
    purpose: str,
    error: type[errors.GatewayError],
    code: str,
) -> None:
    who, h = principal(demo_db, client_id), header(client_id)
    before = state(demo_db)
    with pytest.raises(error) as refused:
        service.pay_account(who, h, account, amount, "cash", purpose)
    assert refused.value.code == code
    assert state(demo_db) == before
    books_balance(demo_db)


def test_a_refusal_is_remembered_for_its_msg_id(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who, h = principal(demo_db, BANK), header()
    with pytest.raises(errors.Debt):
        service.pay_account(who, h, NO_DEBT, 100, "cash", "debt")
    with pytest.raises(errors.Debt):  # the same msgID stays refused
        service.pay_account(who, h, NO_DEBT, 100, "cash", "debt")


def test_a_service_charge_payment_is_the_month_fixed_charge_paid_in_advance(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    paid = service.pay_account(who, header(), COMMERCIAL, 4000, "card", "service_charge")
    assert paid.purpose == "service_charge" and paid.debt_after_cents == 0
    receipt = service.credit_vend(who, header(), COMMERCIAL_METER, 10000, "cash")
    [fixed] = [line for line in receipt.lines if line.type == "fixed_charge"]
    assert fixed.amount_cents == 6000  # what was left of the month's 100.00
    with pytest.raises(errors.ServiceCharge) as refused:
        service.pay_account(who, header(), COMMERCIAL, 100, "card", "service_charge")
    assert refused.value.code == "no-service-charge"
    with demo_db.sessions() as session:
        tx = session.scalar(select(VendTransaction).where(VendTransaction.kind == "payment"))
        assert tx is not None
        assert (tx.fixed_charge_cents, tx.fixed_charge_vat_cents) == (4000, 522)  # VAT 15 %
        legs = entry_legs(session, tx.journal_entry_id)
        assert (legs["fixed_charge_revenue"], legs["vat_payable"]) == (3478, 522)
    books_balance(demo_db)


def test_a_reversed_payment_gives_back_the_debt_and_the_float(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who, h = principal(demo_db, BANK), header()
    before = available(demo_db, BANK)
    service.pay_account(who, h, DEBTOR, 10000, "cash", "debt")
    result = service.reversal_advice(who, header(), h.msg_id)
    assert result.reversed and result.avail_credit_cents == before == available(demo_db, BANK)
    assert debt(demo_db, DEBTOR) == 50000
    books_balance(demo_db)


def run_together(*calls: object) -> list[object]:
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def runner(i: int, call: object) -> None:
        barrier.wait()
        try:
            outcomes[i] = call()  # type: ignore[operator]
        except errors.GatewayError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=runner, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_two_payments_with_one_msg_id_on_two_threads_post_once(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who, h = principal(demo_db, BANK), header()
    before = entries(demo_db)
    first, second = run_together(
        lambda: service.pay_account(who, h, DEBTOR, 15000, "cash", "debt"),
        lambda: service.pay_account(who, h, DEBTOR, 15000, "cash", "debt"),
    )
    assert first == second and not isinstance(first, Exception)
    assert (debt(demo_db, DEBTOR), payments(demo_db), entries(demo_db)) == (35000, 1, before + 1)
    books_balance(demo_db)


def test_a_payment_racing_a_vend_on_the_same_account_keeps_debt_and_float_exact(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    for _ in range(4):
        outcomes = run_together(
            partial(service.pay_account, who, header(), DEBTOR, 5000, "cash", "debt"),
            partial(service.credit_vend, who, header(), DEBTOR_METER, 10000, "cash"),
            partial(service.pay_account, who, header(), DEBTOR, 5000, "cash", "debt"),
        )
        assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    with demo_db.sessions() as session:
        taken = session.scalar(select(func.sum(VendTransaction.debt_recovered_cents))) or 0
        tenders = session.scalar(select(func.sum(VendTransaction.tender_cents))) or 0
    assert debt(demo_db, DEBTOR) == 50000 - taken
    assert taken == 8 * 5000 + 4 * 2000  # each vend recovered its 20 % of 100.00
    assert tenders == 8 * 5000 + 4 * 10000
    books_balance(demo_db)


def test_payments_count_in_the_shift(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    service.start_batch(who, header(), "shift")
    service.pay_account(who, replace(header(), operator="ann"), DEBTOR, 3000, "cash", "debt")
    service.pay_account(who, replace(header(), operator="ann"), DEBTOR, 2000, "cash", "debt")
    report = service.total_batch(who, header(), "shift")
    assert [
        (x.tx_type, x.operator, x.pay_type, x.count, x.amount_cents) for x in report.totals
    ] == [("payment", "ann", "cash", 2, 5000)]


def test_last_response_advice_about_a_payment_says_it_was_no_vend(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who, h = principal(demo_db, BANK), header()
    service.pay_account(who, h, DEBTOR, 1000, "cash", "debt")
    with pytest.raises(errors.LastResponseError) as refused:
        service.last_response_advice(who, header(), h.msg_id)
    assert refused.value.code == "not-a-vend"
