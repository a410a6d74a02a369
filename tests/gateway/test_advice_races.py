"""Advice and vends racing each other (issue 12, defects 1, 2, 3, 8 and the per-meter contention
of 10), through DatabaseVendingService on both databases with real threads, each with its own
connection. PostgreSQL is where the races show: SQLite serialises every writer."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from gateway import errors
from gateway.models import Customer
from gateway.vend import flow
from gateway.vend.models import MeterMonth, VendRequest, VendToken, VendTransaction
from gateway.vend.service import DatabaseVendingService
from gateway.vend.types import AdviceResult, MsgID, RequestHeader, VendReceipt
from reconciliation import runs
from reconciliation.models import ReconBreak, ReconRun
from reconciliation.report_file import identify
from sts import MeterSimulator
from tests.conftest import TestDatabase
from tests.gateway.test_vend_flow import (
    BANK,
    SHOP,
    Clock,
    available,
    counts,
    header,
    principal,
    simulator,
    tokens_of,
)
from tests.support.reconciliation import Clock as RClock
from tests.support.reconciliation import Utility, line, local, write_report
from vendor_accounts.ledger import check_invariants

T = TypeVar("T")
DEBTOR = "04000000036"  # Pieter van Wyk: 500.00 debt, 20 % of each tender recovers it
METER = "01234567897"  # DOMESTIC, no debt
TWIN = "04000000051"  # DOMESTIC, no debt, another supply group: prices like METER


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(demo_db: TestDatabase, clock: Clock) -> DatabaseVendingService:
    return DatabaseVendingService(demo_db.runtime, clock=clock)


def at_once(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run the calls in threads released together; each one's result or exception, in order."""
    results: list[T | BaseException] = [RuntimeError("did not run")] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # returned to the test, which asserts on it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def debt(db: TestDatabase, account_no: str = "ACC-0004") -> int:
    with db.sessions() as session:
        value = session.scalar(select(Customer.debt_cents).where(Customer.account_no == account_no))
        assert value is not None
        return value


def month_units(db: TestDatabase) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.coalesce(func.sum(MeterMonth.units_tenths), 0))) or 0


def status_of(db: TestDatabase, receipt_no: str) -> str:
    with db.sessions() as session:
        value = session.scalar(
            select(VendTransaction.status).where(VendTransaction.receipt_no == receipt_no)
        )
        assert value is not None
        return value


# -- 1. concurrent reversals of one vend ---------------------------------------------------------


def test_concurrent_reversals_restore_debt_and_month_once(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    first = service.credit_vend(who, header(), DEBTOR, 10000, "cash")
    float_before_second = available(demo_db, BANK)
    h = header()
    second = service.credit_vend(who, h, DEBTOR, 10000, "cash")
    assert debt(demo_db) == 50000 - 2000 - 2000

    results = at_once([lambda: service.reversal_advice(who, header(), h.msg_id)] * 10)

    assert [r for r in results if not isinstance(r, AdviceResult)] == []
    assert all(isinstance(r, AdviceResult) and r.reversed for r in results)
    assert debt(demo_db) == 50000 - 2000  # the second vend's recovery given back once
    assert month_units(demo_db) == first.units_tenths
    assert available(demo_db, BANK) == float_before_second
    assert status_of(demo_db, second.receipt_no) == "reversed"
    with demo_db.sessions() as session:
        assert check_invariants(session) == []


# -- 2. reversal and confirmation together ---------------------------------------------------------


def test_reversal_and_confirmation_together_never_both_succeed(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    vends = [
        (h, service.credit_vend(who, h, METER, 1000, "cash")) for h in (header() for _ in range(20))
    ]
    for h, receipt in vends:
        reversal, confirmation = at_once(
            [
                lambda h=h: service.reversal_advice(who, header(), h.msg_id),
                lambda h=h: service.confirmation_advice(who, header(), h.msg_id),
            ]
        )
        won = [r for r in (reversal, confirmation) if isinstance(r, AdviceResult)]
        assert len(won) == 1, (reversal, confirmation)
        if isinstance(reversal, AdviceResult):
            assert isinstance(confirmation, errors.ConfirmationError)
            assert confirmation.code == "already-reversed"
            assert status_of(demo_db, receipt.receipt_no) == "reversed"
        else:
            assert isinstance(reversal, errors.ReversalError)
            assert reversal.code == "already-confirmed"
            assert status_of(demo_db, receipt.receipt_no) == "confirmed"
    with demo_db.sessions() as session:
        assert check_invariants(session) == []


# -- 3. advice about a vend still in flight -------------------------------------------------


class HeldVend:
    """A CreditVend in a thread, paused inside its transaction (after the msgID claim, before
    its tokens) until `release()`."""

    def __init__(
        self,
        service: DatabaseVendingService,
        who: Any,
        meter: str,
        amount: int,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.header = header()
        self.in_flight = threading.Event()
        self.go = threading.Event()
        self.result: VendReceipt | BaseException | None = None
        original = flow.issue_tokens

        def paused(*args: Any, **kwargs: Any) -> flow.IssuedTokens:
            if threading.current_thread() is self.thread:
                self.in_flight.set()
                assert self.go.wait(30)
            return original(*args, **kwargs)

        monkeypatch.setattr(flow, "issue_tokens", paused)

        def run() -> None:
            try:
                self.result = service.credit_vend(who, self.header, meter, amount, "cash")
            except BaseException as exc:  # asserted by the test
                self.result = exc

        self.thread = threading.Thread(target=run)
        self.thread.start()
        assert self.in_flight.wait(30)

    def release(self) -> VendReceipt:
        self.go.set()
        self.thread.join(30)
        assert isinstance(self.result, VendReceipt), self.result
        return self.result


class Background:
    def __init__(self, call: Callable[[], Any]) -> None:
        self.result: Any = None

        def run() -> None:
            try:
                self.result = call()
            except BaseException as exc:  # asserted by the test
                self.result = exc

        self.thread = threading.Thread(target=run)
        self.thread.start()

    def join(self) -> Any:
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self.result


def test_last_response_advice_about_an_in_flight_vend_answers_its_receipt(
    demo_db: TestDatabase, service: DatabaseVendingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = principal(demo_db, BANK)
    vend = HeldVend(service, who, METER, 2500, monkeypatch)
    advice = Background(lambda: service.last_response_advice(who, header(), vend.header.msg_id))
    advice.thread.join(0.5)
    assert advice.thread.is_alive(), f"answered while the vend was in flight: {advice.result}"
    receipt = vend.release()
    assert advice.join() == receipt
    assert counts(demo_db)[0] == 1


def test_reversal_advice_about_an_in_flight_vend_reverses_it(
    demo_db: TestDatabase, service: DatabaseVendingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = principal(demo_db, BANK)
    before = available(demo_db, BANK)
    vend = HeldVend(service, who, METER, 2500, monkeypatch)
    advice = Background(lambda: service.reversal_advice(who, header(), vend.header.msg_id))
    advice.thread.join(0.5)
    assert advice.thread.is_alive(), f"answered while the vend was in flight: {advice.result}"
    receipt = vend.release()
    result = advice.join()
    assert isinstance(result, AdviceResult) and result.reversed, result
    assert result.receipt_no == receipt.receipt_no
    assert status_of(demo_db, receipt.receipt_no) == "reversed"
    assert available(demo_db, BANK) == before
    assert month_units(demo_db) == 0


def test_confirmation_advice_about_an_in_flight_vend_confirms_it(
    demo_db: TestDatabase, service: DatabaseVendingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = principal(demo_db, BANK)
    vend = HeldVend(service, who, METER, 2500, monkeypatch)
    advice = Background(lambda: service.confirmation_advice(who, header(), vend.header.msg_id))
    advice.thread.join(0.5)
    assert advice.thread.is_alive(), f"answered while the vend was in flight: {advice.result}"
    receipt = vend.release()
    result = advice.join()
    assert isinstance(result, AdviceResult) and result.confirmed, result
    assert status_of(demo_db, receipt.receipt_no) == "confirmed"


@pytest.mark.parametrize("advice", ["last_response", "reversal", "confirmation"])
def test_a_msg_id_declared_not_processed_refuses_the_late_original(
    demo_db: TestDatabase, service: DatabaseVendingService, advice: str
) -> None:
    who = principal(demo_db, BANK)
    never_sent = MsgID("20261120103000", 777_000_001)
    ask: dict[str, tuple[Callable[[], Any], type[errors.GatewayError]]] = {
        "last_response": (
            lambda: service.last_response_advice(who, header(), never_sent),
            errors.LastResponseError,
        ),
        "reversal": (
            lambda: service.reversal_advice(who, header(), never_sent),
            errors.ReversalError,
        ),
        "confirmation": (
            lambda: service.confirmation_advice(who, header(), never_sent),
            errors.ConfirmationError,
        ),
    }
    call, not_processed = ask[advice]
    with pytest.raises(not_processed):
        call()
    before = (available(demo_db, BANK), counts(demo_db))
    late = RequestHeader(BANK, who.terminal_id, never_sent)
    for _ in range(2):  # and its retry
        with pytest.raises(errors.DuplicateMsgID) as refused:
            service.credit_vend(who, late, METER, 2500, "cash")
        assert refused.value.code == "msg-id-declared-not-processed"
    assert (available(demo_db, BANK), counts(demo_db)) == before
    # The answer stays true: asked again, every advice still says not processed.
    for other, (again, error) in ask.items():
        with pytest.raises(error) as still:
            again()
        if other == "reversal":
            assert still.value.code == "unknown-transaction"
    with demo_db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(VendTransaction)) == 0
        assert session.scalar(select(func.count()).select_from(VendRequest)) == 1


def test_advice_and_original_sent_together_agree(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    """Whichever the database took first, the bank is never told "not processed" about a vend
    that happened."""
    who = principal(demo_db, BANK)
    for _ in range(10):
        h = header()
        vend, advice = at_once(
            [
                lambda h=h: service.credit_vend(who, h, METER, 1000, "cash"),
                lambda h=h: service.last_response_advice(who, header(), h.msg_id),
            ]
        )
        if isinstance(vend, VendReceipt):
            assert advice == vend
        else:
            assert isinstance(vend, errors.DuplicateMsgID), vend
            assert isinstance(advice, errors.LastResponseError), advice
        with demo_db.sessions() as session:
            stored = session.scalar(
                select(func.count())
                .select_from(VendTransaction)
                .where(VendTransaction.msg_id == h.msg_id.key)
            )
        assert stored == (1 if isinstance(vend, VendReceipt) else 0)


# -- 8. reprint across vendors -------------------------------------------------------------------


def test_reprint_shows_a_vendor_only_its_own_vends(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    bank, shop = principal(demo_db, BANK), principal(demo_db, SHOP)
    bank_receipt = service.credit_vend(bank, header(), METER, 2500, "cash")
    with pytest.raises(errors.BusinessRuleError) as refused:
        service.reprint(shop, header(SHOP), METER, None)
    assert refused.value.code == "nothing-to-reprint"
    shop_receipt = service.credit_vend(shop, header(SHOP), METER, 1000, "cash")
    service.credit_vend(bank, header(), METER, 2600, "cash")
    assert service.reprint(shop, header(SHOP), METER, None) == (shop_receipt,)
    bank_last = service.reprint(bank, header(), METER, None)
    assert [r.receipt_no for r in bank_last][1:] == [bank_receipt.receipt_no]
    assert shop_receipt.receipt_no not in {r.receipt_no for r in bank_last}


# -- 10. twenty vends on one meter at once --------------------------------------------------------


def test_twenty_concurrent_vends_on_one_meter_all_succeed_priced_in_turn(
    demo_db: TestDatabase, service: DatabaseVendingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = principal(demo_db, BANK)
    priced = []
    original = flow.price

    def counted(*args: Any, **kwargs: Any) -> flow.PricedVend:
        priced.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(flow, "price", counted)
    results = at_once([lambda: service.credit_vend(who, header(), METER, 1000, "cash")] * 20)
    assert [r for r in results if not isinstance(r, VendReceipt)] == []
    assert len(priced) == 20  # each vend priced once: they queued, none lost a race
    with demo_db.sessions() as session:
        stored = session.execute(
            select(VendTransaction.receipt_no, VendToken.tid)
            .join(VendToken)
            .order_by(VendTransaction.id)
        ).all()
    tids = [tid for _, tid in stored]
    assert all(a < b for a, b in itertools.pairwise(tids)) and len(tids) == 20
    # In the order they were made (a receipt number is the claim's, which may queue after
    # another's for the meter).
    by_receipt = {r.receipt_no: r for r in results if isinstance(r, VendReceipt)}
    receipts = [by_receipt[receipt_no] for receipt_no, _ in stored]
    meter: MeterSimulator = simulator(demo_db, METER)
    for receipt in receipts:
        assert meter.accept(tokens_of(receipt, "credit")[0]).accepted
    # Each vend was priced from the figures its predecessor left: the same units, in the same
    # order, as twenty vends one after another on a meter of the same tariff.
    in_turn = [
        service.credit_vend(who, header(), TWIN, 1000, "cash").units_tenths for _ in range(20)
    ]
    assert [r.units_tenths for r in receipts] == in_turn
    assert meter.credit_tenths() == sum(in_turn)


def test_concurrent_vends_for_a_debtor_recover_from_the_current_debt(
    demo_db: TestDatabase, service: DatabaseVendingService
) -> None:
    who = principal(demo_db, BANK)
    results = at_once([lambda: service.credit_vend(who, header(), DEBTOR, 1000, "cash")] * 10)
    receipts = [r for r in results if isinstance(r, VendReceipt)]
    assert len(receipts) == 10, results
    recovered = sum(line.amount_cents for r in receipts for line in r.lines if line.type == "debt")
    assert recovered == 10 * 200
    assert debt(demo_db) == 50000 - recovered


def test_a_msg_id_declared_not_processed_is_no_vend_to_reconciliation(
    demo_db: TestDatabase, tmp_path: Path
) -> None:
    """The tombstone is a remembered refusal, never a sale: the vendor's line for it is missing
    at the gateway, and the gateway's totals count only the real vend."""
    ids = {c: principal(demo_db, c).vendor_id for c in (BANK, SHOP)}
    u = Utility(demo_db, RClock(), ids)
    sold, receipt = u.vend(local(2026, 11, 20, 9, 0), 2500)
    u.clock.now = local(2026, 11, 20, 9, 5).astimezone(UTC)
    lost = u.header(BANK, local(2026, 11, 20, 9, 5)).msg_id
    with pytest.raises(errors.LastResponseError):
        u.service.last_response_advice(u.who(BANK), u.header(BANK, local(2026, 11, 20, 9, 6)), lost)
    path = write_report(
        tmp_path,
        BANK,
        "20261120",
        [
            line(sold, 2500, local(2026, 11, 20, 9, 0), receipt=receipt.receipt_no),
            line(lost.key, 2500, local(2026, 11, 20, 9, 5)),
        ],
    )
    outcome = runs.reconcile(
        demo_db.runtime, identify(path), actor="test", now=local(2026, 11, 21, 2, 0), progress=False
    )
    with demo_db.sessions() as session:
        found = {
            (b.category, b.msg_id): b.note
            for b in session.scalars(
                select(ReconBreak).where(ReconBreak.last_run_id == outcome.run_id)
            )
        }
        run = session.get(ReconRun, outcome.run_id)
    assert list(found) == [("MISSING_AT_GATEWAY", lost.key)]
    assert "no tokens were issued" in found[("MISSING_AT_GATEWAY", lost.key)]
    assert run is not None and (run.gateway_count, run.gateway_total_cents) == (1, 2500)
